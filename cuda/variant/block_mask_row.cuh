// SPEC 5 block masks: one row (b, h, query block qb) of kv_count / kv_index, read by the
// used-entry rule of docs/api.md, written once here for every kernel family: of the first
// clamp(count, 0, max_kv) entries, those in [0, NKB) and above the last used entry are used
// (so used entries ascend, and a device mask with bad entries never reads out of range).
#pragma once

#include <cstdint>

#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

struct BlockMaskRow {
  const int32_t* maybe_index = nullptr;  // nullptr: no block mask, every key block is listed
  int64_t stride = 0;
  int count = 0;  // entries to read
  int nkb = 0;
  int block_k = 1;
  int pos = 0;    // next entry to read
  int last = -1;  // last used entry

  __device__ BlockMaskRow() {}

  /// \brief Row (b, h, qb) of the call's mask (none when the call has no mask). Rows past
  /// NQB list nothing.
  __device__ BlockMaskRow(const FwdParams& p, int b, int h, int qb) {
    if (p.maybe_kv_count == nullptr) return;
    const int bm = p.mask_batch == 1 ? 0 : b;
    const int hm = h / p.mask_group;
    maybe_index = p.maybe_kv_index;
    stride = p.kv_index_stride[3];
    nkb = p.mask_nkb;
    block_k = p.mask_block_k;
    if (qb >= p.mask_nqb) return;  // count 0
    const int c = p.maybe_kv_count[bm * p.kv_count_stride[0] + hm * p.kv_count_stride[1] + qb * p.kv_count_stride[2]];
    count = c < 0 ? 0 : (c > p.mask_max_kv ? p.mask_max_kv : c);
    maybe_index += bm * p.kv_index_stride[0] + hm * p.kv_index_stride[1] + qb * p.kv_index_stride[2];
  }

  __device__ bool present() const { return maybe_index != nullptr; }

  /// \brief The next used entry (a key block), ascending; -1 when the row has no more.
  __device__ int next_used() {
    while (pos < count) {
      const int e = maybe_index[pos * stride];
      ++pos;
      if (e >= 0 && e < nkb && e > last) {
        last = e;
        return e;
      }
    }
    return -1;
  }

  /// \brief Whether key block kb is listed. A cursor: successive calls must not decrease kb.
  __device__ bool lists(int kb) {
    if (maybe_index == nullptr) return true;
    while (last < kb && next_used() >= 0) {
    }
    return last == kb;
  }

  /// \brief lists(j / block_k) for key j (ascending j).
  __device__ bool lists_key(int j) { return lists(j / block_k); }

  /// \brief Whether key block kb is listed, in any order of questions (reads from the start).
  __device__ bool lists_any_order(int kb) const {
    BlockMaskRow fresh = *this;
    fresh.pos = 0;
    fresh.last = -1;
    return fresh.lists(kb);
  }
};

}  // namespace attnkit::cuda_backend
