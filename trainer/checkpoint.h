// Training checkpoints: one self-checking file per saved step, written so that
// a crash never leaves a half-written file under a checkpoint's name, and read
// so that a damaged file is refused with the reason and the previous one used.
//
// Files are DIR/ckpt-<step, at least 8 digits>.bin (ckpt-00000020.bin). One
// process writes them (rank 0 in data-parallel training: every rank holds the
// same full parameters and optimizer state).
//
// Format version 1, all integers little endian:
//
//   header    8 bytes   magic "LOOMCKPT"
//             u32       format version (1)
//             u32       number of sections
//             u64       total file length in bytes, checksum included
//   sections  each:     u32 name length (1..64), name (ASCII)
//                       u32 kind: 1 named integers, 2 uint64 array, 3 float32 array
//                       u64 payload length in bytes, then the payload:
//                         named integers: u32 count, then per entry
//                                         u32 name length (1..255), name, i64 value
//                         uint64 array:   the values (payload length / 8 of them)
//                         float32 array:  IEEE-754 bits (payload length / 4 of them)
//   trailer   u32       CRC-32C of every byte before it
//
// Sections written: "config" (named integers: the model shape), "step" and
// "data_position" (one uint64 each), "rng_state" (uint64 array), "parameters",
// "adam_m", "adam_v" (float32 arrays of equal length: the full, unsharded
// parameters and AdamW moments) and "extra" (named integers). Readers skip
// sections they do not know, so later versions can add optional sections
// without bumping the format version; a required one missing is an error.
//
// What the reader checks, in order, each failure its own message: at least
// header + trailer long; magic (shows the bytes found); version; total length
// against the real size ("truncated" / "extra bytes", so a cut-off copy is told
// apart from corruption); the checksum (stored and computed values); then every
// length and kind while parsing sections, so even a file with a valid checksum
// but inconsistent contents is refused rather than read out of bounds.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "loom/status.h"

namespace loom::trainer {

inline constexpr char kCheckpointMagic[8] = {'L', 'O', 'O', 'M', 'C', 'K', 'P', 'T'};
inline constexpr uint32_t kCheckpointFormatVersion = 1;

// Integer settings by name, e.g. {"n_layer", 2}, {"channels", 64}.
using NamedIntegers = std::map<std::string, int64_t>;

struct TrainingCheckpoint {
  // The model's shape. A resume compares it with the run's own config
  // (checkModelConfig) and refuses to load parameters of another shape.
  NamedIntegers modelConfig;
  uint64_t step = 0;          // optimizer steps completed
  uint64_t dataPosition = 0;  // BatchLoader::position() to resume from
  std::vector<uint64_t> rngState;  // e.g. Xoshiro256::state()
  std::vector<float> parameters;
  std::vector<float> adamFirstMoment;   // same length as parameters
  std::vector<float> adamSecondMoment;  // same length as parameters
  NamedIntegers extra;  // anything else worth restoring (e.g. tokens seen, best loss in micro-units)
};

// "ckpt-00000020.bin": the step zero-padded to 8 digits (more digits past 99,999,999).
std::string checkpointFileName(uint64_t step);

// The file's bytes. Refuses moments whose length differs from the parameters'
// and names that are empty or longer than 255 bytes.
Result<std::vector<uint8_t>> encodeCheckpoint(const TrainingCheckpoint& checkpoint);
// The inverse of encodeCheckpoint; bit-exact for every float, NaNs included.
Result<TrainingCheckpoint> decodeCheckpoint(std::span<const uint8_t> bytes);

// OK when both configs have the same names and values; otherwise an error
// naming every field that differs with both values, or that only one side has.
Status checkModelConfig(const NamedIntegers& checkpointConfig, const NamedIntegers& runConfig);

struct CheckpointSaveOptions {
  // After saving, keep only this many checkpoints: the one just written and
  // the newest older ones. Files with a higher step than the one written
  // (left by a run that was later resumed from an earlier checkpoint) are
  // never deleted here. 0 keeps everything.
  size_t keepLast = 0;
};

// Writes DIR/ckpt-<step>.bin atomically (see writeFileAtomically), creating
// DIR if needed; returns the path written.
Result<std::string> saveCheckpoint(const std::string& directory, const TrainingCheckpoint& checkpoint,
                                   const CheckpointSaveOptions& options = {});
// Reads and verifies one checkpoint file; errors start with its path.
Result<TrainingCheckpoint> loadCheckpoint(const std::string& path);

struct CheckpointFile {
  uint64_t step = 0;
  std::string path;
};
// The checkpoint files in `directory` (names as checkpointFileName makes
// them; *.tmp leftovers are not listed), newest step first. A missing
// directory is StatusCode::kUnavailable.
Result<std::vector<CheckpointFile>> listCheckpoints(const std::string& directory);

struct LoadedCheckpoint {
  TrainingCheckpoint checkpoint;
  std::string path;
  // One line per newer checkpoint that could not be used, e.g.
  // "ckpt-00000020.bin: checksum mismatch (stored 0x1a2b3c4d, computed 0x5e6f7a8b)".
  std::vector<std::string> rejected;
  // The rejections and the choice in one line for the log:
  // "ckpt-00000020.bin: checksum mismatch (...); using ckpt-00000010.bin".
  std::string summary() const;
};

// The newest checkpoint in `directory` that loads and verifies; newer ones
// that do not are listed in `rejected`, as is one whose contents hold a
// different step than its name. Errors: StatusCode::kUnavailable when the
// directory is missing or holds no checkpoint files (nothing to resume from);
// kInvalidArgument listing every file's reason when none is valid. The model
// config is not compared here: a mismatch is not corruption and must not fall
// back to an older file; call checkModelConfig on the result.
Result<LoadedCheckpoint> loadLatestCheckpoint(const std::string& directory);

}  // namespace loom::trainer
