// attnkit: the arguments of an attention call (SPEC sections 1 to 6).
#pragma once

#include <cstdint>
#include <optional>

#include "attnkit/tensor.hpp"

namespace attnkit {

/// \brief Compressed-row block mask (SPEC 5), as PyTorch FlexAttention's BlockMask.
/// kv_count int32 [Bm, Hm, NQB]; kv_index int32 [Bm, Hm, NQB, max_kv]. Bm is 1 or B,
/// Hm divides Hq. Absent when kv_count is absent.
struct BlockMask {
  TensorView kv_count;
  TensorView kv_index;
  int block_q = 128;
  int block_k = 128;

  bool present() const { return kv_count.present(); }
};

/// \brief Paged KV cache (SPEC 1, the decode path): K and V are caches
/// [num_pages, page_size, Hkv, D | Dv]; logical key j of sequence b lives at page
/// page_table[b][j / page_size], slot j % page_size. Absent when page_table is absent.
/// Q is batched, or varlen through cu_seqlens_q (cu_seqlens_k is then absent).
struct PagedKV {
  TensorView page_table;  ///< int32 [B, max_pages_per_seq]
  TensorView seqlens_k;   ///< int32 [B]: the number of keys of each sequence

  bool present() const { return page_table.present(); }
};

/// \brief Rectification epilogue terms (SPEC 6.1): o <- r * o + c per query block.
/// r float32 [B, Hq, NQB]; c float32 [B, Hq, NQB, Dv]. Absent when r is absent.
struct Rectification {
  TensorView r;
  TensorView c;
  int block_q = 128;

  bool present() const { return r.present(); }
};

/// \brief Activation applied to the gate before it multiplies the output.
enum class GateActivation : int {
  kSigmoid = 0,   ///< Gated Attention (Qwen3-Next)
  kIdentity = 1,  ///< MoH head weights
};

/// \brief Output gate (SPEC 6.2). g is in Q's dtype or float32, with its own strides.
/// Headwise: [B, Sq, Hq] (varlen [total_q, Hq]); elementwise: [B, Sq, Hq, Dv]
/// (varlen [total_q, Hq, Dv]). The mode follows from the rank. Absent when g is absent.
struct Gate {
  TensorView g;
  GateActivation activation = GateActivation::kSigmoid;

  bool present() const { return g.present(); }
};

/// \brief Everything one attention call needs. Optional tensors are absent by default
/// (rank 0). See SPEC.md for the math and docs/api.md for the decisions taken where
/// the spec is silent.
struct AttentionParams {
  // Required inputs and output (SPEC 1). Batched: Q [B, Sq, Hq, D], K [B, Sk, Hkv, D],
  // V [B, Sk, Hkv, Dv], O [B, Sq, Hq, Dv]. Varlen: the batch dimension is dropped.
  TensorView q;
  TensorView k;
  TensorView v;
  TensorView o;
  /// Optional float32 output: [B, Hq, Sq] batched, [Hq, total_q] varlen (natural log).
  TensorView lse;

  /// Varlen: int32 [B + 1] each; both or neither.
  TensorView cu_seqlens_q;
  TensorView cu_seqlens_k;
  /// Longest sequence; required when cu_seqlens live in device memory (the host cannot
  /// read them), computed from host cu_seqlens otherwise (a given value is then checked).
  int64_t max_seqlen_q = -1;
  int64_t max_seqlen_k = -1;

  /// FP8 KV cache: K and V may be float8 (kFloat8E4M3 or kFloat8E5M2, both the same) while Q
  /// and O stay float16 / bfloat16 (float32 too on the host). The cache holds K / k_scale
  /// and V / v_scale: attention runs on k_scale * K and v_scale * V, dequantised exactly.
  /// float32 [1] (per tensor) or [Hkv] (per kv head); required with FP8 K / V, absent otherwise.
  TensorView k_scale;
  TensorView v_scale;

  /// Paged KV cache (replaces cu_seqlens_k; max_seqlen_k is required when the page table
  /// lives in device memory).
  PagedKV paged_kv;

  /// Logit scale; default 1 / sqrt(D).
  std::optional<float> scale;

  // Visibility (SPEC 2). Causal is aligned bottom-right.
  bool causal = false;
  int64_t window_left = -1;   ///< -1 = off
  int64_t window_right = -1;  ///< -1 = off
  int64_t sink_tokens = 0;    ///< StreamingLLM: keys j < sink_tokens ignore window_left

  // Logits (SPEC 3).
  TensorView head_scale;  ///< optional float32 [Hq]: per-head temperature tau_h
  TensorView log_gamma;   ///< optional float32 [Hq]: bias added to keys in [bias_begin, bias_end)
  int64_t bias_begin = 0;
  int64_t bias_end = 1;

  // Softmax (SPEC 4).
  TensorView sink_logit;  ///< optional float32 [Hq]: learned sink, a virtual key of value 0

  BlockMask block_mask;    ///< SPEC 5
  Rectification rectify;   ///< SPEC 6.1
  Gate gate;               ///< SPEC 6.2

  /// cudaStream_t for device calls (nullptr = default stream); ignored on the host.
  void* stream = nullptr;
};

}  // namespace attnkit
