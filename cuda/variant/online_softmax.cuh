// SPEC 4 online softmax, the one copy every kernel family uses: the per-row state (running
// max m in log2 units and sum l of 2^(x - m)), its update by one logit, the merge of partial
// states (split-KV, the decode kernel's warps, the LSE pass's thread groups), and the
// finalize that adds the learned sink once and yields the output scale and the LSE. The
// fragment form at the end is the mma.sync families' (prefill and decode): each lane holds
// two accumulator rows (g and g + 8 of its warp's 16) and a quarter of their columns.
#pragma once

#include <cfloat>
#include <cmath>

#include "cuda/core/math.cuh"

namespace attnkit::cuda_backend {

/// \brief x * log2(e) for a finite-or-(-inf) natural-log value, kept finite when x is: a
/// sink or LSE beyond FLT_MAX / log2(e) (about 2.36e38) would otherwise become +-inf, which
/// means something else (no sink, or one that swallows even +-inf logits). +-FLT_MAX orders
/// the same way against every finite logit, so the softmax is unchanged.
__device__ __forceinline__ float to_log2(float x) {
  const float y = x * cuda_core::kLog2e;
  if (y == INFINITY && x != INFINITY) return FLT_MAX;
  if (y == -INFINITY && x != -INFINITY) return -FLT_MAX;
  return y;
}

/// \brief The reference max a state rescales against: m itself, or 0 for m = -inf (no key
/// yet), so that exp2(-inf - ref) is 0 and never NaN.
__device__ __forceinline__ float softmax_ref(float m) { return m == -INFINITY ? 0.0f : m; }

/// One row's partial softmax: m = max logit seen (log2 units, -inf: none), l = sum 2^(x - m).
struct SoftmaxState {
  float m = -INFINITY;
  float l = 0.0f;

  /// \brief Adds one logit (log2 units; -inf adds nothing).
  __device__ __forceinline__ void update(float x) {
    if (x == -INFINITY) return;
    const float m_new = fmaxf(m, x);
    l = l * cuda_core::exp2_approx(m - m_new) + cuda_core::exp2_approx(x - m_new);
    m = m_new;
  }

  /// \brief The factor that brings a partial state with max m_part onto the merged max m_all.
  __device__ __forceinline__ static float rescale(float m_part, float m_all) {
    return cuda_core::exp2_approx(m_part - softmax_ref(m_all));
  }

  /// \brief Absorbs another partial state of the same row (disjoint keys).
  __device__ __forceinline__ void merge(const SoftmaxState& o) {
    const float m_new = fmaxf(m, o.m);
    l = l * rescale(m, m_new) + o.l * rescale(o.m, m_new);
    m = m_new;
  }
};

/// What a finished row needs: out_scale multiplies the unnormalised accumulator into O (0 for
/// a row with nothing to average); lse is the natural-log LSE of SPEC 4 (sigma for a row
/// that only the sink sees, -inf with neither keys nor sink).
struct RowFinal {
  float out_scale;
  float lse;
};

/// \brief Finalizes a row from its key state (m, l) and the learned sink sigma (natural log,
/// -inf for none) with sigma_log2 = to_log2(sigma): m' = max(m, sigma) first, so a sink far
/// above the logits cannot overflow.
__device__ __forceinline__ RowFinal finalize_row(float m, float l, float sigma, float sigma_log2) {
  const float m_all = fmaxf(m, sigma_log2);
  const float ref = softmax_ref(m_all);
  const float keys_scale = cuda_core::exp2_approx(m - ref);
  const float total = l * keys_scale + cuda_core::exp2_approx(sigma_log2 - ref);
  RowFinal f;
  f.out_scale = total > 0.0f ? keys_scale / total : 0.0f;
  // When the sink sets the max, take sigma itself rather than sigma * log2e * ln2: a huge
  // sink (1e4, or 3e38) would otherwise lose its last bits to two fp32 roundings.
  const float ref_ln = sigma_log2 >= m ? sigma : ref * cuda_core::kLn2;
  f.lse = total > 0.0f ? ref_ln + logf(total) : -INFINITY;
  return f;
}

/// The fragment form of the mma.sync kernels: a (16, 8 kNTilesS) tile of base-2 logits per
/// warp, its rows' states in registers, row maxima reduced across the quad and row sums kept
/// per lane until the end.
template <int kNTilesS, int kNTilesO>
struct OnlineSoftmax {
  float row_max[2];  // running max of the base-2 logits (-inf: nothing visible yet)
  float row_sum[2];  // this lane's share of sum 2^(x - row_max)

  __device__ OnlineSoftmax() {
    row_max[0] = row_max[1] = -INFINITY;
    row_sum[0] = row_sum[1] = 0.0f;
  }

  /// \brief Turns base-2 logits s (masked entries -inf) of one tile into unnormalized
  /// probabilities and rescales the output accumulators o to the new max.
  __device__ __forceinline__ void update(float (&s)[kNTilesS][4], float (&o)[kNTilesO][4]) {
    float alpha[2];
    update_scores(s, alpha);
    rescale(o, alpha);
  }

  /// \brief The first half of update: s becomes probabilities against the new row maxima, the
  /// sums move on, and alpha[r] is the factor the accumulators must still be multiplied by
  /// (rescale). Split so that a pipelined kernel can finish an accumulation under the old max
  /// (an in-flight P V) before rescaling.
  __device__ __forceinline__ void update_scores(float (&s)[kNTilesS][4], float (&alpha)[2]) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float tile_max = row_max[r];
#pragma unroll
      for (int nt = 0; nt < kNTilesS; ++nt) {
        tile_max = fmaxf(tile_max, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));
      }
      const float new_max = cuda_core::quad_max(tile_max);
      const float ref = softmax_ref(new_max);
      alpha[r] = cuda_core::exp2_approx(row_max[r] - ref);
      row_max[r] = new_max;
      float sum = 0.0f;
#pragma unroll
      for (int nt = 0; nt < kNTilesS; ++nt) {
        s[nt][2 * r] = cuda_core::exp2_approx(s[nt][2 * r] - ref);
        s[nt][2 * r + 1] = cuda_core::exp2_approx(s[nt][2 * r + 1] - ref);
        sum += s[nt][2 * r] + s[nt][2 * r + 1];
      }
      row_sum[r] = row_sum[r] * alpha[r] + sum;
    }
  }

  /// \brief The second half: o *= alpha per row.
  __device__ __forceinline__ static void rescale(float (&o)[kNTilesO][4], const float (&alpha)[2]) {
#pragma unroll
    for (int nt = 0; nt < kNTilesO; ++nt) {
      o[nt][0] *= alpha[0];
      o[nt][1] *= alpha[0];
      o[nt][2] *= alpha[1];
      o[nt][3] *= alpha[1];
    }
  }

  /// \brief Row r's state with the sum reduced over the quad (every lane of the quad gets it).
  __device__ __forceinline__ SoftmaxState state(int r) const {
    SoftmaxState st;
    st.m = row_max[r];
    st.l = cuda_core::quad_sum(row_sum[r]);
    return st;
  }
};

}  // namespace attnkit::cuda_backend
