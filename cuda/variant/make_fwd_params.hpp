// The host half of the device variant: a validated call (AttentionParams + Problem) turned
// into the FwdParams block every variant hook reads. One function for every kernel family;
// a new feature adds its fields here and in fwd_params.hpp. Header-only, for the emulation.
#pragma once

#include <algorithm>
#include <cstdint>

#include "attnkit/params.hpp"
#include "common/problem.hpp"
#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

/// \brief `value` clamped to [lo, hi], as int (the kernels index positions in int).
inline int clamp_int(int64_t value, int64_t lo, int64_t hi) { return static_cast<int>(std::clamp(value, lo, hi)); }

/// \brief Batched [B, S, H, X] or varlen [total, H, X] strides of a query- or key-side tensor.
inline RowStrides row_strides(const TensorView& t, bool varlen) {
  RowStrides s;
  if (varlen) {
    s.row = t.stride[0];
    s.head = t.stride[1];
  } else {
    s.batch = t.stride[0];
    s.row = t.stride[1];
    s.head = t.stride[2];
  }
  return s;
}

/// \brief Every FwdParams field a validated call fixes, with K and V in the batched or varlen
/// layout of Q (a paged decode call overrides the key side).
inline FwdParams build_fwd_params(const detail::Problem& problem, const AttentionParams& a) {
  FwdParams p;
  const bool varlen = problem.varlen;
  p.q = a.q.data;
  p.k = a.k.data;
  p.v = a.v.data;
  p.o = a.o.data;
  p.q_stride = row_strides(a.q, varlen);
  p.k_stride = row_strides(a.k, varlen);
  p.v_stride = row_strides(a.v, varlen);
  p.o_stride = row_strides(a.o, varlen);
  p.batch = static_cast<int>(problem.batch);
  p.hq = static_cast<int>(problem.hq);
  p.group = static_cast<int>(problem.group);
  p.seqlen_q = static_cast<int>(problem.max_sq);
  p.seqlen_k = static_cast<int>(problem.max_sk);
  if (varlen) {
    p.maybe_cu_seqlens_q = static_cast<const int32_t*>(a.cu_seqlens_q.data);
    p.maybe_cu_seqlens_k = static_cast<const int32_t*>(a.cu_seqlens_k.data);
  }
  if (problem.has_lse) {
    p.maybe_lse = static_cast<float*>(a.lse.data);
    if (varlen) {  // [Hq, total_q]
      p.lse_head_stride = a.lse.stride[0];
      p.lse_row_stride = a.lse.stride[1];
    } else {  // [B, Hq, Sq]
      p.lse_batch_stride = a.lse.stride[0];
      p.lse_head_stride = a.lse.stride[1];
      p.lse_row_stride = a.lse.stride[2];
    }
  }

  if (problem.kv_fp8) {
    p.kv_fp8 = true;
    p.kv_e5m2 = problem.kv_dtype == DType::kFloat8E5M2;
    p.maybe_k_scale = static_cast<const float*>(a.k_scale.data);
    p.k_scale_stride = a.k_scale.shape[0] > 1 ? a.k_scale.stride[0] : 0;
    p.maybe_v_scale = static_cast<const float*>(a.v_scale.data);
    p.v_scale_stride = a.v_scale.shape[0] > 1 ? a.v_scale.stride[0] : 0;
  }

  // A window of max(Sq, Sk) already masks nothing (window_left needs >= Sk - 1, window_right
  // >= Sq - 1), so wider ones clamp to it. Not Sq + Sk: the kernel forms i' +- window in
  // int, with i' < 2^30, and Sq + Sk can reach 2^31.
  const int64_t span = std::max(problem.max_sq, problem.max_sk);
  p.causal = a.causal;
  p.window_left = a.window_left < 0 ? -1 : clamp_int(a.window_left, 0, span);
  p.window_right = a.window_right < 0 ? -1 : clamp_int(a.window_right, 0, span);
  p.sink_tokens = clamp_int(a.sink_tokens, 0, problem.max_sk + 1);

  p.scale = static_cast<float>(problem.scale);
  if (problem.has_head_scale) {
    p.maybe_head_scale = static_cast<const float*>(a.head_scale.data);
    p.head_scale_stride = a.head_scale.stride[0];
  }
  if (problem.has_bias) {
    p.maybe_log_gamma = static_cast<const float*>(a.log_gamma.data);
    p.log_gamma_stride = a.log_gamma.stride[0];
    p.bias_begin = clamp_int(a.bias_begin, 0, problem.max_sk + 1);
    p.bias_end = clamp_int(a.bias_end, 0, problem.max_sk + 1);
  }
  if (problem.has_sink) {
    p.maybe_sink_logit = static_cast<const float*>(a.sink_logit.data);
    p.sink_logit_stride = a.sink_logit.stride[0];
  }
  if (problem.has_block_mask) {
    const BlockMask& m = a.block_mask;
    p.maybe_kv_count = static_cast<const int32_t*>(m.kv_count.data);
    p.maybe_kv_index = static_cast<const int32_t*>(m.kv_index.data);
    for (int d = 0; d < 3; ++d) p.kv_count_stride[d] = m.kv_count.stride[d];
    for (int d = 0; d < 4; ++d) p.kv_index_stride[d] = m.kv_index.stride[d];
    p.mask_batch = static_cast<int>(m.kv_count.shape[0]);
    p.mask_group = static_cast<int>(problem.hq / m.kv_count.shape[1]);
    p.mask_nqb = static_cast<int>(m.kv_count.shape[2]);
    p.mask_nkb = static_cast<int>(problem.mask_nkb);
    p.mask_max_kv = static_cast<int>(m.kv_index.shape[3]);
    p.mask_block_q = m.block_q;
    p.mask_block_k = m.block_k;
  }
  if (problem.has_rectify) {
    const Rectification& r = a.rectify;
    p.maybe_rectify_r = static_cast<const float*>(r.r.data);
    p.maybe_rectify_c = static_cast<const float*>(r.c.data);
    for (int d = 0; d < 3; ++d) p.rectify_r_stride[d] = r.r.stride[d];
    for (int d = 0; d < 4; ++d) p.rectify_c_stride[d] = r.c.stride[d];
    p.rectify_block_q = r.block_q;
    p.rectify_nqb = static_cast<int>(r.r.shape[2]);
  }
  if (problem.has_gate) {
    const TensorView& g = a.gate.g;
    p.maybe_gate = g.data;
    p.gate_elementwise = problem.gate_elementwise;
    p.gate_is_float32 = g.dtype == DType::kFloat32;
    p.gate_sigmoid = a.gate.activation == GateActivation::kSigmoid;
    if (varlen) {  // [total_q, Hq] or [total_q, Hq, Dv]
      p.gate_stride.row = g.stride[0];
      p.gate_stride.head = g.stride[1];
      p.gate_col_stride = problem.gate_elementwise ? g.stride[2] : 0;
    } else {  // [B, Sq, Hq] or [B, Sq, Hq, Dv]
      p.gate_stride.batch = g.stride[0];
      p.gate_stride.row = g.stride[1];
      p.gate_stride.head = g.stride[2];
      p.gate_col_stride = problem.gate_elementwise ? g.stride[3] : 0;
    }
  }
  return p;
}

}  // namespace attnkit::cuda_backend
