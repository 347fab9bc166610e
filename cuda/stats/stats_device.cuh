// Device helpers shared by the statistics, ACT and planner kernels: SPEC 3 logits of one
// (query row, key) pair on CUDA cores, SPEC 5's "is this block listed" rule, and the key
// ranges a tile of query rows may see (SPEC 2 + block mask). All reuse the forward
// kernel's FwdParams, VisibilityMask and BlockInfo so that visibility cannot drift.
#pragma once

#include <cstdint>

#include "cuda/attention/block_info.cuh"
#include "cuda/attention/fwd_params.hpp"
#include "cuda/attention/mask.cuh"
#include "cuda/core/vec_types.cuh"

namespace attnkit::cuda_backend {

/// \brief The dynamic shared memory of every statistics, ACT and planner kernel; each
/// kernel lays out its own struct (stats_params.hpp, planner_params.hpp) at the front.
/// Kernels declare no static __shared__ arrays: the CPU emulation (tests/emulation) backs
/// this one array with a buffer, where a static one would become a per-thread local.
__device__ __forceinline__ unsigned char* stats_shared_memory() {
  extern __shared__ __align__(16) unsigned char stats_smem[];
  return stats_smem;
}

/// \brief One element of Q/K/V (fp16 or bf16) as float.
template <bool kIsBf16>
__device__ __forceinline__ float load_half(const void* base, int64_t offset) {
  using Elem = typename cuda_core::Half16<kIsBf16>::Scalar;
  return cuda_core::Half16<kIsBf16>::to_float(static_cast<const Elem*>(base)[offset]);
}

/// Per-(b, h) constants of SPEC 3 and 4: s = logit_scale * q.k + bias(j); sink sigma_h.
struct HeadLogits {
  float logit_scale;  // scale * tau_h
  float log_gamma;    // key-range bias (0 when absent)
  int bias_begin;
  int bias_end;
  float sink;  // -inf when absent

  __device__ HeadLogits(const FwdParams& p, int h)
      : logit_scale(p.scale), log_gamma(0.0f), bias_begin(p.bias_begin), bias_end(p.bias_end), sink(-INFINITY) {
    if (p.maybe_head_scale != nullptr) logit_scale *= p.maybe_head_scale[h * p.head_scale_stride];
    if (p.maybe_log_gamma != nullptr) log_gamma = p.maybe_log_gamma[h * p.log_gamma_stride];
    if (p.maybe_sink_logit != nullptr) sink = p.maybe_sink_logit[h * p.sink_logit_stride];
  }

  /// \brief The logit of key j from the raw dot product (a log_gamma of -inf gives -inf).
  __device__ __forceinline__ float logit(float dot, int j) const {
    const float s = dot * logit_scale;
    return (j >= bias_begin && j < bias_end) ? s + log_gamma : s;
  }
};

/// One block-mask row (b, h, qb), or none. `n` = clamp(count, 0, max_kv) entries.
struct MaskRow {
  const int32_t* maybe_index = nullptr;
  int64_t stride = 0;
  int n = 0;
  int nkb = 0;

  __device__ MaskRow() {}
  __device__ MaskRow(const FwdParams& p, int b, int h, int qb) {
    if (p.maybe_kv_count == nullptr) return;
    const int mb = p.mask_batch == 1 ? 0 : b;
    const int mh = h / p.mask_group;
    const int count = p.maybe_kv_count[mb * p.kv_count_stride[0] + mh * p.kv_count_stride[1] + qb * p.kv_count_stride[2]];
    maybe_index = p.maybe_kv_index + mb * p.kv_index_stride[0] + mh * p.kv_index_stride[1] + qb * p.kv_index_stride[2];
    stride = p.kv_index_stride[3];
    n = count < 0 ? 0 : (count > p.mask_max_kv ? p.mask_max_kv : count);
    nkb = p.mask_nkb;
  }

  __device__ bool present() const { return maybe_index != nullptr; }

  /// \brief docs/api.md's used-entry rule: used entries are the in-range entries above every
  /// earlier used one, so they ascend and kb is listed iff the first in-range entry >= kb is kb.
  __device__ bool lists(int kb) const {
    if (maybe_index == nullptr) return true;
    for (int e = 0; e < n; ++e) {
      const int x = maybe_index[e * stride];
      if (x < 0 || x >= nkb) continue;
      if (x >= kb) return x == kb;
    }
    return false;
  }

  /// \brief Calls fn(kb) for every used entry, ascending.
  template <class Fn>
  __device__ void for_each_used(Fn&& fn) const {
    int last = -1;
    for (int e = 0; e < n; ++e) {
      const int x = maybe_index[e * stride];
      if (x < 0 || x >= nkb || x <= last) continue;
      last = x;
      fn(x);
    }
  }
};

/// \brief Calls fn(begin, end) for the key ranges that rows [m0, m_last] may see among keys
/// >= key_lo: at most two ranges (sink tokens, then the window) cut by the listed blocks of
/// `mask` (the caller guarantees the rows lie in one mask query block). Uniform over a CTA.
template <class Fn>
__device__ void for_each_key_range(const VisibilityMask& vis, const MaskRow& mask, int mask_block_k, int m0,
                                   int m_last, int key_lo, Fn&& fn) {
  const int hi = vis.key_end(m_last);
  int r_begin[2] = {key_lo, key_lo}, r_end[2] = {hi, key_lo};
  if (vis.window_left >= 0) {
    // Keys in [sink_tokens, window_begin) are invisible to every row of the tile.
    const int st = vis.sink_tokens, wb = vis.window_begin(m0);
    r_end[0] = hi < st ? hi : st;
    r_begin[1] = key_lo > st ? key_lo : st;
    if (wb > r_begin[1]) r_begin[1] = wb;
    r_end[1] = hi;
  }
  for (int r = 0; r < 2; ++r) {
    if (r_begin[r] >= r_end[r]) continue;
    if (!mask.present()) {
      fn(r_begin[r], r_end[r]);
      continue;
    }
    mask.for_each_used([&](int kb) {
      const int a = kb * mask_block_k > r_begin[r] ? kb * mask_block_k : r_begin[r];
      const int e = (kb + 1) * mask_block_k < r_end[r] ? (kb + 1) * mask_block_k : r_end[r];
      if (a < e) fn(a, e);
    });
  }
}

}  // namespace attnkit::cuda_backend
