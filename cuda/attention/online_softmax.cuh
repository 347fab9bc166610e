// SPEC 4 online softmax over kv tiles, in registers, base 2. Each lane holds two
// accumulator rows (g and g + 8 of its warp's 16) and a quarter of their columns; row
// maxima are reduced across the quad, row sums stay per lane until the end.
#pragma once

#include <cmath>

#include "cuda/core/math.cuh"

namespace attnkit::cuda_backend {

template <int kNTilesS, int kNTilesO>
struct OnlineSoftmax {
  float row_max[2];  // running max of the base-2 logits (-inf: nothing visible yet)
  float row_sum[2];  // this lane's share of sum 2^(x - row_max)

  __device__ OnlineSoftmax() {
    row_max[0] = row_max[1] = cuda_core::neg_inf();
    row_sum[0] = row_sum[1] = 0.0f;
  }

  /// \brief Turns base-2 logits s (masked entries -inf) of one (16, kBlockN) tile into
  /// unnormalized probabilities and rescales the output accumulators o to the new max.
  /// A row with no finite logit so far uses 0 as its reference max, so -inf - max never
  /// becomes NaN and its probabilities are exactly 0.
  __device__ __forceinline__ void update(float (&s)[kNTilesS][4], float (&o)[kNTilesO][4]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float tile_max = row_max[r];
#pragma unroll
      for (int nt = 0; nt < kNTilesS; ++nt) {
        tile_max = fmaxf(tile_max, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
      }
      const float new_max = cuda_core::quad_max(tile_max);
      const float ref = new_max == cuda_core::neg_inf() ? 0.0f : new_max;
      const float alpha = cuda_core::exp2_approx(row_max[r] - ref);
      row_max[r] = new_max;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < kNTilesS; ++nt) {
        s[nt][2 * r] = cuda_core::exp2_approx(s[nt][2 * r] - ref);
        s[nt][2 * r + 1] = cuda_core::exp2_approx(s[nt][2 * r + 1] - ref);
        sum += s[nt][2 * r] + s[nt][2 * r + 1];
      }
      row_sum[r] = row_sum[r] * alpha + sum;
#pragma unroll
      for (int nt = 0; nt < kNTilesO; ++nt) {
        o[nt][2 * r] *= alpha;
        o[nt][2 * r + 1] *= alpha;
      }
    }
  }

  /// \brief Final statistics of both rows with the learned sink folded in (m = max(m,
  /// sigma) first, so a sink far above the logits cannot overflow). `out_scale` multiplies
  /// the accumulators into o (0 for a row with nothing to average); `lse` is natural-log
  /// LSE, -inf for a row with no visible key and no sink.
  __device__ __forceinline__ void finalize(float sink_logit, float sink_logit_log2, float (&out_scale)[2],
                                           float (&lse)[2]) const {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const float sum = cuda_core::quad_sum(row_sum[r]);
      const float m = fmaxf(row_max[r], sink_logit_log2);
      const float ref = m == cuda_core::neg_inf() ? 0.0f : m;
      const float alpha = cuda_core::exp2_approx(row_max[r] - ref);
      const float total = sum * alpha + cuda_core::exp2_approx(sink_logit_log2 - ref);
      out_scale[r] = total > 0.0f ? alpha / total : 0.0f;
      // When the sink sets the max, take sigma itself rather than sigma * log2e * ln2:
      // a huge sink (1e4) would otherwise lose ~1e-3 to two fp32 roundings.
      const float ref_ln = sink_logit_log2 >= row_max[r] ? sink_logit : ref * cuda_core::kLn2;
      lse[r] = total > 0.0f ? ref_ln + logf(total) : cuda_core::neg_inf();
    }
  }
};

}  // namespace attnkit::cuda_backend
