// The fuzzer's model of a call: buffer-backed tensors (Backed, Call), view arithmetic, FUZZ_CHECK.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <vector>

#include "attnkit/attnkit.h"

#define FUZZ_CHECK(cond, ...)                                   \
  do {                                                          \
    if (!(cond)) {                                              \
      std::fprintf(stderr, "fuzz_c_api: check failed: %s: ", #cond); \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
      std::abort();                                             \
    }                                                           \
  } while (0)

namespace attnkit_fuzz {

inline constexpr int64_t kMaxSpanElements = int64_t{1} << 15;  // per tensor buffer

inline bool is_float_dtype(int dtype) {
  return dtype == ATTNKIT_DTYPE_FLOAT32 || dtype == ATTNKIT_DTYPE_FLOAT16 || dtype == ATTNKIT_DTYPE_BFLOAT16;
}

/// The FP8 KV cache formats (K and V only, with k_scale / v_scale).
inline bool is_fp8_dtype(int dtype) {
  return dtype == ATTNKIT_DTYPE_FLOAT8_E4M3 || dtype == ATTNKIT_DTYPE_FLOAT8_E5M2;
}

/// A dtype value the library accepts (attnkit_dtype), for sizing views.
inline bool is_known_dtype(int dtype) { return dtype >= ATTNKIT_DTYPE_FLOAT32 && dtype <= ATTNKIT_DTYPE_FLOAT8_E5M2; }

inline int element_bytes(int dtype) {
  return dtype == ATTNKIT_DTYPE_FLOAT16 || dtype == ATTNKIT_DTYPE_BFLOAT16             ? 2
         : dtype == ATTNKIT_DTYPE_UINT8 || is_fp8_dtype(dtype) ? 1
                                                                                       : 4;
}

// ---- tensors backed by buffers that cover their views ----------------------------

/// One tensor argument and the memory behind it.
struct Backed {
  attnkit_tensor t{};
  std::vector<uint8_t> bytes;  // covers every element the view can address
  size_t origin = 0;           // byte offset of element 0 (data) inside `bytes`
  bool is_output = false;
  bool host_backed = false;    // data points into `bytes`
  bool check_finite = false;   // counts towards the "all inputs finite" rule
  bool natural_view = false;   // make_tensor applied no mutation but layout / padding (a valid view)
};

/// Element offsets [lo, hi] the view can address; false when it addresses nothing
/// (an empty or malformed shape) or the span does not fit the cap.
enum class Span { kEmpty, kFits, kTooLarge };
inline Span view_span(const attnkit_tensor& t, int64_t* lo, int64_t* hi) {
  *lo = 0;
  *hi = 0;
  if (t.rank <= 0) return Span::kEmpty;  // absent: nothing is addressed
  const int rank = t.rank > ATTNKIT_MAX_RANK ? ATTNKIT_MAX_RANK : t.rank;
  for (int i = 0; i < rank; ++i) {
    if (t.shape[i] <= 0) return Span::kEmpty;
  }
  for (int i = 0; i < rank; ++i) {
    int64_t reach;
    if (__builtin_mul_overflow(t.shape[i] - 1, t.stride[i], &reach)) return Span::kTooLarge;
    if (__builtin_add_overflow(reach < 0 ? *lo : *hi, reach, reach < 0 ? lo : hi)) return Span::kTooLarge;
  }
  int64_t span;
  if (__builtin_sub_overflow(*hi, *lo, &span) || span >= kMaxSpanElements) return Span::kTooLarge;
  // Broadcast (stride 0) views can be huge over a tiny span: bound the element count too,
  // since the library (and for_each_offset) visit every element.
  int64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    if (__builtin_mul_overflow(count, t.shape[i], &count) || count > kMaxSpanElements) return Span::kTooLarge;
  }
  return Span::kFits;
}

/// Calls fn(offset) for every element the view addresses (in elements from data).
/// `limit_dim` >= 0 visits only indices < `limit` along that dimension.
template <class Fn>
void for_each_offset(const attnkit_tensor& t, Fn&& fn, int limit_dim = -1, int64_t limit = 0) {
  int64_t lo, hi;
  if (view_span(t, &lo, &hi) != Span::kFits) return;
  int64_t shape[ATTNKIT_MAX_RANK] = {1, 1, 1, 1}, stride[ATTNKIT_MAX_RANK] = {0, 0, 0, 0};
  for (int i = 0; i < t.rank && i < ATTNKIT_MAX_RANK; ++i) {
    shape[i] = t.shape[i];
    stride[i] = t.stride[i];
  }
  if (limit_dim >= 0 && limit_dim < ATTNKIT_MAX_RANK) shape[limit_dim] = std::min(shape[limit_dim], limit);
  for (int64_t a = 0; a < shape[0]; ++a)
    for (int64_t b = 0; b < shape[1]; ++b)
      for (int64_t c = 0; c < shape[2]; ++c)
        for (int64_t d = 0; d < shape[3]; ++d) fn(a * stride[0] + b * stride[1] + c * stride[2] + d * stride[3]);
}

/// Whether every element of the view has its own offset (no two indices share memory, as
/// a stride-0 broadcast or a mutated stride can make them). Empty views count as injective.
inline bool view_is_injective(const attnkit_tensor& t) {
  int64_t lo, hi;
  if (view_span(t, &lo, &hi) != Span::kFits) return true;
  std::vector<bool> seen(static_cast<size_t>(hi - lo + 1), false);
  bool injective = true;
  for_each_offset(t, [&](int64_t off) {
    const size_t i = static_cast<size_t>(off - lo);
    if (seen[i]) injective = false;
    seen[i] = true;
  });
  return injective;
}

/// The natural (unmutated) problem sizes the decoder chose.
struct Dims {
  bool varlen = false;
  int64_t batch = 0, hq = 0, max_sq = 0, max_sk = 0, rows_k = 0;
};

/// Everything one fuzz input builds; owns all buffers.
struct Call {
  std::deque<Backed> tensors;
  Dims dims;
  bool skip = false;  // a view could not be backed within the cap
  Backed* add() { return &tensors.emplace_back(); }
};

}  // namespace attnkit_fuzz
