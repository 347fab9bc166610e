#include "host/reference/block_mask.hpp"

#include <algorithm>

namespace attnkit::reference {

namespace {

// Element offsets of the 3-d count / 4-d index / 4-d dense tensors.
int64_t at3(const TensorView& t, int64_t b, int64_t h, int64_t q) {
  return b * t.stride[0] + h * t.stride[1] + q * t.stride[2];
}
int64_t at4(const TensorView& t, int64_t b, int64_t h, int64_t q, int64_t k) {
  return at3(t, b, h, q) + k * t.stride[3];
}

/// Entries of a row that are read: kv_count clamped to [0, max_kv].
int64_t effective_count(int64_t count, int64_t max_kv) { return std::clamp<int64_t>(count, 0, max_kv); }

}  // namespace

int64_t dense_longest_row(const TensorView& dense) {
  const uint8_t* d = static_cast<const uint8_t*>(dense.data);
  int64_t longest = 0;
  for (int64_t b = 0; b < dense.shape[0]; ++b)
    for (int64_t h = 0; h < dense.shape[1]; ++h)
      for (int64_t q = 0; q < dense.shape[2]; ++q) {
        int64_t n = 0;
        for (int64_t k = 0; k < dense.shape[3]; ++k) n += d[at4(dense, b, h, q, k)] != 0;
        longest = std::max(longest, n);
      }
  return longest;
}

void block_mask_from_dense(const TensorView& dense, const BlockMask& out) {
  const uint8_t* d = static_cast<const uint8_t*>(dense.data);
  int32_t* count = static_cast<int32_t*>(out.kv_count.data);
  int32_t* index = static_cast<int32_t*>(out.kv_index.data);
  const int64_t max_kv = out.kv_index.shape[3];
  for (int64_t b = 0; b < dense.shape[0]; ++b)
    for (int64_t h = 0; h < dense.shape[1]; ++h)
      for (int64_t q = 0; q < dense.shape[2]; ++q) {
        int64_t n = 0;
        for (int64_t k = 0; k < dense.shape[3]; ++k) {
          if (d[at4(dense, b, h, q, k)] != 0) index[at4(out.kv_index, b, h, q, n++)] = static_cast<int32_t>(k);
        }
        count[at3(out.kv_count, b, h, q)] = static_cast<int32_t>(n);
        for (int64_t e = n; e < max_kv; ++e) index[at4(out.kv_index, b, h, q, e)] = -1;
      }
}

void block_mask_to_dense(const BlockMask& mask, const TensorView& dense_out) {
  const int32_t* count = static_cast<const int32_t*>(mask.kv_count.data);
  const int32_t* index = static_cast<const int32_t*>(mask.kv_index.data);
  uint8_t* d = static_cast<uint8_t*>(dense_out.data);
  const int64_t max_kv = mask.kv_index.shape[3], nkb = dense_out.shape[3];
  for (int64_t b = 0; b < dense_out.shape[0]; ++b)
    for (int64_t h = 0; h < dense_out.shape[1]; ++h)
      for (int64_t q = 0; q < dense_out.shape[2]; ++q) {
        for (int64_t k = 0; k < nkb; ++k) d[at4(dense_out, b, h, q, k)] = 0;
        const int64_t n = effective_count(count[at3(mask.kv_count, b, h, q)], max_kv);
        int64_t last = -1;  // the kernels' rule: in range and above the last used entry
        for (int64_t e = 0; e < n; ++e) {
          const int64_t kb = index[at4(mask.kv_index, b, h, q, e)];
          if (kb > last && kb < nkb) {
            d[at4(dense_out, b, h, q, kb)] = 1;
            last = kb;
          }
        }
      }
}

int64_t block_mask_bad_entries(const BlockMask& mask, int64_t nkb) {
  const TensorView& c = mask.kv_count;
  const TensorView& x = mask.kv_index;
  const int32_t* count = static_cast<const int32_t*>(c.data);
  const int32_t* index = static_cast<const int32_t*>(x.data);
  const int64_t max_kv = x.shape[3];
  int64_t bad = 0;
  for (int64_t b = 0; b < c.shape[0]; ++b)
    for (int64_t h = 0; h < c.shape[1]; ++h)
      for (int64_t q = 0; q < c.shape[2]; ++q) {
        const int64_t raw = count[at3(c, b, h, q)];
        if (raw < 0 || raw > max_kv) ++bad;
        const int64_t n = effective_count(raw, max_kv);
        for (int64_t e = 0; e < n; ++e) {
          const int64_t kb = index[at4(x, b, h, q, e)];
          const bool out_of_range = kb < 0 || kb >= nkb;
          const bool not_ascending = e > 0 && kb <= index[at4(x, b, h, q, e - 1)];
          if (out_of_range || not_ascending) ++bad;
        }
      }
  return bad;
}

}  // namespace attnkit::reference
