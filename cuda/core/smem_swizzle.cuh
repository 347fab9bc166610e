// XOR swizzle of 16-byte chunks in a row-major shared-memory tile of 16-bit elements.
#pragma once

#include <cstdint>

namespace attnkit::cuda_core {

/// \brief Element offset of (row, 16-byte chunk) in a (rows, kCols) tile whose chunk index
/// is XOR-ed with row % 8. ldmatrix reads one chunk column of 8 consecutive rows at a
/// time; the XOR puts those 8 chunks in 8 different 16-byte bank groups, so the read is
/// conflict-free for any kCols that is a multiple of 64 (a row spans whole 128-byte lines).
template <int kCols>
struct SwizzledTile {
  static_assert(kCols % 64 == 0, "the swizzle needs rows of at least 8 16-byte chunks");
  static constexpr int kChunksPerRow = kCols / 8;

  __device__ __forceinline__ static int offset(int row, int chunk) {
    return row * kCols + ((chunk ^ (row & 7)) << 3);
  }
};

}  // namespace attnkit::cuda_core
