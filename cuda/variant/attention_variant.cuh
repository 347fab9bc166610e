// The device variant: every SPEC feature as one fixed hook, called by every kernel family
// (mma.sync prefill, split-KV decode, the LSE / statistics passes, ACT's calibration). A
// family asks the variant, never FwdParams, what a logit is, which keys a row sees, where
// the sink goes and what happens to a finished row:
//   logit transform  logit(dot, j): scale * tau_h * k_scale * q.k + key-range bias (SPEC 3, and
//                    an FP8 cache's K scale), log2 units
//   visibility       visible(i, j), classify(tile), keys(rows) (SPEC 2: causal bottom-right,
//                    window left / right, sink tokens, sequence tails)
//   key schedule     mask_row(...) (SPEC 5's used-entry rule) and KvTileSchedule (key_tiles.cuh)
//   sink             finalize(state): the learned sink joins once, at the end (SPEC 4); an
//                    FP8 cache's V scale multiplies the output there
//   output           output<kIsBf16>(...): rectify, then the gate (SPEC 6)
// Features are runtime flags of one launch (absent = identity), so one instance per (head
// dim, dtype) serves every combination. A new logit hook is a member here (and its
// FwdParams field); no kernel family changes.
#pragma once

#include <cstdint>

#include "cuda/core/math.cuh"
#include "cuda/variant/block_mask_row.cuh"
#include "cuda/variant/fwd_params.hpp"
#include "cuda/variant/online_softmax.cuh"
#include "cuda/variant/output_transform.cuh"
#include "cuda/variant/visibility.cuh"

namespace attnkit::cuda_backend {

/// The variant of one (sequence, query head h): Sq / Sk are the sequence's lengths.
struct AttentionVariant {
  VisibilityMask visibility;
  float scale_log2;  // scale * tau_h * log2(e): q.k -> base-2 logit, one multiply
  float bias_log2;   // log_gamma_h * log2(e) (-inf stays -inf: the keys are ignored)
  int bias_begin;    // keys [bias_begin, bias_end) take the bias (empty without one)
  int bias_end;
  float sink;        // sigma_h (natural log, not scaled); -inf without a learned sink
  float sink_log2;   // to_log2(sigma_h)
  float v_scale;     // FP8 cache: v_scale[h_kv] multiplies the output (1 otherwise)

  __device__ AttentionVariant(const FwdParams& p, int h, int seqlen_q, int seqlen_k)
      : visibility(p, seqlen_q, seqlen_k),
        scale_log2(p.scale * (p.maybe_head_scale != nullptr ? p.maybe_head_scale[h * p.head_scale_stride] : 1.0f) *
                   (p.maybe_k_scale != nullptr ? p.maybe_k_scale[(h / p.group) * p.k_scale_stride] : 1.0f) *
                   cuda_core::kLog2e),
        bias_log2(p.maybe_log_gamma != nullptr ? to_log2(p.maybe_log_gamma[h * p.log_gamma_stride]) : 0.0f),
        bias_begin(p.maybe_log_gamma != nullptr ? p.bias_begin : 0),
        bias_end(p.maybe_log_gamma != nullptr ? p.bias_end : 0),
        sink(p.maybe_sink_logit != nullptr ? p.maybe_sink_logit[h * p.sink_logit_stride] : -INFINITY),
        sink_log2(to_log2(sink)),
        v_scale(p.maybe_v_scale != nullptr ? p.maybe_v_scale[(h / p.group) * p.v_scale_stride] : 1.0f) {}

  // ---- SPEC 3: the logit transform (base-2 units) --------------------------------------
  /// \brief The logit of key j from the raw dot product q.k.
  __device__ __forceinline__ float logit(float dot, int j) const { return add_bias(j, dot * scale_log2); }
  /// \brief The key-range bias alone, on an already scaled logit x.
  __device__ __forceinline__ float add_bias(int j, float x) const {
    return j >= bias_begin && j < bias_end ? x + bias_log2 : x;
  }
  /// \brief True when keys [n0, n0 + kBlockN) meet the biased range (others take scale only).
  template <int kBlockN>
  __device__ __forceinline__ bool bias_touches(int n0) const {
    return n0 < bias_end && n0 + kBlockN > bias_begin;
  }

  // ---- SPEC 2: visibility --------------------------------------------------------------
  __device__ __forceinline__ bool visible(int i, int j) const { return visibility.visible(i, j); }
  template <int kBlockN>
  __device__ __forceinline__ TileKind classify(int m0, int m_last, int n0) const {
    return visibility.template classify<kBlockN>(m0, m_last, n0);
  }
  __device__ __forceinline__ VisibleKeys keys(int m0, int m_last) const { return visibility.keys(m0, m_last); }

  // ---- SPEC 5: the block-mask row of query block qb ------------------------------------
  __device__ static BlockMaskRow mask_row(const FwdParams& p, int b, int h, int qb) { return BlockMaskRow(p, b, h, qb); }

  // ---- SPEC 4: the learned sink, once, at the end ---------------------------------------
  __device__ __forceinline__ RowFinal finalize(const SoftmaxState& keys) const {
    RowFinal f = finalize_row(keys.m, keys.l, sink, sink_log2);
    f.out_scale *= v_scale;  // FP8 cache: O = v_scale * sum p V8 (V8 read exactly as 16-bit)
    return f;
  }

  // ---- SPEC 6: output transforms of row i ------------------------------------------------
  template <bool kIsBf16>
  __device__ static OutputTransform<kIsBf16> output(const FwdParams& p, int b, int h, int i, int64_t gate_row_offset) {
    return OutputTransform<kIsBf16>(p, b, h, i, gate_row_offset);
  }
};

}  // namespace attnkit::cuda_backend
