// The logit hook applied to one warp's tile of raw dot products in the mma D layout (the
// layout mma.sync's m16n8 tiles and wgmma's m64 accumulators share): SPEC 3's transform and
// SPEC 2's masking, written once for every prefill family. Full tiles outside the biased key
// range take the scale alone.
#pragma once

#include "cuda/core/math.cuh"
#include "cuda/variant/attention_variant.cuh"

namespace attnkit::cuda_backend {

/// \brief s[nt][e] holds q.k of row `row0 + 8 * (e / 2)` (this lane's rows) and key
/// `col0 + 8 * nt + e % 2`, keys n0 .. n0 + kBlockN - 1 of rows m0 .. m_last (the rows the
/// tile was classified for). Turns them into base-2 logits, -inf where invisible.
template <int kBlockN, int kNTiles>
__device__ __forceinline__ void score_tile(const AttentionVariant& variant, float (&s)[kNTiles][4], int m0,
                                           int m_last, int n0, int row0, int col0) {
  const bool partial = variant.template classify<kBlockN>(m0, m_last, n0) == TileKind::kPartial;
  if (partial || variant.template bias_touches<kBlockN>(n0)) {
#pragma unroll
    for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int i = row0 + 8 * (e / 2);
        const int j = col0 + nt * 8 + (e % 2);
        s[nt][e] = partial && !variant.visible(i, j) ? cuda_core::neg_inf() : variant.logit(s[nt][e], j);
      }
    }
  } else {
#pragma unroll
    for (int nt = 0; nt < kNTiles; ++nt) {
#pragma unroll
      for (int e = 0; e < 4; ++e) s[nt][e] *= variant.scale_log2;
    }
  }
}

}  // namespace attnkit::cuda_backend
