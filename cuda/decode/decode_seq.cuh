// Where one sequence lives for the decode kernel: Q/O rows (batched or varlen through
// device cu_seqlens_q) and K/V rows (batched, varlen, or a paged cache). Offsets are int64.
#pragma once

#include <cstdint>

#include "cuda/decode/decode_params.hpp"

namespace attnkit::cuda_backend {

struct DecodeSeq {
  int64_t q_row_start = 0;  // first global row of the sequence (0 when batched)
  int64_t k_row_start = 0;  // contiguous varlen caches only
  int seqlen_q = 0;
  int seqlen_k = 0;

  /// Lengths read from device arrays are clamped to the host's maxima (max_seqlen_q/k),
  /// so a bad device length can never index past the workspace or the page-table row.
  __device__ DecodeSeq(const DecodeParams& p, int b) {
    const FwdParams& f = p.fwd;
    if (f.maybe_cu_seqlens_q != nullptr) {
      q_row_start = f.maybe_cu_seqlens_q[b * p.cu_seqlens_q_stride];
      seqlen_q = static_cast<int>(f.maybe_cu_seqlens_q[(b + 1) * p.cu_seqlens_q_stride] - q_row_start);
    } else {
      seqlen_q = f.seqlen_q;
    }
    if (p.maybe_seqlens_k != nullptr) {
      seqlen_k = p.maybe_seqlens_k[b * p.seqlens_k_stride];
      if (seqlen_k > p.page_capacity) seqlen_k = p.page_capacity;
    } else if (f.maybe_cu_seqlens_k != nullptr) {
      k_row_start = f.maybe_cu_seqlens_k[b * p.cu_seqlens_k_stride];
      seqlen_k = static_cast<int>(f.maybe_cu_seqlens_k[(b + 1) * p.cu_seqlens_k_stride] - k_row_start);
    } else {
      seqlen_k = f.seqlen_k;
    }
    seqlen_q = seqlen_q < 0 ? 0 : (seqlen_q > p.max_seqlen_q ? p.max_seqlen_q : seqlen_q);
    seqlen_k = seqlen_k < 0 ? 0 : (seqlen_k > f.seqlen_k ? f.seqlen_k : seqlen_k);
  }

  /// \brief Element offset of (batch b, row i of the sequence, head h) in a query-side tensor.
  __device__ int64_t q_offset(const RowStrides& s, int b, int i, int h) const {
    return static_cast<int64_t>(b) * s.batch + (q_row_start + i) * s.row + static_cast<int64_t>(h) * s.head;
  }

  /// \brief The page of a paged cache holding key j of sequence b (a page-table read).
  __device__ int32_t page_of(const DecodeParams& p, int b, int j) const {
    return p.maybe_page_table[b * p.page_table_stride[0] + (j / p.page_size) * p.page_table_stride[1]];
  }

  /// \brief Element offsets of key j of kv head hk in K and in V, in `page` of a paged cache.
  __device__ static void paged_offsets(const DecodeParams& p, int64_t page, int hk, int j, int64_t* k_off,
                                       int64_t* v_off) {
    const int64_t slot = j % p.page_size;
    *k_off = page * p.k_page_stride + slot * p.k_slot_stride + static_cast<int64_t>(hk) * p.k_head_stride;
    *v_off = page * p.v_page_stride + slot * p.v_slot_stride + static_cast<int64_t>(hk) * p.v_head_stride;
  }

  /// \brief Element offsets of key j of kv head hk in K and in V.
  __device__ void kv_offsets(const DecodeParams& p, int b, int hk, int j, int64_t* k_off, int64_t* v_off) const {
    if (p.maybe_page_table != nullptr) {
      paged_offsets(p, page_of(p, b, j), hk, j, k_off, v_off);
      return;
    }
    const FwdParams& f = p.fwd;
    const int64_t row = k_row_start + j;
    *k_off = static_cast<int64_t>(b) * f.k_stride.batch + row * f.k_stride.row + static_cast<int64_t>(hk) * f.k_stride.head;
    *v_off = static_cast<int64_t>(b) * f.v_stride.batch + row * f.v_stride.row + static_cast<int64_t>(hk) * f.v_stride.head;
  }
};

}  // namespace attnkit::cuda_backend
