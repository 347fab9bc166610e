// libFuzzer target for the C API (docs/reliability.md): random bytes become an
// attnkit_attention_params (shapes, strides, dtypes, options, auxiliary arrays, varlen
// offsets, block masks, rectification, gate), then attnkit_is_supported, attnkit_explain
// and attnkit_forward run on it. Built with ASan + UBSan, so an out-of-bounds access or
// undefined behaviour in the library is a crash; the checks below turn broken promises
// into crashes too:
//   1. is_supported, explain and forward agree (one select_kernel feeds all three);
//   2. on error, every output buffer is bit-for-bit untouched and last_error is set;
//   3. on success, no byte outside the O / LSE views changed, and when every float
//      input that the library does not validate (q, k, v, rectify.r/c, gate.g) is
//      finite, no element of O or LSE is NaN (outputs are pre-filled with NaN, so this
//      also proves every element was written);
//   4. inputs are never modified.
//
// The fuzzer must not blame the library for its own bugs: every tensor is backed by a
// buffer that covers every element its declared shape and strides can address (negative
// strides included: the data pointer then sits inside the buffer). When that span is
// over kMaxSpanElements the input is skipped. Tensors that claim to live on a CUDA
// device point at a PROT_NONE page, so a host read of one is a crash.
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <limits>
#include <vector>

#include "attnkit/attnkit.h"

namespace {

constexpr int64_t kMaxSpanElements = int64_t{1} << 15;  // per tensor buffer
constexpr int64_t kMaxBatch = int64_t{1} << 16;        // see huge_batch
constexpr size_t kElementBytes = 4;  // buffers are sized for the widest dtype
constexpr uint8_t kSentinel = 0xFF;  // NaN in float32, float16 and bfloat16; -1 in int32

#define FUZZ_CHECK(cond, ...)                                   \
  do {                                                          \
    if (!(cond)) {                                              \
      std::fprintf(stderr, "fuzz_c_api: check failed: %s: ", #cond); \
      std::fprintf(stderr, __VA_ARGS__);                        \
      std::fprintf(stderr, "\n");                               \
      std::abort();                                             \
    }                                                           \
  } while (0)

/// A page no host code may touch: the data pointer of every "device" tensor.
void* device_page() {
  static void* page = [] {
    void* p = mmap(nullptr, static_cast<size_t>(sysconf(_SC_PAGESIZE)), PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }();
  return page;
}

// ---- float encodings (the fuzzer writes its own inputs) ------------------------

uint16_t to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  return static_cast<uint16_t>(x >> 16);  // truncation is fine for test inputs
}

uint16_t to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (abs < 0x38800000u) return sign;  // flush tiny values
  return static_cast<uint16_t>(sign | (((abs >> 23) - 127 + 15) << 10) | ((abs >> 13) & 0x3ffu));
}

bool is_float_dtype(int dtype) {
  return dtype == ATTNKIT_DTYPE_FLOAT32 || dtype == ATTNKIT_DTYPE_FLOAT16 || dtype == ATTNKIT_DTYPE_BFLOAT16;
}

int element_bytes(int dtype) {
  return dtype == ATTNKIT_DTYPE_FLOAT16 || dtype == ATTNKIT_DTYPE_BFLOAT16 ? 2 : dtype == ATTNKIT_DTYPE_UINT8 ? 1 : 4;
}

/// Is the element at `p` (of a float dtype) NaN / finite?
bool element_is_nan(const uint8_t* p, int dtype) {
  if (dtype == ATTNKIT_DTYPE_FLOAT32) {
    float f;
    std::memcpy(&f, p, 4);
    return std::isnan(f);
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == ATTNKIT_DTYPE_FLOAT16 ? (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0
                                        : (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0;
}
bool element_is_finite(const uint8_t* p, int dtype) {
  if (dtype == ATTNKIT_DTYPE_FLOAT32) {
    float f;
    std::memcpy(&f, p, 4);
    return std::isfinite(f);
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == ATTNKIT_DTYPE_FLOAT16 ? (h & 0x7c00u) != 0x7c00u : (h & 0x7f80u) != 0x7f80u;
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
};

/// Element offsets [lo, hi] the view can address; false when it addresses nothing
/// (an empty or malformed shape) or the span does not fit the cap.
enum class Span { kEmpty, kFits, kTooLarge };
Span view_span(const attnkit_tensor& t, int64_t* lo, int64_t* hi) {
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

/// a + b with two's-complement wrap-around (the fuzzer itself must stay free of UB).
int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

/// Values for special-cased integers: the edges validation must handle.
int64_t special_int(FuzzedDataProvider& in, int64_t natural) {
  switch (in.ConsumeIntegralInRange<int>(0, 11)) {
    case 0: return natural;
    case 1: return 0;
    case 2: return -1;
    case 3: return wrapping_add(natural, 1);
    case 4: return wrapping_add(natural, -1);
    case 5: return int64_t{1} << 31;
    case 6: return (int64_t{1} << 31) + 3;
    case 7: return int64_t{1} << 40;
    case 8: return std::numeric_limits<int64_t>::max();
    case 9: return std::numeric_limits<int64_t>::min();
    case 10: return wrapping_add(0, static_cast<int64_t>(0 - static_cast<uint64_t>(natural)));
    default: return in.ConsumeIntegral<int64_t>();
  }
}

/// Builds a tensor around its "natural" (valid) shape and dtype, then applies the
/// mutations a flags byte asks for. Buffer contents are filled later.
Backed* make_tensor(FuzzedDataProvider& in, Call* call, std::initializer_list<int64_t> natural_shape, int natural_dtype,
                    bool is_output) {
  Backed* b = call->add();
  b->is_output = is_output;
  attnkit_tensor& t = b->t;
  t.rank = static_cast<int>(natural_shape.size());
  t.dtype = natural_dtype;
  t.device = ATTNKIT_DEVICE_HOST;
  int i = 0;
  for (int64_t s : natural_shape) t.shape[i++] = s;
  const uint8_t flags = in.ConsumeIntegral<uint8_t>();
  // Layout: contiguous, optionally with padded outer strides and a swapped pair of
  // outer dimensions (BSHD vs BHSD), all with a contiguous last dimension.
  int order[ATTNKIT_MAX_RANK] = {0, 1, 2, 3};
  if ((flags & 0x01) && t.rank == 4) std::swap(order[1], order[2]);
  if ((flags & 0x01) && t.rank == 3) std::swap(order[0], order[1]);
  int64_t acc = 1;
  for (int k = t.rank - 1; k >= 0; --k) {
    const int dim = order[k];
    t.stride[dim] = acc;
    int64_t extent = t.shape[dim] > 0 ? t.shape[dim] : 1;
    if ((flags & 0x02) && k < t.rank - 1) extent += in.ConsumeIntegralInRange<int>(0, 3);
    acc *= extent;
    if (k == t.rank - 1 && (flags & 0x02)) acc += in.ConsumeIntegralInRange<int>(0, 2);  // row padding
  }
  if ((flags & 0x04) && t.rank > 0) t.stride[in.ConsumeIntegralInRange<int>(0, t.rank - 1)] = 0;  // broadcast
  if ((flags & 0x08) && t.rank > 0) {
    const int dim = in.ConsumeIntegralInRange<int>(0, t.rank - 1);
    t.stride[dim] = special_int(in, t.stride[dim]);
  }
  if ((flags & 0x10) && t.rank > 0) {
    const int dim = in.ConsumeIntegralInRange<int>(0, t.rank - 1);
    t.shape[dim] = special_int(in, t.shape[dim]);
  }
  if (flags & 0x20) {
    static constexpr int kRanks[] = {0, 1, 2, 3, 4, 5, -1, 1000};
    const int old_rank = t.rank;
    t.rank = kRanks[in.ConsumeIntegralInRange<int>(0, 7)];
    for (int k = old_rank; k < ATTNKIT_MAX_RANK && k < t.rank; ++k) {
      t.shape[k] = in.ConsumeIntegralInRange<int>(0, 4);
      t.stride[k] = 1;
    }
  }
  if (flags & 0x40) {
    t.dtype = in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(-1, 6) : in.ConsumeIntegral<int>();
  }
  int data_mode = (flags & 0x80) ? in.ConsumeIntegralInRange<int>(1, 4) : 0;
  if (data_mode == 4) t.device = in.ConsumeBool() ? -1 : 2;  // out-of-range device enum

  if (data_mode == 1) {  // null data
    t.data = nullptr;
    return b;
  }
  if (data_mode == 2) {  // claims to live on a CUDA device: host reads must crash
    t.device = ATTNKIT_DEVICE_CUDA;
    t.data = device_page();
    return b;
  }
  int64_t lo = 0, hi = 0;
  const Span span = view_span(t, &lo, &hi);
  if (span == Span::kTooLarge) {
    call->skip = true;  // the fuzzer cannot honestly back this view
    return b;
  }
  const size_t elems = static_cast<size_t>(hi - lo + 1);
  b->bytes.assign(elems * kElementBytes + kElementBytes, 0);
  b->origin = static_cast<size_t>(-lo) * static_cast<size_t>(t.dtype >= 0 && t.dtype <= 4 ? element_bytes(t.dtype) : 4);
  // An element offset o then lies at origin + o * element_bytes, inside `bytes` for
  // lo <= o <= hi (element_bytes <= kElementBytes); one spare element of slack lets
  // data_mode 3 shift the pointer off its dtype's alignment.
  if (data_mode == 3) b->origin += 1;
  t.data = b->bytes.data() + b->origin;
  b->host_backed = true;
  return b;
}

/// Float contents: deterministic normals, edge values, or raw fuzz bytes.
void fill_float(FuzzedDataProvider& in, Backed* b, uint32_t seed) {
  if (!b->host_backed) return;
  const int mode = in.ConsumeIntegralInRange<int>(0, 3);
  const int dtype = is_float_dtype(b->t.dtype) ? b->t.dtype : ATTNKIT_DTYPE_FLOAT32;
  const int eb = element_bytes(dtype);
  const size_t n = b->bytes.size() / static_cast<size_t>(eb);
  if (mode == 3) {  // raw bits: NaN, inf, denormals, anything
    std::vector<uint8_t> raw = in.ConsumeBytes<uint8_t>(b->bytes.size());
    if (!raw.empty()) std::memcpy(b->bytes.data(), raw.data(), raw.size());
    b->check_finite = true;
    return;
  }
  static constexpr float kEdges[] = {0.0f, -0.0f, 1e4f, -1e4f, 65504.0f, 3e38f, 1e-40f, 100.0f, -100.0f};
  uint32_t state = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; ++i) {
    state = state * 1664525u + 1013904223u;
    float f = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 4.0f;
    if (mode == 1) f *= 100.0f;
    if (mode == 2 && (state & 7u) == 0) f = kEdges[(state >> 4) % (sizeof(kEdges) / sizeof(kEdges[0]))];
    uint8_t* p = b->bytes.data() + i * static_cast<size_t>(eb);
    if (dtype == ATTNKIT_DTYPE_FLOAT32) {
      std::memcpy(p, &f, 4);
    } else {
      const uint16_t h = dtype == ATTNKIT_DTYPE_FLOAT16 ? to_half(f) : to_bf16(f);
      std::memcpy(p, &h, 2);
    }
  }
  b->check_finite = true;
}

/// Per-head float32 values (head_scale, log_gamma, sink_logit): the library validates
/// them on the host, so NaN and +inf here must be rejected, never propagated.
void fill_head_values(FuzzedDataProvider& in, Backed* b) {
  if (!b->host_backed) return;
  static constexpr float kValues[] = {0.0f,
                                      1.0f,
                                      -1.0f,
                                      0.5f,
                                      2.0f,
                                      20.0f,
                                      -20.0f,
                                      1e4f,
                                      -std::numeric_limits<float>::infinity(),
                                      std::numeric_limits<float>::infinity(),
                                      std::numeric_limits<float>::quiet_NaN(),
                                      std::numeric_limits<float>::max(),
                                      -std::numeric_limits<float>::max()};
  const size_t n = b->bytes.size() / 4;
  for (size_t i = 0; i < n; ++i) {
    float f;
    if (in.ConsumeBool()) {
      f = kValues[in.ConsumeIntegralInRange<size_t>(0, sizeof(kValues) / sizeof(kValues[0]) - 1)];
    } else {
      const uint32_t bits = in.ConsumeIntegral<uint32_t>();
      std::memcpy(&f, &bits, 4);
    }
    std::memcpy(b->bytes.data() + i * 4, &f, 4);
  }
}

/// Writes int32 `value` at logical `index` of a host-backed view, when that element is
/// inside the buffer (the view may have been mutated into another shape or stride).
void put_int(Backed* b, std::initializer_list<int64_t> index, int32_t value) {
  if (!b->host_backed) return;
  int64_t offset = 0;
  int dim = 0;
  for (int64_t i : index) {
    if (dim >= ATTNKIT_MAX_RANK) return;
    int64_t step;
    if (__builtin_mul_overflow(i, b->t.stride[dim++], &step) || __builtin_add_overflow(offset, step, &offset)) return;
  }
  int64_t byte;
  if (__builtin_mul_overflow(offset, 4, &byte) || __builtin_add_overflow(byte, static_cast<int64_t>(b->origin), &byte)) {
    return;
  }
  if (byte < 0 || byte + 4 > static_cast<int64_t>(b->bytes.size())) return;
  std::memcpy(b->bytes.data() + byte, &value, 4);
}

int64_t ceil_div(int64_t a, int64_t b) { return b > 0 && a > 0 ? a / b + (a % b != 0 ? 1 : 0) : 0; }

float special_float(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: return 0.35f;
    case 1: return 0.0f;
    case 2: return -1.0f;
    case 3: return 1e4f;
    case 4: return std::numeric_limits<float>::quiet_NaN();
    case 5: return std::numeric_limits<float>::infinity();
    case 6: return std::numeric_limits<float>::max();
    default: {
      const uint32_t bits = in.ConsumeIntegral<uint32_t>();
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
  }
}

/// Decodes one call. Everything the decoder does not mutate is a valid call, so the
/// fuzzer reaches the CPU backend as often as it reaches validation errors.
void decode(FuzzedDataProvider& in, Call* call, attnkit_attention_params* p) {
  attnkit_attention_params_init(p);
  const bool varlen = in.ConsumeIntegralInRange<int>(0, 3) == 3;
  const int64_t batch = in.ConsumeIntegralInRange<int64_t>(0, 3);
  const int64_t hkv = in.ConsumeIntegralInRange<int64_t>(1, 3);
  const int64_t hq = hkv * in.ConsumeIntegralInRange<int64_t>(1, 3);
  static constexpr int64_t kHeadDims[] = {8, 1, 2, 3, 4, 5, 16, 7};
  const int64_t d = kHeadDims[in.ConsumeIntegralInRange<int>(0, 7)];
  const int64_t dv = in.ConsumeBool() ? d : kHeadDims[in.ConsumeIntegralInRange<int>(0, 7)];
  const int dtype = in.ConsumeIntegralInRange<int>(0, 2);
  const uint32_t seed = in.ConsumeIntegral<uint32_t>();

  // Sequence lengths: batched Sq, Sk; varlen one pair per sequence plus spare rows.
  int64_t max_sq = 0, max_sk = 0, rows_q = 0, rows_k = 0;
  std::vector<int32_t> cu_q(1, 0), cu_k(1, 0);
  if (varlen) {
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t sq = in.ConsumeIntegralInRange<int64_t>(0, 8), sk = in.ConsumeIntegralInRange<int64_t>(0, 8);
      cu_q.push_back(static_cast<int32_t>(cu_q.back() + sq));
      cu_k.push_back(static_cast<int32_t>(cu_k.back() + sk));
      max_sq = std::max(max_sq, sq);
      max_sk = std::max(max_sk, sk);
    }
    rows_q = cu_q.back() + in.ConsumeIntegralInRange<int64_t>(0, 2);
    rows_k = cu_k.back() + in.ConsumeIntegralInRange<int64_t>(0, 2);
  } else {
    max_sq = in.ConsumeIntegralInRange<int64_t>(0, 8);
    max_sk = in.ConsumeIntegralInRange<int64_t>(0, 8);
  }
  call->dims = Dims{varlen, batch, hq, max_sq, max_sk, rows_k};

  Backed *q, *k, *v, *o;
  if (varlen) {
    q = make_tensor(in, call, {rows_q, hq, d}, dtype, false);
    k = make_tensor(in, call, {rows_k, hkv, d}, dtype, false);
    v = make_tensor(in, call, {rows_k, hkv, dv}, dtype, false);
    o = make_tensor(in, call, {rows_q, hq, dv}, dtype, true);
  } else {
    q = make_tensor(in, call, {batch, max_sq, hq, d}, dtype, false);
    k = make_tensor(in, call, {batch, max_sk, hkv, d}, dtype, false);
    v = make_tensor(in, call, {batch, max_sk, hkv, dv}, dtype, false);
    o = make_tensor(in, call, {batch, max_sq, hq, dv}, dtype, true);
  }
  fill_float(in, q, seed);
  fill_float(in, k, seed + 1);
  fill_float(in, v, seed + 2);
  p->q = q->t;
  p->k = k->t;
  p->v = v->t;
  p->o = o->t;
  if (in.ConsumeBool()) {
    Backed* lse = varlen ? make_tensor(in, call, {hq, rows_q}, ATTNKIT_DTYPE_FLOAT32, true)
                         : make_tensor(in, call, {batch, hq, max_sq}, ATTNKIT_DTYPE_FLOAT32, true);
    p->lse = lse->t;
  }
  if (varlen || in.ConsumeIntegralInRange<int>(0, 15) == 0) {  // rarely: cu_seqlens on a batched call
    Backed* cq = make_tensor(in, call, {batch + 1}, ATTNKIT_DTYPE_INT32, false);
    Backed* ck = make_tensor(in, call, {batch + 1}, ATTNKIT_DTYPE_INT32, false);
    for (int64_t b = 0; b <= batch; ++b) {
      put_int(cq, {b}, cu_q[static_cast<size_t>(std::min<int64_t>(b, cu_q.size() - 1))]);
      put_int(ck, {b}, cu_k[static_cast<size_t>(std::min<int64_t>(b, cu_k.size() - 1))]);
    }
    const int corrupt = in.ConsumeIntegralInRange<int>(0, 3);  // arbitrary offsets
    for (int c = 0; c < corrupt; ++c) {
      Backed* t = in.ConsumeBool() ? cq : ck;
      put_int(t, {in.ConsumeIntegralInRange<int64_t>(0, batch)}, in.ConsumeIntegral<int32_t>());
    }
    p->cu_seqlens_q = cq->t;
    if (in.ConsumeIntegralInRange<int>(0, 15) != 0) p->cu_seqlens_k = ck->t;
    if (in.ConsumeBool()) p->max_seqlen_q = special_int(in, max_sq);
    if (in.ConsumeBool()) p->max_seqlen_k = special_int(in, max_sk);
  }

  // Options (SPEC 2-4).
  p->causal = in.ConsumeBool() ? 1 : (in.ConsumeBool() ? 0 : in.ConsumeIntegral<int>());
  if (in.ConsumeBool()) p->window_left = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(0, 9) : special_int(in, -1);
  if (in.ConsumeBool()) p->window_right = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(0, 9) : special_int(in, -1);
  if (in.ConsumeBool()) p->sink_tokens = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(0, 4) : special_int(in, 0);
  if (in.ConsumeBool()) {
    p->has_scale = in.ConsumeBool() ? 1 : in.ConsumeIntegral<int>();
    p->scale = special_float(in);
  }
  if (in.ConsumeBool()) {
    Backed* hs = make_tensor(in, call, {hq}, ATTNKIT_DTYPE_FLOAT32, false);
    fill_head_values(in, hs);
    p->head_scale = hs->t;
  }
  if (in.ConsumeBool()) {
    Backed* lg = make_tensor(in, call, {hq}, ATTNKIT_DTYPE_FLOAT32, false);
    fill_head_values(in, lg);
    p->log_gamma = lg->t;
    p->bias_begin = in.ConsumeBool() ? in.ConsumeIntegralInRange<int64_t>(0, 4) : special_int(in, 0);
    p->bias_end = in.ConsumeBool() ? wrapping_add(p->bias_begin, in.ConsumeIntegralInRange<int64_t>(0, 4))
                                   : special_int(in, 1);
  }
  if (in.ConsumeBool()) {
    Backed* sl = make_tensor(in, call, {hq}, ATTNKIT_DTYPE_FLOAT32, false);
    fill_head_values(in, sl);
    p->sink_logit = sl->t;
  }

  // Block mask (SPEC 5).
  static constexpr int kBlocks[] = {2, 1, 3, 4, 8, 64, 128, 0, -1, 5};
  if (in.ConsumeBool()) {
    attnkit_block_mask& m = p->block_mask;
    m.block_q = kBlocks[in.ConsumeIntegralInRange<int>(0, 9)];
    m.block_k = kBlocks[in.ConsumeIntegralInRange<int>(0, 9)];
    if (in.ConsumeIntegralInRange<int>(0, 15) == 0) m.block_q = in.ConsumeIntegral<int>();
    const int64_t nqb = ceil_div(max_sq, m.block_q), nkb = ceil_div(max_sk, m.block_k);
    const int64_t bm = in.ConsumeBool() ? 1 : (in.ConsumeBool() ? batch : in.ConsumeIntegralInRange<int64_t>(0, 4));
    static constexpr int kHeadChoice[] = {0, 1, 2, 3};
    const int hc = kHeadChoice[in.ConsumeIntegralInRange<int>(0, 3)];
    const int64_t hm = hc == 0 ? 1 : hc == 1 ? hkv : hc == 2 ? hq : in.ConsumeIntegralInRange<int64_t>(0, 5);
    const int64_t max_kv = in.ConsumeBool() ? nkb : in.ConsumeIntegralInRange<int64_t>(0, nkb + 1);
    Backed* count = make_tensor(in, call, {bm, hm, nqb}, ATTNKIT_DTYPE_INT32, false);
    Backed* index = make_tensor(in, call, {bm, hm, nqb, max_kv}, ATTNKIT_DTYPE_INT32, false);
    const bool garbage = in.ConsumeIntegralInRange<int>(0, 3) == 0;
    for (int64_t a = 0; a < bm; ++a)
      for (int64_t h = 0; h < hm; ++h)
        for (int64_t r = 0; r < nqb; ++r) {
          // A valid row: a random ascending subset of the key blocks.
          int64_t n = 0;
          for (int64_t kb = 0; kb < nkb && n < max_kv; ++kb) {
            if (in.ConsumeBool()) put_int(index, {a, h, r, n++}, static_cast<int32_t>(kb));
          }
          int64_t cnt = n;
          if (garbage) {
            cnt = in.ConsumeIntegralInRange<int64_t>(-2, max_kv + 2);
            for (int64_t e = 0; e < max_kv; ++e) put_int(index, {a, h, r, e}, in.ConsumeIntegral<int32_t>());
          }
          put_int(count, {a, h, r}, static_cast<int32_t>(cnt));
        }
    if (in.ConsumeIntegralInRange<int>(0, 7) != 0) m.kv_count = count->t;
    if (in.ConsumeIntegralInRange<int>(0, 7) != 0) m.kv_index = index->t;
  }

  // Rectification (SPEC 6.1).
  if (in.ConsumeBool()) {
    attnkit_rectification& r = p->rectify;
    r.block_q = in.ConsumeBool() && p->block_mask.kv_count.rank > 0 ? p->block_mask.block_q
                                                                    : kBlocks[in.ConsumeIntegralInRange<int>(0, 9)];
    const int64_t nqb = ceil_div(max_sq, r.block_q);
    Backed* rr = make_tensor(in, call, {batch, hq, nqb}, ATTNKIT_DTYPE_FLOAT32, false);
    Backed* cc = make_tensor(in, call, {batch, hq, nqb, dv}, ATTNKIT_DTYPE_FLOAT32, false);
    fill_float(in, rr, seed + 3);
    fill_float(in, cc, seed + 4);
    r.r = rr->t;
    if (in.ConsumeIntegralInRange<int>(0, 7) != 0) r.c = cc->t;
  }

  // Gate (SPEC 6.2).
  if (in.ConsumeBool()) {
    const bool elementwise = in.ConsumeBool();
    const int gdtype = in.ConsumeBool() ? dtype : ATTNKIT_DTYPE_FLOAT32;
    Backed* g;
    if (varlen) {
      g = elementwise ? make_tensor(in, call, {rows_q, hq, dv}, gdtype, false)
                      : make_tensor(in, call, {rows_q, hq}, gdtype, false);
    } else {
      g = elementwise ? make_tensor(in, call, {batch, max_sq, hq, dv}, gdtype, false)
                      : make_tensor(in, call, {batch, max_sq, hq}, gdtype, false);
    }
    fill_float(in, g, seed + 5);
    p->gate.g = g->t;
    p->gate.activation = in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(0, 1) : in.ConsumeIntegral<int>();
  }
}

/// Snapshot of every buffer, to prove what changed.
std::vector<std::vector<uint8_t>> snapshot(const Call& call) {
  std::vector<std::vector<uint8_t>> s;
  for (const Backed& b : call.tensors) s.push_back(b.bytes);
  return s;
}

/// Byte ranges of `b`'s buffer that its view addresses (element size of its dtype).
std::vector<bool> addressed_bytes(const Backed& b) {
  std::vector<bool> mask(b.bytes.size(), false);
  if (!b.host_backed || b.t.dtype < 0 || b.t.dtype > 4) return mask;
  const int eb = element_bytes(b.t.dtype);
  for_each_offset(b.t, [&](int64_t off) {
    const int64_t byte = static_cast<int64_t>(b.origin) + off * eb;
    for (int x = 0; x < eb; ++x) mask[static_cast<size_t>(byte + x)] = true;
  });
  return mask;
}

void print_tensor(const char* name, const attnkit_tensor& t) {
  if (t.rank == 0) return;
  std::fprintf(stderr, "  %s: dtype=%d rank=%d device=%d data=%p shape=[%lld, %lld, %lld, %lld] stride=[%lld, %lld, %lld, %lld]\n",
               name, t.dtype, t.rank, t.device, t.data, static_cast<long long>(t.shape[0]),
               static_cast<long long>(t.shape[1]), static_cast<long long>(t.shape[2]),
               static_cast<long long>(t.shape[3]), static_cast<long long>(t.stride[0]),
               static_cast<long long>(t.stride[1]), static_cast<long long>(t.stride[2]),
               static_cast<long long>(t.stride[3]));
}

/// With ATTNKIT_FUZZ_VERBOSE set, prints the decoded call (to turn a crash into a test).
void print_call(const attnkit_attention_params& p) {
  if (std::getenv("ATTNKIT_FUZZ_VERBOSE") == nullptr) return;
  std::fprintf(stderr, "call:\n");
  print_tensor("q", p.q);
  print_tensor("k", p.k);
  print_tensor("v", p.v);
  print_tensor("o", p.o);
  print_tensor("lse", p.lse);
  print_tensor("cu_seqlens_q", p.cu_seqlens_q);
  print_tensor("cu_seqlens_k", p.cu_seqlens_k);
  print_tensor("head_scale", p.head_scale);
  print_tensor("log_gamma", p.log_gamma);
  print_tensor("sink_logit", p.sink_logit);
  print_tensor("block_mask.kv_count", p.block_mask.kv_count);
  print_tensor("block_mask.kv_index", p.block_mask.kv_index);
  print_tensor("rectify.r", p.rectify.r);
  print_tensor("rectify.c", p.rectify.c);
  print_tensor("gate.g", p.gate.g);
  std::fprintf(stderr,
               "  max_seqlen=%lld/%lld has_scale=%d scale=%g causal=%d window=%lld/%lld sink_tokens=%lld "
               "bias=[%lld, %lld) block=%d/%d rectify.block_q=%d gate.activation=%d\n",
               static_cast<long long>(p.max_seqlen_q), static_cast<long long>(p.max_seqlen_k), p.has_scale,
               static_cast<double>(p.scale), p.causal, static_cast<long long>(p.window_left),
               static_cast<long long>(p.window_right), static_cast<long long>(p.sink_tokens),
               static_cast<long long>(p.bias_begin), static_cast<long long>(p.bias_end), p.block_mask.block_q,
               p.block_mask.block_k, p.rectify.block_q, p.gate.activation);
  auto floats = [](const char* name, const attnkit_tensor& t) {
    if (t.rank != 1 || t.dtype != ATTNKIT_DTYPE_FLOAT32 || t.data == nullptr || t.device != 0) return;
    std::fprintf(stderr, "  %s values:", name);
    for (int64_t i = 0; i < t.shape[0] && i < 16; ++i) {
      float f;
      std::memcpy(&f, static_cast<const char*>(t.data) + i * t.stride[0] * 4, 4);
      std::fprintf(stderr, " %g", static_cast<double>(f));
    }
    std::fprintf(stderr, "\n");
  };
  floats("head_scale", p.head_scale);
  floats("log_gamma", p.log_gamma);
  floats("sink_logit", p.sink_logit);
}

void check_explain(const attnkit_attention_params* p, FuzzedDataProvider& in, int supported) {
  const size_t capacity = in.ConsumeIntegralInRange<size_t>(0, 200);
  constexpr size_t kCanary = 16;
  std::vector<char> buffer(capacity + kCanary, '\x5a');
  size_t length = 12345;
  const bool want_length = in.ConsumeBool();
  const attnkit_status s =
      attnkit_explain(p, capacity ? buffer.data() : nullptr, capacity, want_length ? &length : nullptr);
  FUZZ_CHECK((s == ATTNKIT_STATUS_OK) == (supported == 1), "explain=%d is_supported=%d (%s)", static_cast<int>(s),
             supported, attnkit_last_error());
  for (size_t i = capacity; i < buffer.size(); ++i) FUZZ_CHECK(buffer[i] == '\x5a', "explain wrote past capacity");
  if (capacity > 0) {
    const void* nul = std::memchr(buffer.data(), '\0', capacity);
    FUZZ_CHECK(nul != nullptr, "explain left the buffer unterminated");
    const size_t written = static_cast<size_t>(static_cast<const char*>(nul) - buffer.data());
    if (s == ATTNKIT_STATUS_OK && want_length) {
      FUZZ_CHECK(written == std::min(length, capacity - 1), "explain wrote %zu chars, length %zu", written, length);
    }
    if (s != ATTNKIT_STATUS_OK) FUZZ_CHECK(written == 0, "explain error left text in the buffer");
  }
  if (s != ATTNKIT_STATUS_OK && want_length) FUZZ_CHECK(length == 0, "explain error left length %zu", length);
}


/// Whether every float input the library does not validate is finite (the NaN rule).
bool inputs_finite(const Call& call) {
  for (const Backed& b : call.tensors) {
    if (b.is_output || !b.check_finite || !b.host_backed || !is_float_dtype(b.t.dtype)) continue;
    const int eb = element_bytes(b.t.dtype);
    for (size_t i = 0; i + static_cast<size_t>(eb) <= b.bytes.size(); i += static_cast<size_t>(eb)) {
      if (!element_is_finite(b.bytes.data() + i, b.t.dtype)) return false;
    }
  }
  return true;
}

/// Element `index` of a host int32 rank-1 view (validated by a successful call).
int32_t read_int(const attnkit_tensor& t, int64_t index) {
  int32_t v;
  std::memcpy(&v, static_cast<const char*>(t.data) + index * t.stride[0] * 4, 4);
  return v;
}

/// After a successful call: inputs unchanged, outputs unchanged outside their views and
/// (with finite inputs) free of NaN inside them. `rows_limit(b)` gives, for outputs with
/// unwritten varlen tail rows, the dimension and row count to check (dim -1: all).
template <class RowsLimit>
void check_success(const Call& call, const std::vector<std::vector<uint8_t>>& before, const char* what,
                   bool finite, RowsLimit rows_limit) {
  FUZZ_CHECK(attnkit_last_error()[0] == '\0', "%s succeeded but last_error is '%s'", what, attnkit_last_error());
  size_t index = 0;
  for (const Backed& b : call.tensors) {
    const std::vector<uint8_t>& old = before[index++];
    if (!b.is_output) {
      FUZZ_CHECK(b.bytes == old, "%s modified an input", what);
      continue;
    }
    const std::vector<bool> addressed = addressed_bytes(b);
    for (size_t i = 0; i < b.bytes.size(); ++i) {
      FUZZ_CHECK(addressed[i] || b.bytes[i] == old[i], "%s wrote outside an output view (byte %zu)", what, i);
    }
    if (!finite || !is_float_dtype(b.t.dtype) || b.bytes == old) continue;  // untouched: another call's output
    const int eb = element_bytes(b.t.dtype);
    int limit_dim = -1;
    int64_t rows = 0;
    rows_limit(b, &limit_dim, &rows);
    for_each_offset(
        b.t,
        [&](int64_t off) {
          const uint8_t* e = b.bytes.data() + b.origin + static_cast<size_t>(off * eb);
          FUZZ_CHECK(!element_is_nan(e, b.t.dtype), "%s: NaN output at element offset %lld with finite inputs", what,
                     static_cast<long long>(off));
        },
        limit_dim, rows);
  }
}

/// is_supported, explain and forward on the decoded call. Returns forward's status.
attnkit_status check_forward(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params) {
  for (Backed& b : call->tensors) {
    if (b.is_output) std::fill(b.bytes.begin(), b.bytes.end(), kSentinel);
  }
  const std::vector<std::vector<uint8_t>> before = snapshot(*call);

  const int supported = attnkit_is_supported(&params);
  FUZZ_CHECK(supported == 0 || supported == 1, "is_supported returned %d", supported);
  FUZZ_CHECK(supported == 1 || attnkit_last_error()[0] != '\0', "is_supported=0 without a message");
  check_explain(&params, in, supported);
  FUZZ_CHECK(snapshot(*call) == before, "is_supported or explain wrote to a tensor");

  const attnkit_status status = attnkit_forward(&params);
  FUZZ_CHECK((status == ATTNKIT_STATUS_OK) == (supported == 1), "forward=%d but is_supported=%d (%s)",
             static_cast<int>(status), supported, attnkit_last_error());
  if (status != ATTNKIT_STATUS_OK) {
    FUZZ_CHECK(attnkit_last_error()[0] != '\0', "forward failed (%d) without a message", static_cast<int>(status));
    FUZZ_CHECK(snapshot(*call) == before, "forward failed (%s) but wrote to a tensor", attnkit_last_error());
    return status;
  }
  // Varlen rows past cu_seqlens_q[B] belong to no sequence and are left alone
  // (docs/reliability.md): O [total_q, ...] along dim 0, LSE [Hq, total_q] along dim 1.
  check_success(*call, before, "forward", inputs_finite(*call), [&](const Backed& b, int* dim, int64_t* rows) {
    if (params.cu_seqlens_q.rank != 1) return;
    *rows = read_int(params.cu_seqlens_q, params.cu_seqlens_q.shape[0] - 1);
    *dim = std::memcmp(&b.t, &params.lse, sizeof(b.t)) == 0 ? 1 : 0;
  });
  return status;
}

/// attention_stats on the same call, with its own (mutated) outputs.
void check_stats(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params) {
  static constexpr int kStatBlocks[] = {4, 1, 3, 128, 0, -2};
  const Dims& d = call->dims;
  attnkit_stats_outputs out;
  attnkit_stats_outputs_init(&out);
  out.block_q = kStatBlocks[in.ConsumeIntegralInRange<int>(0, 5)];
  out.block_k = kStatBlocks[in.ConsumeIntegralInRange<int>(0, 5)];
  const int64_t nqb = ceil_div(d.max_sq, out.block_q), nkb = ceil_div(d.max_sk, out.block_k);
  const size_t first_new = call->tensors.size();
  auto column = [&](int dtype) {
    return d.varlen ? make_tensor(in, call, {d.hq, d.rows_k}, dtype, true)
                    : make_tensor(in, call, {d.batch, d.hq, d.max_sk}, dtype, true);
  };
  const uint8_t which = in.ConsumeIntegral<uint8_t>();
  if (which & 1) out.colsum = column(ATTNKIT_DTYPE_FLOAT32)->t;
  if (which & 2) out.colcount = column(ATTNKIT_DTYPE_INT32)->t;
  if (which & 4) out.colmean = column(ATTNKIT_DTYPE_FLOAT32)->t;
  if (which & 8) out.blockmass = make_tensor(in, call, {d.batch, d.hq, nqb, nkb}, ATTNKIT_DTYPE_FLOAT32, true)->t;
  if (which & 16) out.blockmean = make_tensor(in, call, {d.batch, d.hq, nqb, nkb}, ATTNKIT_DTYPE_FLOAT32, true)->t;
  if (call->skip) return;
  for (size_t n = first_new; n < call->tensors.size(); ++n) {
    std::fill(call->tensors[n].bytes.begin(), call->tensors[n].bytes.end(), kSentinel);
  }
  const std::vector<std::vector<uint8_t>> before = snapshot(*call);
  const attnkit_status status = attnkit_attention_stats(&params, &out);
  if (status != ATTNKIT_STATUS_OK) {
    FUZZ_CHECK(attnkit_last_error()[0] != '\0', "attention_stats failed (%d) without a message", static_cast<int>(status));
    FUZZ_CHECK(snapshot(*call) == before, "attention_stats failed (%s) but wrote to a tensor", attnkit_last_error());
    return;
  }
  // Column statistics of varlen keys past cu_seqlens_k[B] belong to no sequence.
  check_success(*call, before, "attention_stats", inputs_finite(*call), [&](const Backed& b, int* dim, int64_t* rows) {
    if (params.cu_seqlens_k.rank != 1 || b.t.rank != 2) return;
    *rows = read_int(params.cu_seqlens_k, params.cu_seqlens_k.shape[0] - 1);
    *dim = 1;
  });
}

/// block_mask_check on the decoded mask: never crashes, writes nothing, and agrees with
/// forward's validation of a host mask.
void check_block_mask(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params,
                      attnkit_status forward_status) {
  const attnkit_block_mask& m = params.block_mask;
  if (m.kv_count.rank == 0) return;
  const bool batched = params.cu_seqlens_q.rank == 0 && params.k.rank == 4;
  const int64_t forward_nkb = batched ? ceil_div(params.k.shape[1], m.block_k) : -1;
  const int64_t nkb = in.ConsumeBool() && batched ? forward_nkb : special_int(in, call->dims.max_sk);
  const std::vector<std::vector<uint8_t>> before = snapshot(*call);
  int64_t bad = -77;
  const attnkit_status status = attnkit_block_mask_check(&m, nkb, &bad, nullptr);
  FUZZ_CHECK(snapshot(*call) == before, "block_mask_check wrote to a tensor");
  if (status == ATTNKIT_STATUS_OK) FUZZ_CHECK(bad >= 0, "block_mask_check returned %lld bad entries", static_cast<long long>(bad));
  if (forward_status == ATTNKIT_STATUS_OK && batched && nkb == forward_nkb && m.kv_count.device == ATTNKIT_DEVICE_HOST) {
    FUZZ_CHECK(status == ATTNKIT_STATUS_OK && bad == 0, "forward accepted the mask, block_mask_check says %d/%lld (%s)",
               static_cast<int>(status), static_cast<long long>(bad), attnkit_last_error());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  if (size > 0 && data[0] == 0xEE) {  // the null-pointer paths
    FUZZ_CHECK(attnkit_forward(nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "forward(NULL)");
    FUZZ_CHECK(attnkit_is_supported(nullptr) == 0, "is_supported(NULL)");
    FUZZ_CHECK(attnkit_explain(nullptr, nullptr, 0, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "explain(NULL)");
    FUZZ_CHECK(attnkit_attention_stats(nullptr, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "attention_stats(NULL)");
    FUZZ_CHECK(attnkit_block_mask_check(nullptr, 1, nullptr, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT,
               "block_mask_check(NULL)");
    return 0;
  }
  Call call;
  attnkit_attention_params params;
  decode(in, &call, &params);
  if (call.skip) return -1;  // not added to the corpus
  // Validation's cost grows with the declared batch even when every sequence is empty
  // (per-sequence bookkeeping, built from Q or cu_seqlens before the other tensors are
  // cross-checked; docs/reliability.md), so batches the fuzzer could never back with data
  // are skipped.
  const bool huge_batch = (params.q.rank == 4 && params.q.shape[0] > kMaxBatch) ||
                          (params.cu_seqlens_q.rank == 1 && params.cu_seqlens_q.shape[0] > kMaxBatch) ||
                          (params.cu_seqlens_k.rank == 1 && params.cu_seqlens_k.shape[0] > kMaxBatch);
  if (huge_batch) return -1;
  print_call(params);

  const attnkit_status status = check_forward(in, &call, params);
  const uint8_t extra = in.ConsumeIntegral<uint8_t>();
  if (extra & 1) check_block_mask(in, &call, params, status);
  if (extra & 2) check_stats(in, &call, params);
  return 0;
}
