// Host code shared by the CUDA launchers (prefill, decode, statistics): status helpers, the
// runtime-to-template switches, the layout checks their cp.async / ldmatrix paths need, and
// the translation of a validated call into the FwdParams block that every variant hook
// reads. Header-only so that the CPU emulation of the kernels (tests/emulation) compiles it
// with the launchers.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "cuda/attention/fwd_params.hpp"
#include "host/problem.hpp"

namespace attnkit::cuda_backend {

inline Status not_supported(const std::string& message) { return Status(StatusCode::kNotSupported, message); }
inline Status cuda_error(const std::string& what, cudaError_t err) {
  return Status(StatusCode::kCudaError, what + ": " + cudaGetErrorString(err));
}

/// \brief Runtime head dim -> template argument (the one switch on this axis); `kernel`
/// names the kernel in the message.
template <class Fn>
Status switch_head_dim(int64_t head_dim, const char* kernel, Fn&& fn) {
  switch (head_dim) {
    case 64: return fn(std::integral_constant<int, 64>{});
    case 128: return fn(std::integral_constant<int, 128>{});
    case 256: return fn(std::integral_constant<int, 256>{});
    default: return not_supported("head dim " + std::to_string(head_dim) + ": the " + kernel +
                                  " supports head dims 64, 128 and 256");
  }
}

/// \brief Runtime dtype -> template argument (true = bf16).
template <class Fn>
Status switch_dtype(DType dtype, const char* kernel, Fn&& fn) {
  switch (dtype) {
    case DType::kBFloat16: return fn(std::true_type{});
    case DType::kFloat16: return fn(std::false_type{});
    default: return not_supported(std::string("dtype ") + dtype_name(dtype) + ": the " + kernel +
                                  " supports float16 and bfloat16 Q/K/V/O");
  }
}

/// \brief cp.async copies 16-byte chunks of Q/K/V rows (contiguous or paged), so every base
/// pointer must be 16-byte aligned and every non-last stride a multiple of 8 elements.
/// `kernel` names the kernel in the message ("CUDA kernel", "CUDA decode kernel").
inline Status check_row_alignment(const TensorView& t, const char* name, const char* kernel) {
  if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0) {
    return Status(StatusCode::kInvalidArgument, std::string(name) + ".data is not 16-byte aligned: the " + kernel +
                                                    " needs 16-byte aligned base pointers");
  }
  for (int dim = 0; dim + 1 < t.rank; ++dim) {
    if (t.stride[dim] % 8 != 0) {
      return Status(StatusCode::kInvalidArgument, std::string(name) + ".stride[" + std::to_string(dim) + "] = " +
                                                      std::to_string(t.stride[dim]) + ": the " + kernel +
                                                      " needs row strides that are multiples of 8 elements");
    }
  }
  return Status::ok();
}

/// \brief "bf16" or "fp16", for kernel names.
inline const char* dtype_tag(DType dtype) { return dtype == DType::kBFloat16 ? "bf16" : "fp16"; }

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
