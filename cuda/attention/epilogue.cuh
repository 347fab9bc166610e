// SPEC 6 epilogue of one warp's (16, kHeadDim) output: normalize, rectify, gate, one
// rounding to O's dtype (or a float32 store for ACT's internal O), and the LSE of SPEC 4
// (before any output transform).
#pragma once

#include <cstdint>

#include "cuda/core/vec_types.cuh"
#include "cuda/variant/attention_variant.cuh"
#include "cuda/variant/block_info.cuh"
#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

/// \brief Writes the rows this lane holds (warp rows g and g + 8, columns 2 * (lane % 4)
/// + {0, 1} of every n8 tile). Rows at or past the sequence's Sq are not written.
template <class Traits>
__device__ __forceinline__ void write_output(const FwdParams& p, const BlockInfo& info, int b, int h,
                                             int warp_row0, const float (&acc)[Traits::kNTilesO][4],
                                             const RowFinal (&rows)[2]) {
  using Elem = typename cuda_core::Half16<Traits::kIsBf16>::Scalar;
  using Pair = typename cuda_core::Half16<Traits::kIsBf16>::Pair;
  const int lane = threadIdx.x % 32;
  const int col0 = 2 * (lane % 4);
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int i = warp_row0 + lane / 4 + 8 * r;
    if (i >= info.seqlen_q) continue;
    if (p.maybe_lse != nullptr && lane % 4 == 0) {
      p.maybe_lse[b * p.lse_batch_stride + h * p.lse_head_stride + (info.q_row_start + i) * p.lse_row_stride] =
          rows[r].lse;
    }
    const auto transform = AttentionVariant::output<Traits::kIsBf16>(p, b, h, i, info.q_offset(p.gate_stride, b, i, h));
    const int64_t o_offset = info.q_offset(p.o_stride, b, i, h);
#pragma unroll
    for (int nt = 0; nt < Traits::kNTilesO; ++nt) {
      const int col = nt * 8 + col0;
      const float v0 = transform.apply(col, acc[nt][2 * r] * rows[r].out_scale);
      const float v1 = transform.apply(col + 1, acc[nt][2 * r + 1] * rows[r].out_scale);
      if (p.o_is_float32) {  // ACT's scratch O: rows 8-byte aligned, col even
        *reinterpret_cast<float2*>(static_cast<float*>(p.o) + o_offset + col) = make_float2(v0, v1);
      } else {
        // O rows are 16-byte aligned (checked by select_kernel), so the pair store is aligned.
        *reinterpret_cast<Pair*>(static_cast<Elem*>(p.o) + o_offset + col) =
            cuda_core::Half16<Traits::kIsBf16>::pair(v0, v1);
      }
    }
  }
}

}  // namespace attnkit::cuda_backend
