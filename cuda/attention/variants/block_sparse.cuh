// Which kv tiles one CTA visits, in ascending order: the dense range allowed by the masks
// (with the gap between StreamingLLM sink tokens and the sliding window skipped), or the
// listed blocks of its block-mask row (SPEC 5). Tiles that SPEC 2 masks entirely are
// never returned, so the main loop only distinguishes full from partial tiles.
#pragma once

#include <cstdint>

#include "cuda/attention/fwd_params.hpp"
#include "cuda/attention/mask.cuh"

namespace attnkit::cuda_backend {

template <int kBlockN>
struct KvTileSchedule {
  VisibilityMask mask;
  int m0, m_last;
  int tile_end;                // one past the last tile any row may see
  int gap_begin, gap_end;      // tiles skipped between sink tokens and the window
  int cursor;                  // dense: next tile to look at

  // Block-sparse row (SPEC 5); row_index == nullptr for dense calls.
  const int32_t* row_index;
  int64_t index_stride;
  int count;         // entries to read, clamped to [0, max_kv]
  int pos;           // next entry to read
  int entry;         // current accepted entry (-1 before the first)
  int sub;           // next tile inside the current entry
  int tiles_per_entry;
  int nkb;

  __host__ __device__ KvTileSchedule(const FwdParams& p, const VisibilityMask& vis, int b, int h, int m0_,
                            int m_last_)
      : mask(vis), m0(m0_), m_last(m_last_), cursor(0), row_index(nullptr), index_stride(0),
        count(0), pos(0), entry(-1), sub(0), tiles_per_entry(1), nkb(0) {
    const int key_end = mask.key_end(m_last);
    tile_end = key_end > 0 ? (key_end + kBlockN - 1) / kBlockN : 0;
    gap_begin = gap_end = 0;
    if (mask.window_left >= 0) {
      const int sink_keys = mask.sink_tokens < key_end ? mask.sink_tokens : key_end;
      gap_begin = (sink_keys + kBlockN - 1) / kBlockN;
      gap_end = mask.window_begin(m0) / kBlockN;
      if (gap_end < gap_begin) gap_end = gap_begin;
    }
    if (p.maybe_kv_count != nullptr) {
      const int bm = p.mask_batch == 1 ? 0 : b;
      const int hm = h / p.mask_group;
      const int qb = m0 / p.mask_block_q;  // kBlockM <= block_q: the CTA is in one mask row
      if (qb < p.mask_nqb) {
        const int64_t row = bm * p.kv_count_stride[0] + hm * p.kv_count_stride[1] +
                            qb * p.kv_count_stride[2];
        int c = p.maybe_kv_count[row];
        count = c < 0 ? 0 : (c > p.mask_max_kv ? p.mask_max_kv : c);
        row_index = p.maybe_kv_index + bm * p.kv_index_stride[0] + hm * p.kv_index_stride[1] +
                    qb * p.kv_index_stride[2];
      } else {
        row_index = p.maybe_kv_index;  // count = 0: nothing is read
      }
      index_stride = p.kv_index_stride[3];
      tiles_per_entry = p.mask_block_k / kBlockN;
      nkb = p.mask_nkb;
    }
  }

  /// \brief The next kv tile to compute, or -1 when there is none.
  __host__ __device__ int next() {
    return row_index != nullptr ? next_listed() : next_dense();
  }

 private:
  __host__ __device__ bool skipped(int t) const {
    return t >= tile_end || (t >= gap_begin && t < gap_end) ||
           mask.template classify<kBlockN>(m0, m_last, t * kBlockN) == TileKind::kMasked;
  }

  __host__ __device__ int next_dense() {
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

  // Entries out of [0, NKB) or not above the last accepted one are ignored (SPEC 5); the
  // row is read no further than kv_count (clamped to max_kv).
  __host__ __device__ int next_listed() {
    while (true) {
      if (entry >= 0 && sub < tiles_per_entry) {
        const int t = entry * tiles_per_entry + sub;
        ++sub;
        if (t >= tile_end) return -1;  // accepted entries ascend: nothing visible follows
        if (!skipped(t)) return t;
        continue;
      }
      if (pos >= count) return -1;
      const int e = row_index[pos * index_stride];
      ++pos;
      if (e < 0 || e >= nkb || e <= entry) continue;
      entry = e;
      sub = 0;
    }
  }
};

}  // namespace attnkit::cuda_backend
