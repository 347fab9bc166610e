// The FP8 KV-cache load path's shared-memory step, shared by the prefill and decode kernels:
// a staged tile of raw FP8 rows, (kRows, kCols) bytes row-major, converted exactly into the
// swizzled 16-bit tile the mma path reads (SwizzledTile<kCols>). Every thread of the CTA
// takes whole 16-byte chunks; the caller puts a barrier before (the staged bytes have landed
// for everyone) and after (the 16-bit tile is complete).
#pragma once

#include <cstdint>

#include "cuda/core/fp8.cuh"
#include "cuda/core/smem_access.cuh"
#include "cuda/core/smem_swizzle.cuh"

namespace attnkit::cuda_core {

template <int kRows, int kCols, int kThreads, bool kIsBf16, class Elem>
__device__ __forceinline__ void convert_fp8_tile(Elem* tile, const uint8_t* staged, bool e5m2, int tid) {
  using Tile = SwizzledTile<kCols>;
  constexpr int kChunks = kCols / 16;  // 16 FP8 values per staged chunk -> two 16-bit chunks
  for (int idx = tid; idx < kRows * kChunks; idx += kThreads) {
    const int row = idx / kChunks, c = idx % kChunks;
    const uint4 raw = ld_shared(reinterpret_cast<const uint4*>(staged + row * kCols + 16 * c));
    uint32_t lo[4], hi[4];
    fp8x8_to_b16x8<kIsBf16>(raw.x, raw.y, e5m2, lo);
    fp8x8_to_b16x8<kIsBf16>(raw.z, raw.w, e5m2, hi);
    st_shared(reinterpret_cast<uint4*>(tile + Tile::offset(row, 2 * c)), make_uint4(lo[0], lo[1], lo[2], lo[3]));
    st_shared(reinterpret_cast<uint4*>(tile + Tile::offset(row, 2 * c + 1)), make_uint4(hi[0], hi[1], hi[2], hi[3]));
  }
}

}  // namespace attnkit::cuda_core
