// The key-tile schedule of a block of query rows: which kv tiles of kBlockN keys it visits,
// in ascending order. Dense calls walk the visible keys of SPEC 2 (the gap between the
// StreamingLLM sink tokens and the sliding window skipped); block-sparse calls walk the
// used entries of their block-mask row (SPEC 5), each entry as block_k / kBlockN tiles.
// Tiles that SPEC 2 masks entirely are never returned, so a main loop only tells full
// tiles from partial ones. Which tile shapes can walk which masks is decided here too
// (supports_block_mask), not by a kernel's static_assert.
#pragma once

#include <cstdint>

#include "cuda/variant/block_mask_row.cuh"
#include "cuda/variant/fwd_params.hpp"
#include "cuda/variant/visibility.cuh"

namespace attnkit::cuda_backend {

/// \brief Whether a CTA of block_m query rows walking tiles of block_n keys can follow a mask
/// of block_q x block_k blocks: the CTA's rows must lie in one mask row (block_q a multiple
/// of block_m) and a tile in one mask block (block_k a multiple of block_n).
constexpr bool supports_block_mask(int block_m, int block_n, int64_t block_q, int64_t block_k) {
  return block_q > 0 && block_k > 0 && block_q % block_m == 0 && block_k % block_n == 0;
}

template <int kBlockN>
struct KvTileSchedule {
  VisibilityMask mask;
  int m0, m_last;
  int tile_end;            // one past the last tile any row may see
  int gap_begin, gap_end;  // tiles skipped between sink tokens and the window
  int cursor = 0;          // dense: next tile to look at
  BlockMaskRow row;        // block-sparse: the CTA's mask row (present() == false: dense)
  int entry = -1;          // current used entry
  int sub = 0;             // next tile inside it
  int tiles_per_entry = 1;

  /// The CTA's rows [m0_, m_last_] lie in one mask row (supports_block_mask).
  __device__ KvTileSchedule(const FwdParams& p, const VisibilityMask& vis, int b, int h, int m0_, int m_last_)
      : mask(vis), m0(m0_), m_last(m_last_) {
    const VisibleKeys keys = mask.keys(m0, m_last);
    tile_end = (keys.end + kBlockN - 1) / kBlockN;
    gap_begin = (keys.sink_end + kBlockN - 1) / kBlockN;
    gap_end = keys.begin / kBlockN;
    if (gap_end < gap_begin) gap_end = gap_begin;
    if (p.maybe_kv_count != nullptr) {
      row = BlockMaskRow(p, b, h, m0 / p.mask_block_q);
      tiles_per_entry = p.mask_block_k / kBlockN;
    }
  }

  /// \brief The next kv tile to compute, or -1 when there is none.
  __device__ int next() { return row.present() ? next_listed() : next_dense(); }

 private:
  __device__ bool skipped(int t) const {
    return t >= tile_end || (t >= gap_begin && t < gap_end) ||
           mask.template classify<kBlockN>(m0, m_last, t * kBlockN) == TileKind::kMasked;
  }

  __device__ int next_dense() {
    while (cursor < tile_end) {
      const int t = cursor;
      if (t >= gap_begin && t < gap_end) {
        cursor = gap_end;
        continue;
      }
      cursor = t + 1;
      if (!skipped(t)) return t;
    }
    return -1;
  }

  __device__ int next_listed() {
    while (true) {
      if (entry >= 0 && sub < tiles_per_entry) {
        const int t = entry * tiles_per_entry + sub;
        ++sub;
        if (t >= tile_end) return -1;  // used entries ascend: nothing visible follows
        if (!skipped(t)) return t;
        continue;
      }
      entry = row.next_used();
      if (entry < 0) return -1;
      sub = 0;
    }
  }
};

}  // namespace attnkit::cuda_backend
