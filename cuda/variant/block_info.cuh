// Where one CTA's sequence lives: row offsets of Q/O and K/V and the sequence lengths,
// from device cu_seqlens (varlen) or the batch index (batched). Offsets are int64.
#pragma once

#include <cstdint>

#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

struct BlockInfo {
  int64_t q_row_start;  // first global row of the sequence (0 when batched)
  int64_t k_row_start;
  int seqlen_q;
  int seqlen_k;

  __device__ BlockInfo(const FwdParams& p, int b) {
    if (p.maybe_cu_seqlens_q != nullptr) {
      q_row_start = p.maybe_cu_seqlens_q[b];
      k_row_start = p.maybe_cu_seqlens_k[b];
      seqlen_q = p.maybe_cu_seqlens_q[b + 1] - p.maybe_cu_seqlens_q[b];
      seqlen_k = p.maybe_cu_seqlens_k[b + 1] - p.maybe_cu_seqlens_k[b];
    } else {
      q_row_start = 0;
      k_row_start = 0;
      seqlen_q = p.seqlen_q;
      seqlen_k = p.seqlen_k;
    }
  }

  /// \brief Element offset of (batch b, row i of the sequence, head h) in a query-side tensor.
  __device__ int64_t q_offset(const RowStrides& s, int b, int i, int h) const {
    return static_cast<int64_t>(b) * s.batch + (q_row_start + i) * s.row +
           static_cast<int64_t>(h) * s.head;
  }
  /// \brief Same for a key-side tensor.
  __device__ int64_t k_offset(const RowStrides& s, int b, int j, int h) const {
    return static_cast<int64_t>(b) * s.batch + (k_row_start + j) * s.row +
           static_cast<int64_t>(h) * s.head;
  }
};

}  // namespace attnkit::cuda_backend
