// SPEC 2 visibility, the one copy every kernel family calls (through AttentionVariant): per
// element, per (query tile, key tile) so that only tiles that straddle a boundary pay for
// per-element masking, and as the key ranges a block of rows may see. Causal is aligned
// bottom-right: query i sits at absolute position i' = i + Sk - Sq.
#pragma once

#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

enum class TileKind : int {
  kFull = 0,     // every (row, key) pair is visible (rows past Sq are don't-care)
  kPartial = 1,  // some pairs are masked: apply `visible` per element
  kMasked = 2,   // no pair is visible: skip the tile
};

/// The keys a block of query rows may see, as at most two ranges: the StreamingLLM sink
/// tokens [0, sink_end) and the main range [begin, end) (the sliding window, or [0, end)
/// without a left window, then sink_end = 0). Keys in the gap, and keys past the last
/// row's causal / right-window limit, are invisible to every row of the block.
struct VisibleKeys {
  int sink_end;
  int begin;
  int end;

  /// \brief Keys in both ranges, numbered 0 .. count() - 1 in ascending key order ("virtual" keys).
  __host__ __device__ int count() const { return sink_end + end - begin; }
  /// \brief Key index of virtual key v.
  __host__ __device__ int key(int v) const { return v < sink_end ? v : begin + (v - sink_end); }
};

struct VisibilityMask {
  int seqlen_q;
  int seqlen_k;
  int offset;  // Sk - Sq: i' = i + offset
  bool causal;
  int window_left;   // -1 = off
  int window_right;  // -1 = off
  int sink_tokens;   // keys j < sink_tokens ignore window_left

  __host__ __device__ VisibilityMask(const FwdParams& p, int sq, int sk)
      : seqlen_q(sq), seqlen_k(sk), offset(sk - sq), causal(p.causal),
        window_left(p.window_left), window_right(p.window_right), sink_tokens(p.sink_tokens) {}

  /// \brief SPEC 2 for one pair (query row i of the sequence, key j).
  __host__ __device__ __forceinline__ bool visible(int i, int j) const {
    const int ip = i + offset;
    if (j >= seqlen_k) return false;
    if (causal && j > ip) return false;
    if (window_right >= 0 && j > ip + window_right) return false;
    if (window_left >= 0 && j < ip - window_left && j >= sink_tokens) return false;
    return true;
  }

  /// \brief Classifies keys [n0, n0 + kBlockN) against query rows [m0, m_last].
  template <int kBlockN>
  __host__ __device__ TileKind classify(int m0, int m_last, int n0) const {
    const int n_last = n0 + kBlockN - 1;
    const int first_pos = m0 + offset;  // i' of the first / last row
    const int last_pos = m_last + offset;
    const int n_last_in_seq = n_last < seqlen_k ? n_last : seqlen_k - 1;
    if (n0 >= seqlen_k) return TileKind::kMasked;
    if (causal && n0 > last_pos) return TileKind::kMasked;
    if (window_right >= 0 && n0 > last_pos + window_right) return TileKind::kMasked;
    if (window_left >= 0 && n_last_in_seq < first_pos - window_left && n0 >= sink_tokens) {
      return TileKind::kMasked;
    }
    const bool full = n_last < seqlen_k && (!causal || n_last <= first_pos) &&
                      (window_right < 0 || n_last <= first_pos + window_right) &&
                      (window_left < 0 || n0 >= last_pos - window_left || n_last < sink_tokens);
    return full ? TileKind::kFull : TileKind::kPartial;
  }

  /// \brief One past the last key any of rows [m0, m_last] may see (<= 0: none).
  __host__ __device__ int key_end(int m_last) const {
    const int last_pos = m_last + offset;
    int end = seqlen_k;
    if (causal && last_pos + 1 < end) end = last_pos + 1;
    if (window_right >= 0 && last_pos + window_right + 1 < end) end = last_pos + window_right + 1;
    return end;
  }

  /// \brief First key of the sliding window of rows [m0, ...] (keys before it are visible
  /// only when they are sink tokens); 0 without a left window.
  __host__ __device__ int window_begin(int m0) const {
    if (window_left < 0) return 0;
    const int begin = m0 + offset - window_left;
    return begin > 0 ? begin : 0;
  }

  /// \brief The keys rows [m0, m_last] may see (a superset: per-element visibility still applies).
  __host__ __device__ VisibleKeys keys(int m0, int m_last) const {
    int end = key_end(m_last);
    if (end < 0) end = 0;
    if (window_left < 0) return VisibleKeys{0, 0, end};
    int begin = window_begin(m0);
    if (begin > end) begin = end;
    return VisibleKeys{sink_tokens < begin ? sink_tokens : begin, begin, end};
  }
};

}  // namespace attnkit::cuda_backend
