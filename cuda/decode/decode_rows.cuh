// Per packed row state of the decode kernel: which (query row, head) a packed row is, its
// base-2 logit scale and key bias (SPEC 3), its SPEC 2 visibility, and its block-mask row
// (SPEC 5) walked as a cursor, because one thread meets its keys in ascending order.
#pragma once

#include <cstdint>

#include "cuda/attention/fwd_params.hpp"
#include "cuda/attention/variants/head_scale.cuh"
#include "cuda/core/math.cuh"

namespace attnkit::cuda_backend {

/// \brief The listed key blocks of one block-mask row, asked about keys in ascending
/// order. Used entries follow docs/api.md: of the first clamp(count, 0, max_kv) entries,
/// those in [0, NKB) and above the last used entry.
struct ListedKeyBlocks {
  const int32_t* maybe_row = nullptr;  // nullptr: no block mask, every key block is listed
  int64_t stride = 0;
  int count = 0;
  int pos = 0;       // next entry to read
  int current = -1;  // last used entry
  int nkb = 0;
  int block_k = 1;

  __device__ void init(const FwdParams& p, int b, int h, int i) {
    if (p.maybe_kv_count == nullptr) return;
    const int bm = p.mask_batch == 1 ? 0 : b;
    const int hm = h / p.mask_group;
    const int qb = i / p.mask_block_q;
    maybe_row = p.maybe_kv_index;  // count stays 0 for rows past NQB: nothing is listed
    if (qb < p.mask_nqb) {
      const int c = p.maybe_kv_count[bm * p.kv_count_stride[0] + hm * p.kv_count_stride[1] + qb * p.kv_count_stride[2]];
      count = c < 0 ? 0 : (c > p.mask_max_kv ? p.mask_max_kv : c);
      maybe_row = p.maybe_kv_index + bm * p.kv_index_stride[0] + hm * p.kv_index_stride[1] + qb * p.kv_index_stride[2];
    }
    stride = p.kv_index_stride[3];
    nkb = p.mask_nkb;
    block_k = p.mask_block_k;
  }

  /// \brief True when key j's block is listed; successive calls must not decrease j.
  __device__ __forceinline__ bool listed(int j) {
    if (maybe_row == nullptr) return true;
    const int kb = j / block_k;
    while (current < kb && pos < count) {
      const int e = maybe_row[pos * stride];
      ++pos;
      if (e >= 0 && e < nkb && e > current) current = e;
    }
    return current == kb;
  }
};

/// One packed row: query row i of the sequence for query head h.
struct DecodeRow {
  int pos;            // i' = i + Sk_b - Sq_b (SPEC 2, bottom-right)
  float scale_log2;   // scale * tau_h * log2(e)
  float bias_log2;    // log_gamma_h * log2(e) (0 without a key bias)
  ListedKeyBlocks blocks;

  __device__ void init(const FwdParams& p, int b, int h, int i, int seqlen_q, int seqlen_k) {
    pos = i + seqlen_k - seqlen_q;
    scale_log2 = softmax_scale_log2(p, h);
    bias_log2 = p.maybe_log_gamma != nullptr ? p.maybe_log_gamma[h * p.log_gamma_stride] * cuda_core::kLog2e : 0.0f;
    blocks.init(p, b, h, i);
  }

  /// \brief Base-2 logit of key j from the raw dot product, -inf when SPEC 2 / 5 hide it.
  /// Keys j >= Sk_b never reach here (the caller masks keys past its split).
  __device__ __forceinline__ float logit(const FwdParams& p, float dot, int j) {
    if (p.causal && j > pos) return cuda_core::neg_inf();
    if (p.window_right >= 0 && j > static_cast<int64_t>(pos) + p.window_right) return cuda_core::neg_inf();
    if (p.window_left >= 0 && j < static_cast<int64_t>(pos) - p.window_left && j >= p.sink_tokens) return cuda_core::neg_inf();
    if (!blocks.listed(j)) return cuda_core::neg_inf();
    float x = dot * scale_log2;
    if (j >= p.bias_begin && j < p.bias_end) x += bias_log2;  // bias_end = bias_begin without a bias
    return x;
  }
};

}  // namespace attnkit::cuda_backend
