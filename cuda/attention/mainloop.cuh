// Building blocks of the main loop: tile copies global -> shared (cp.async, zero-filled
// past the sequence) and the two warp GEMMs S = Q * K^T and O += P * V on mma.sync.
#pragma once

#include <cstdint>

#include "cuda/core/cp_async.cuh"
#include "cuda/core/ldmatrix.cuh"
#include "cuda/core/mma.cuh"
#include "cuda/core/vec_types.cuh"

namespace attnkit::cuda_backend {

/// \brief Copies a (kRows, kHeadDim) tile whose row 0 is `g_tile` into swizzled shared
/// memory. Rows >= rows_valid are zero-filled (never read), so V rows past Sk contribute
/// exact zeros and stale data can never turn into NaN. Row 0 must be a valid row.
template <class Traits, int kRows, class Elem>
__device__ __forceinline__ void load_tile(Elem* s_tile, const Elem* g_tile, int64_t row_stride,
                                          int rows_valid, int tid) {
  using Tile = typename Traits::KVTile;
  constexpr int kChunksPerThread = kRows * Traits::kChunksPerRow / Traits::kNumThreads;
#pragma unroll
  for (int it = 0; it < kChunksPerThread; ++it) {
    const int c = tid + it * Traits::kNumThreads;
    const int row = c / Traits::kChunksPerRow;
    const int chunk = c % Traits::kChunksPerRow;
    const bool valid = row < rows_valid;
    const Elem* src = valid ? g_tile + row * row_stride + chunk * 8 : g_tile;
    cuda_core::cp_async_16(cuda_core::smem_address(s_tile + Tile::offset(row, chunk)), src, valid);
  }
}

/// \brief Copies a (kRows, kHeadDim) tile of an FP8 cache, row 0 at `g_tile`, into row-major
/// staging shared memory (16 values per cp.async, half the bytes of a 16-bit tile); rows >=
/// rows_valid are zero-filled. cuda_core::convert_fp8_tile then makes the 16-bit tile.
template <class Traits, int kRows>
__device__ __forceinline__ void load_fp8_tile(uint8_t* s_tile, const uint8_t* g_tile, int64_t row_stride,
                                              int rows_valid, int tid) {
  constexpr int kChunksPerRow = Traits::kHeadDim / 16;
  constexpr int kChunksPerThread = kRows * kChunksPerRow / Traits::kNumThreads;
#pragma unroll
  for (int it = 0; it < kChunksPerThread; ++it) {
    const int c = tid + it * Traits::kNumThreads;
    const int row = c / kChunksPerRow;
    const int chunk = c % kChunksPerRow;
    const bool valid = row < rows_valid;
    const uint8_t* src = valid ? g_tile + row * row_stride + chunk * 16 : g_tile;
    cuda_core::cp_async_16(cuda_core::smem_address(s_tile + row * Traits::kHeadDim + chunk * 16), src, valid);
  }
}

/// \brief s = Q_w * K^T for warp w: Q rows (16 w .. 16 w + 15) of s_q against all
/// kBlockN keys of s_k. s[nt] holds keys nt * 8 .. nt * 8 + 7 in the mma D layout.
template <class Traits, class Elem>
__device__ __forceinline__ void gemm_qk(float (&s)[Traits::kNTilesS][4], const Elem* s_q, const Elem* s_k,
                                        int warp, int lane) {
  using Tile = typename Traits::KVTile;
#pragma unroll
  for (int nt = 0; nt < Traits::kNTilesS; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
  // ldmatrix.x4 lane roles: lanes 8 m .. 8 m + 7 address the rows of matrix m.
  const int q_row = warp * 16 + lane % 8 + ((lane / 8) % 2) * 8;  // A: m0/m2 rows 0-7, m1/m3 rows 8-15
  const int q_chunk = lane / 16;                                  // A: m2/m3 are k 8-15
  const int k_row = (lane / 16) * 8 + lane % 8;                   // B: m2/m3 are the next n8 tile
  const int k_chunk = (lane / 8) % 2;                             // B: m1/m3 are k 8-15
#pragma unroll
  for (int kk = 0; kk < Traits::kKStepsQK; ++kk) {
    uint32_t a[4];
    cuda_core::ldmatrix_x4(a, cuda_core::smem_address(s_q + Tile::offset(q_row, 2 * kk + q_chunk)));
#pragma unroll
    for (int pair = 0; pair < Traits::kNTilesS / 2; ++pair) {
      uint32_t bk[4];
      cuda_core::ldmatrix_x4(bk, cuda_core::smem_address(s_k + Tile::offset(pair * 16 + k_row, 2 * kk + k_chunk)));
      const uint32_t b0[2] = {bk[0], bk[1]};
      const uint32_t b1[2] = {bk[2], bk[3]};
      cuda_core::mma_m16n8k16<Traits::kIsBf16>(s[2 * pair], a, b0);
      cuda_core::mma_m16n8k16<Traits::kIsBf16>(s[2 * pair + 1], a, b1);
    }
  }
}

/// \brief o += P * V: P is this warp's (16, kBlockN) probabilities in the D layout of
/// gemm_qk, rounded to 16 bits as the A operand (D and A layouts line up pairwise, so no
/// shuffle is needed); V is read with ldmatrix.trans.
template <class Traits, class Elem>
__device__ __forceinline__ void gemm_pv(float (&o)[Traits::kNTilesO][4], const float (&p)[Traits::kNTilesS][4],
                                        const Elem* s_v, int lane) {
  using Tile = typename Traits::KVTile;
  const int v_row = ((lane / 8) % 2) * 8 + lane % 8;  // m1/m3 are keys 8-15
  const int v_chunk = lane / 16;                       // m2/m3 are the next n8 tile
#pragma unroll
  for (int kk = 0; kk < Traits::kKStepsPV; ++kk) {
    const uint32_t a[4] = {
        cuda_core::pack_pair<Traits::kIsBf16>(p[2 * kk][0], p[2 * kk][1]),
        cuda_core::pack_pair<Traits::kIsBf16>(p[2 * kk][2], p[2 * kk][3]),
        cuda_core::pack_pair<Traits::kIsBf16>(p[2 * kk + 1][0], p[2 * kk + 1][1]),
        cuda_core::pack_pair<Traits::kIsBf16>(p[2 * kk + 1][2], p[2 * kk + 1][3]),
    };
#pragma unroll
    for (int pair = 0; pair < Traits::kNTilesO / 2; ++pair) {
      uint32_t bv[4];
      cuda_core::ldmatrix_x4_trans(bv, cuda_core::smem_address(s_v + Tile::offset(kk * 16 + v_row, 2 * pair + v_chunk)));
      const uint32_t b0[2] = {bv[0], bv[1]};
      const uint32_t b1[2] = {bv[2], bv[3]};
      cuda_core::mma_m16n8k16<Traits::kIsBf16>(o[2 * pair], a, b0);
      cuda_core::mma_m16n8k16<Traits::kIsBf16>(o[2 * pair + 1], a, b1);
    }
  }
}

}  // namespace attnkit::cuda_backend
