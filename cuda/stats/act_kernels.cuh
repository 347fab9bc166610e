// ACT kernels (SPEC 7): detect (one CTA per (b, h) over the column means) and calibrate
// (one warp per query row, reading only the |S| sink keys). Launched by
// stats_kernel_launch.cu; act.cu holds the calling sequence.
#pragma once

#include <climits>

#include "cuda/core/block_scan.cuh"
#include "cuda/variant/attention_variant.cuh"
#include "cuda/stats/stats_device.cuh"
#include "cuda/stats/stats_params.hpp"

namespace attnkit::cuda_backend {

inline constexpr int kMaxColsPerLane = 8;         // Dv <= 256 = 32 lanes x 8
inline constexpr float kMinOutsideMass = 1e-6f;  // SPEC 7: rows with 1 - m below this are unchanged

/// Grid (Hq, B). S = { j : colmean_j > theta }, minus its smallest j when keep_first_sink,
/// then the max_sinks largest colmean (ties: lower j), written ascending. The cut is found
/// by a binary search on the float bits (colmean >= 0, so bits order like values): the
/// largest T with #{bits >= T} >= max_sinks; entries equal to T are taken lowest j first.
__global__ void __launch_bounds__(kDetectThreads) detect_kernel(const FwdParams p, const DetectArgs a) {
  DetectSmem& s = *reinterpret_cast<DetectSmem*>(stats_shared_memory());
  const int h = blockIdx.x, b = blockIdx.y, tid = threadIdx.x;
  const BlockInfo info(p, b);
  const int sk = info.seqlen_k;
  const int64_t head = static_cast<int64_t>(b) * p.hq + h;
  const float* sum = a.col_sum + head * a.max_sk;
  const int32_t* cnt = a.col_count + head * a.max_sk;
  int32_t* index = a.index + b * a.index_stride[0] + h * a.index_stride[1];
  auto colmean = [&](int j) { return cnt[j] > 0 ? sum[j] / static_cast<float>(cnt[j]) : 0.0f; };

  const bool enabled = a.maybe_head_mask == nullptr || a.maybe_head_mask[h * a.head_mask_stride] != 0;
  int first = -1;  // the primary sink, never scaled
  if (enabled && a.keep_first_sink) {
    int mine = INT_MAX;
    for (int j = tid; j < sk; j += kDetectThreads) {
      if (colmean(j) > a.theta) {
        mine = j;
        break;
      }
    }
    first = cuda_core::block_min(s.scan, mine);
  }
  auto candidate = [&](int j) { return enabled && j != first && colmean(j) > a.theta; };
  auto count_if = [&](auto pred) {
    int mine = 0;
    for (int j = tid; j < sk; j += kDetectThreads) mine += candidate(j) && pred(__float_as_uint(colmean(j))) ? 1 : 0;
    return cuda_core::block_sum(s.scan, mine);
  };
  const int n = count_if([](unsigned) { return true; });
  unsigned cut = 0;          // candidates with bits > cut are kept ...
  int need_equal = INT_MAX;  // ... and this many with bits == cut (lowest j first)
  if (n > a.max_sinks) {
    unsigned lo = 0, hi = 0x7f800001u;  // count_ge(lo) >= max_sinks > count_ge(hi)
    while (hi - lo > 1) {
      const unsigned mid = lo + (hi - lo) / 2;
      if (count_if([mid](unsigned bits) { return bits >= mid; }) >= a.max_sinks) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    cut = lo;
    need_equal = a.max_sinks - count_if([lo](unsigned bits) { return bits > lo; });
  }
  int equal_before = 0, written = 0;
  for (int base = 0; base < sk; base += kDetectThreads) {
    const int j = base + tid;
    const bool cand = j < sk && candidate(j);
    const unsigned bits = cand ? __float_as_uint(colmean(j)) : 0u;
    const int is_equal = cand && bits == cut ? 1 : 0;
    int equal_total = 0;
    const int equal_rank = cuda_core::block_exclusive_sum(s.scan, is_equal, &equal_total);
    const int keep = cand && (bits > cut || (is_equal && equal_before + equal_rank < need_equal)) ? 1 : 0;
    int kept = 0;
    const int pos = cuda_core::block_exclusive_sum(s.scan, keep, &kept);
    if (keep) index[(written + pos) * a.index_stride[2]] = j;
    equal_before += equal_total;
    written += kept;
  }
  for (int e = written + tid; e < a.index_k; e += kDetectThreads) index[e * a.index_stride[2]] = -1;
  if (tid == 0) a.count[b * a.count_stride[0] + h * a.count_stride[1]] = written;
}

/// Grid (rows / 8, Hq, B), one warp per query row: m = sum_S p_ij, u = sum_S p_ij v_j with
/// p_ij = exp(s_ij - LSE_i) over the visible sink keys, o' = beta u + (1 - beta m) / (1 - m)
/// (o - u) on the forward's float32 o (a.o_float), then rectify and gate, and the one
/// rounding to O's dtype. o must not be rounded before: (1 - beta m) / (1 - m) would multiply
/// its rounding error (~50x at beta = 0.4, m = 0.99). Every row is written (transforms apply
/// to uncalibrated rows too). Device sets: counts clamped to [0, K], keys outside [0, Sk_b)
/// skipped.
template <bool kIsBf16>
__global__ void __launch_bounds__(kCalibrateWarps * 32) calibrate_kernel(const FwdParams p, const CalibrateArgs a) {
  using Half = cuda_core::Half16<kIsBf16>;
  using Elem = typename Half::Scalar;
  const int b = blockIdx.z, h = blockIdx.y;
  const int lane = threadIdx.x % 32;
  const int i = blockIdx.x * kCalibrateWarps + threadIdx.x / 32;
  const BlockInfo info(p, b);
  if (i >= info.seqlen_q) return;
  const float* o_in = a.o_float + info.q_offset(a.o_float_stride, b, i, h);
  float o[kMaxColsPerLane];
#pragma unroll
  for (int t = 0; t < kMaxColsPerLane; ++t) {
    const int col = lane + 32 * t;
    o[t] = col < a.dv ? o_in[col] : 0.0f;
  }
  const bool enabled = a.maybe_head_mask == nullptr || a.maybe_head_mask[h * a.head_mask_stride] != 0;
  const int count = a.count[b * a.count_stride[0] + h * a.count_stride[1]];
  const int n = count < 0 ? 0 : (count > a.index_k ? a.index_k : count);
  const float lse = p.maybe_lse[b * p.lse_batch_stride + h * p.lse_head_stride + (info.q_row_start + i) * p.lse_row_stride];
  if (enabled && n > 0 && lse != -INFINITY) {
    const AttentionVariant variant(p, h, info.seqlen_q, info.seqlen_k);
    const BlockMaskRow mask = p.maybe_kv_count != nullptr ? AttentionVariant::mask_row(p, b, h, i / p.mask_block_q)
                                                          : BlockMaskRow();
    const float lse_log2 = to_log2(lse);
    const int kvh = h / p.group;
    const int64_t q_off = info.q_offset(p.q_stride, b, i, h);
    float q[kMaxColsPerLane];
#pragma unroll
    for (int t = 0; t < kMaxColsPerLane; ++t) {
      const int col = lane + 32 * t;
      q[t] = col < a.d ? load_half<kIsBf16>(p.q, q_off + col) : 0.0f;
    }
    float m = 0.0f, u[kMaxColsPerLane] = {};
    const int32_t* set = a.index + b * a.index_stride[0] + h * a.index_stride[1];
    for (int e = 0; e < n; ++e) {
      const int j = set[e * a.index_stride[2]];
      if (j < 0 || j >= info.seqlen_k || !variant.visible(i, j)) continue;
      if (!mask.lists_any_order(j / p.mask_block_k)) continue;  // the set need not ascend
      const int64_t k_off = info.k_offset(p.k_stride, b, j, kvh);
      float dot = 0.0f;
#pragma unroll
      for (int t = 0; t < kMaxColsPerLane; ++t) {
        const int col = lane + 32 * t;
        if (col < a.d) dot += q[t] * load_half<kIsBf16>(p.k, k_off + col);
      }
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
      const float pij = cuda_core::exp2_approx(variant.logit(dot, j) - lse_log2);
      m += pij;
      const int64_t v_off = info.k_offset(p.v_stride, b, j, kvh);
#pragma unroll
      for (int t = 0; t < kMaxColsPerLane; ++t) {
        const int col = lane + 32 * t;
        if (col < a.dv) u[t] += pij * load_half<kIsBf16>(p.v, v_off + col);
      }
    }
    if (1.0f - m >= kMinOutsideMass) {
      const float rest = (1.0f - a.beta * m) / (1.0f - m);  // rescales the mass outside S
#pragma unroll
      for (int t = 0; t < kMaxColsPerLane; ++t) o[t] = a.beta * u[t] + rest * (o[t] - u[t]);
    }
  }
  const auto transform = AttentionVariant::output<kIsBf16>(p, b, h, i, info.q_offset(p.gate_stride, b, i, h));
  Elem* o_row = static_cast<Elem*>(p.o) + info.q_offset(p.o_stride, b, i, h);
#pragma unroll
  for (int t = 0; t < kMaxColsPerLane; ++t) {
    const int col = lane + 32 * t;
    if (col < a.dv) o_row[col] = Half::from_float(transform.apply(col, o[t]));
  }
}

}  // namespace attnkit::cuda_backend
