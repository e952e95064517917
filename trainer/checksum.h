// CRC-32C, the checksum that guards checkpoint files against corruption.
//
// CRC-32C (Castagnoli polynomial, as in iSCSI, ext4 and LevelDB) detects every
// error burst of up to 32 bits and all odd numbers of flipped bits, and misses
// other random corruption with probability 2^-32: ample for "is this file the
// one we wrote". Computed in software with slicing-by-8 tables (about 1 GB/s),
// so results never depend on the CPU having the SSE4.2 crc32 instruction.
#pragma once

#include <cstdint>
#include <span>

namespace loom::trainer {

// The CRC-32C of `bytes`. To checksum data in pieces, pass the previous
// result as `crc`: crc32c(b, crc32c(a)) == crc32c(a followed by b).
// Check value: crc32c("123456789") == 0xE3069283.
uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t crc = 0);

}  // namespace loom::trainer
