// Token files: tokenized training data in llm.c's format.
//
// The same files llm.c's data scripts write (tinyshakespeare, fineweb shards)
// load here unchanged. Layout, all little endian:
//
//   header  256 x int32     [0] magic 20240520
//                           [1] version 1
//                           [2] number of tokens N (>= 0)
//                           [3..255] zero; ignored when reading
//   body    N x uint16      token ids
//
// so a well-formed file is exactly 1024 + 2N bytes long. The reader checks that
// exactly, rather than trusting the header, because a short file means an
// interrupted download or copy and a long one means the header was written by
// something else; either way training on it would be silently wrong.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "loom/status.h"

namespace loom::trainer {

inline constexpr int32_t kTokenFileMagic = 20240520;
inline constexpr int32_t kTokenFileVersion = 1;
inline constexpr size_t kTokenFileHeaderInts = 256;
inline constexpr size_t kTokenFileHeaderBytes = kTokenFileHeaderInts * sizeof(int32_t);

// What the caller needs from a token file beyond it being well formed.
struct TokenFileRequirements {
  // Fewest tokens the caller can use; one training sequence of T positions
  // needs T + 1 (inputs plus the shifted targets). A file with zero tokens is
  // refused whatever this says.
  uint64_t minTokens = 1;
  // The model's vocabulary size: every token id must be below it.
  uint32_t vocabSize = 65536;
};

// Reads all tokens of `path` into memory. Each way a file can be wrong is its
// own error, naming the path and the offending value: cannot open; shorter than
// the header; wrong magic (found and expected); unsupported version; token
// count negative, truncated body or extra bytes (declared vs actual size);
// fewer tokens than required; and "vocabulary mismatch" for the first token id
// >= vocabSize (its value and position).
Result<std::vector<uint16_t>> readTokenFile(const std::string& path,
                                            const TokenFileRequirements& requirements);

// Writes `tokens` in the format above, atomically (see writeFileAtomically).
// At most INT32_MAX tokens, the largest count the header can hold.
Status writeTokenFile(const std::string& path, std::span<const uint16_t> tokens);

}  // namespace loom::trainer
