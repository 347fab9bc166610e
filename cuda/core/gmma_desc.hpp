// The 64-bit shared-memory matrix descriptor of wgmma.mma_async (PTX ISA, "Matrix
// Descriptor Format"), and the two canonical layouts the Hopper family uses. Plain bit
// packing, the same on host and device, so the emulator's twin decodes exactly what the
// kernel encodes, and tests/emulation proves both against CuTe's make_gmma_desc.
//
// Every tile is stored as column blocks of 64 16-bit elements (128 bytes) per row, each block
// rows x 128 bytes with the 128-byte swizzle (16-byte chunk c of row r at chunk c ^ (r % 8),
// the pattern TMA's SWIZZLE_128B writes), blocks 1024-byte aligned:
//   K-major operand (Q, K: a row = one M / N index, its 64 K values contiguous): the 8-row
//     groups are `stride` (SBO) = 1024 bytes apart; the leading offset is unused (1).
//   MN-major operand (V as B of P V: a row = one K index, 64 N values contiguous): the
//     8-row (K) groups are SBO = 1024 bytes apart and the 64-wide N blocks LBO = rows * 128.
#pragma once

#include <cstdint>

namespace attnkit::cuda_core {

/// Bits 62-63 of the descriptor.
enum class GmmaSwizzle : uint32_t { kNone = 0, k128B = 1, k64B = 2, k32B = 3 };

/// \brief start address (bits 0-13, >> 4), leading byte offset (16-29, >> 4), stride byte
/// offset (32-45, >> 4), base offset (49-51, 0 for 1024-byte aligned swizzle atoms), swizzle
/// (62-63). `smem_address` is a shared-state-space address (cuda_core::smem_address).
__host__ __device__ constexpr uint64_t make_gmma_desc(uint32_t smem_address, uint32_t leading_byte_offset,
                                                      uint32_t stride_byte_offset, GmmaSwizzle swizzle) {
  return (static_cast<uint64_t>((smem_address >> 4) & 0x3fffu)) |
         (static_cast<uint64_t>((leading_byte_offset >> 4) & 0x3fffu) << 16) |
         (static_cast<uint64_t>((stride_byte_offset >> 4) & 0x3fffu) << 32) |
         (static_cast<uint64_t>(swizzle) << 62);
}

/// \brief Descriptor of K step `kk` (16 K values) of a K-major SW128 tile at `tile_address`
/// with `rows` rows: block kk / 4, 32-byte step kk % 4 inside the 128-byte row.
__host__ __device__ constexpr uint64_t gmma_desc_k_major(uint32_t tile_address, int rows, int kk) {
  return make_gmma_desc(tile_address + static_cast<uint32_t>((kk / 4) * rows * 128 + (kk % 4) * 32), 16, 1024,
                        GmmaSwizzle::k128B);
}

/// \brief Descriptor of K step `kk` (16 K rows) of an MN-major SW128 tile at `tile_address`
/// with `rows` K rows: 16 rows are two 8-row groups, 2048 bytes.
__host__ __device__ constexpr uint64_t gmma_desc_mn_major(uint32_t tile_address, int rows, int kk) {
  return make_gmma_desc(tile_address + static_cast<uint32_t>(kk * 2048), static_cast<uint32_t>(rows * 128), 1024,
                        GmmaSwizzle::k128B);
}

}  // namespace attnkit::cuda_core
