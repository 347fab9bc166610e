// The shape summary of a validated attention call, shared by the CPU reference, the
// dispatcher and the CUDA launchers. Built only by validate_attention().
#pragma once

#include <cstdint>
#include <vector>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"

namespace attnkit::detail {

/// What a validated call is for: decides which tensors are required.
enum class CallKind : int {
  kForward = 0,  ///< O required
  kStats = 1,    ///< O, LSE and output transforms unused
  kPlanner = 2,  ///< like kStats; planners add their own checks
};

struct Problem {
  CallKind kind = CallKind::kForward;
  DeviceKind device = DeviceKind::kHost;
  DType dtype = DType::kFloat32;  // Q and O (and K, V unless they are an FP8 cache)
  DType kv_dtype = DType::kFloat32;  // K and V: dtype, or kFloat8E4M3 / kFloat8E5M2
  bool kv_fp8 = false;               // K / V are float8 with k_scale / v_scale
  bool kv_scale_per_head = false;    // scales are [Hkv] (else [1])

  int64_t batch = 0;
  int64_t hq = 0;
  int64_t hkv = 0;
  int64_t d = 0;
  int64_t dv = 0;
  int64_t group = 1;  // hq / hkv

  bool varlen = false;  // Q (and K/V unless paged) in the packed varlen layout
  bool paged = false;   // K/V in a paged cache
  int64_t page_size = 0;
  const int32_t* page_table = nullptr;  // host page table (empty for device tables)
  int64_t page_table_stride[2] = {0, 0};
  int64_t max_sq = 0;   // batched: Sq
  int64_t max_sk = 0;   // batched: Sk
  int64_t total_q = 0;  // rows of Q (varlen) or B * Sq
  int64_t total_k = 0;

  /// Per-sequence row starts and lengths. Filled whenever they are known on the host
  /// (batched calls, or varlen with host cu_seqlens); empty for device cu_seqlens.
  std::vector<int64_t> q_start, k_start, sq, sk;

  double scale = 1.0;  // resolved default 1/sqrt(D)

  bool has_lse = false;
  bool has_head_scale = false;
  bool has_bias = false;
  bool has_sink = false;
  bool has_block_mask = false;
  bool has_rectify = false;
  bool has_gate = false;
  bool gate_elementwise = false;
  int64_t mask_nqb = 0;  // NQB / NKB of the block mask (when present)
  int64_t mask_nkb = 0;

  /// Element offset of row i of sequence b, head h, of a query-side tensor (Q, O,
  /// gate): batched [B, Sq, H, X] or varlen [total_q, H, X]. Needs host row starts.
  int64_t q_row(const TensorView& t, int64_t b, int64_t i, int64_t h) const {
    return varlen ? (q_start[b] + i) * t.stride[0] + h * t.stride[1]
                  : b * t.stride[0] + i * t.stride[1] + h * t.stride[2];
  }
  /// Same for a key-side tensor (K, V): batched [B, Sk, H, X], varlen [total_k, H, X], or
  /// paged [num_pages, page_size, H, X] through the host page table.
  int64_t k_row(const TensorView& t, int64_t b, int64_t j, int64_t h) const {
    if (paged) {
      const int64_t page = page_table[b * page_table_stride[0] + (j / page_size) * page_table_stride[1]];
      return page * t.stride[0] + (j % page_size) * t.stride[1] + h * t.stride[2];
    }
    return varlen ? (k_start[b] + j) * t.stride[0] + h * t.stride[1]
                  : b * t.stride[0] + j * t.stride[1] + h * t.stride[2];
  }
  /// Stride of the last (feature) dimension: always 1 after validation.
  static int64_t last_stride(const TensorView& t) { return t.stride[t.rank - 1]; }
};

}  // namespace attnkit::detail
