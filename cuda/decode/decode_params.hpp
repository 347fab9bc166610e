// The argument block of the split-KV decode kernel and its merge: the forward kernel's
// FwdParams (every SPEC 2-6 feature as a runtime flag, read through the device variant of
// cuda/variant/ as in prefill) plus the key-side layout of a paged or contiguous cache and
// the split-KV workspace.
#pragma once

#include <cstdint>

#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

struct DecodeParams {
  /// Q, K, V, O, LSE and every feature. fwd.k_stride / v_stride are used for contiguous
  /// caches only; fwd.maybe_cu_seqlens_k is nullptr for paged caches.
  FwdParams fwd;

  int hkv = 1;
  int max_seqlen_q = 0;  // rows of the workspace per sequence (batched Sq or the longest)
  int64_t cu_seqlens_q_stride = 1;
  int64_t cu_seqlens_k_stride = 1;

  // SPEC 1 paged cache: K/V [num_pages, page_size, Hkv, D]; key j of sequence b lives at
  // page maybe_page_table[b][j / page_size], slot j % page_size. nullptr: contiguous.
  const int32_t* maybe_page_table = nullptr;
  int64_t page_table_stride[2] = {0, 0};
  const int32_t* maybe_seqlens_k = nullptr;  // [B]; set together with the page table
  int64_t seqlens_k_stride = 1;
  int page_size = 1;
  int page_capacity = 0;  // max_pages_per_seq * page_size (clamped to int): longest usable sequence
  int64_t k_page_stride = 0, k_slot_stride = 0, k_head_stride = 0;
  int64_t v_page_stride = 0, v_slot_stride = 0, v_head_stride = 0;

  // Grid: one CTA per (split, kv head, row chunk, sequence), flattened in that order.
  int num_splits = 1;
  int row_chunks = 1;  // ceil(group * max_seqlen_q / rows per CTA)

  // Split-KV workspace (num_splits > 1), float32, indexed by
  // ((split * B + b) * max_seqlen_q + i) * Hq + h: unnormalised o [.., D] and (m, l) with
  // m in log2 units (the kernel's base-2 logits).
  float* maybe_partial_o = nullptr;
  float* maybe_partial_ml = nullptr;
};

}  // namespace attnkit::cuda_backend
