// The flat argument block of the forward kernel: pointers, int64 strides (elements) and
// per-launch flags. Built on the host by launch.cu from a validated call; every feature
// that is uniform over one launch is a runtime flag here, so one instantiation per
// (head dim, dtype) serves every variant.
#pragma once

#include <cstdint>

namespace attnkit::cuda_backend {

/// \brief Strides of a query-side tensor (Q, O, gate) or key-side tensor (K, V), in elements.
/// Batched: batch, row, head. Varlen: batch = 0 and rows are global (cu_seqlens offsets).
struct RowStrides {
  int64_t batch = 0;
  int64_t row = 0;
  int64_t head = 0;
};

struct FwdParams {
  // SPEC 1: Q, K, V, O of one dtype; last dimension contiguous.
  const void* q = nullptr;
  const void* k = nullptr;
  const void* v = nullptr;
  void* o = nullptr;
  RowStrides q_stride, k_stride, v_stride, o_stride;
  // Internal, used by ACT: O is float32 (8-byte aligned rows, even strides) instead of Q's
  // dtype, so that ACT calibrates before the one rounding. The public API keeps O in Q's dtype.
  bool o_is_float32 = false;

  int batch = 0;
  int hq = 0;
  int group = 1;     // Hq / Hkv: query head h reads kv head h / group
  int seqlen_q = 0;  // batched Sq; varlen: the longest sequence (grid size only)
  int seqlen_k = 0;

  // Varlen (device int32 [B + 1]); nullptr for batched calls.
  const int32_t* maybe_cu_seqlens_q = nullptr;
  const int32_t* maybe_cu_seqlens_k = nullptr;

  // Optional LSE, float32: batched [B, Hq, Sq], varlen [Hq, total_q].
  float* maybe_lse = nullptr;
  int64_t lse_batch_stride = 0;
  int64_t lse_head_stride = 0;
  int64_t lse_row_stride = 0;

  // FP8 KV cache (docs/api.md): K / V are float8 (E4M3, or E5M2 when kv_e5m2); the variant
  // dequantises exactly by folding k_scale[h_kv] into the logit scale and v_scale[h_kv] into
  // the output scale. Strides are 0 for per-tensor [1] scales.
  bool kv_fp8 = false;
  bool kv_e5m2 = false;
  const float* maybe_k_scale = nullptr;
  int64_t k_scale_stride = 0;
  const float* maybe_v_scale = nullptr;
  int64_t v_scale_stride = 0;

  // SPEC 2 visibility. Window sizes are clamped to Sq + Sk (larger is the same mask).
  bool causal = false;
  int window_left = -1;
  int window_right = -1;
  int sink_tokens = 0;

  // SPEC 3 logits: s = scale * tau_h * q.k + bias (keys in [bias_begin, bias_end)).
  float scale = 1.0f;
  const float* maybe_head_scale = nullptr;
  int64_t head_scale_stride = 1;
  const float* maybe_log_gamma = nullptr;
  int64_t log_gamma_stride = 1;
  int bias_begin = 0;
  int bias_end = 0;

  // SPEC 4 learned sink (natural-log units, not scaled).
  const float* maybe_sink_logit = nullptr;
  int64_t sink_logit_stride = 1;

  // SPEC 5 block mask: kv_count [Bm, Hm, NQB], kv_index [Bm, Hm, NQB, max_kv].
  const int32_t* maybe_kv_count = nullptr;
  const int32_t* maybe_kv_index = nullptr;
  int64_t kv_count_stride[3] = {0, 0, 0};
  int64_t kv_index_stride[4] = {0, 0, 0, 0};
  int mask_batch = 1;     // Bm (1 = broadcast over the batch)
  int mask_group = 1;     // Hq / Hm
  int mask_nqb = 0;
  int mask_nkb = 0;
  int mask_max_kv = 0;
  int mask_block_q = 128;
  int mask_block_k = 128;

  // SPEC 6.1 rectification: r [B, Hq, NQB], c [B, Hq, NQB, Dv], float32.
  const float* maybe_rectify_r = nullptr;
  const float* maybe_rectify_c = nullptr;
  int64_t rectify_r_stride[3] = {0, 0, 0};
  int64_t rectify_c_stride[4] = {0, 0, 0, 0};
  int rectify_block_q = 128;
  int rectify_nqb = 0;

  // SPEC 6.2 gate: headwise [B, Sq, Hq] / [total_q, Hq] or elementwise with a Dv axis.
  const void* maybe_gate = nullptr;
  RowStrides gate_stride;
  int64_t gate_col_stride = 0;  // elementwise only
  bool gate_elementwise = false;
  bool gate_is_float32 = false;
  bool gate_sigmoid = true;
};

}  // namespace attnkit::cuda_backend
