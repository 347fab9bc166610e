// C API fuzzer decoding: bytes -> shapes, strides, dtypes, options, masks, gate, each maybe mutated.
#include "fuzz_decode.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

namespace attnkit_fuzz {
namespace {

constexpr size_t kElementBytes = 4;  // buffers are sized for the widest dtype

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

/// a + b with two's-complement wrap-around (the fuzzer itself must stay free of UB).
int64_t wrapping_add(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

}  // namespace

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
  b->natural_view = (flags & ~0x03u) == 0;  // layout swap and padding keep a view valid
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
  b->origin = static_cast<size_t>(-lo) * static_cast<size_t>(is_known_dtype(t.dtype) ? element_bytes(t.dtype) : 4);
  // An element offset o then lies at origin + o * element_bytes, inside `bytes` for
  // lo <= o <= hi (element_bytes <= kElementBytes); one spare element of slack lets
  // data_mode 3 shift the pointer off its dtype's alignment.
  if (data_mode == 3) b->origin += 1;
  t.data = b->bytes.data() + b->origin;
  b->host_backed = true;
  return b;
}

namespace {

/// FP8 contents from a random byte, kept finite (NaN / inf codes moved to finite ones):
/// mode 2 mixes in the largest finite code and the smallest subnormal.
uint8_t finite_fp8(uint32_t state, int dtype, int mode) {
  uint8_t x = static_cast<uint8_t>(state >> 8);
  if (mode == 2 && (state & 7u) == 0) x = (state & 8u) ? 0x01 : (dtype == ATTNKIT_DTYPE_FLOAT8_E4M3 ? 0x7e : 0x7b);
  if (dtype == ATTNKIT_DTYPE_FLOAT8_E4M3 && (x & 0x7fu) == 0x7fu) x = static_cast<uint8_t>(x & ~1u);  // S.1111.111: NaN
  if (dtype == ATTNKIT_DTYPE_FLOAT8_E5M2 && (x & 0x7cu) == 0x7cu) x = static_cast<uint8_t>(x & ~0x40u);  // inf / NaN
  return static_cast<uint8_t>(x | (state & 0x80000000u ? 0x80u : 0u));
}

}  // namespace

/// Float contents: deterministic normals, edge values, or raw fuzz bytes.
void fill_float(FuzzedDataProvider& in, Backed* b, uint32_t seed) {
  if (!b->host_backed) return;
  const int mode = in.ConsumeIntegralInRange<int>(0, 3);
  if (is_fp8_dtype(b->t.dtype) && mode != 3) {
    uint32_t state = seed * 2654435761u + 777u;
    for (uint8_t& x : b->bytes) {
      state = state * 1664525u + 1013904223u;
      x = finite_fp8(state, b->t.dtype, mode);
    }
    b->check_finite = true;
    return;
  }
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

namespace {

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

/// FP8 dequantisation scales (k_scale, v_scale): the library accepts finite values > 0 in
/// host memory, so zero, negative, NaN and inf here must be rejected; huge and tiny ones
/// must not turn finite inputs into NaN outputs (the math is in double).
void fill_scale_values(FuzzedDataProvider& in, Backed* b) {
  if (!b->host_backed) return;
  static constexpr float kValues[] = {1.0f,
                                      0.5f,
                                      3.0f,
                                      0.0123f,
                                      448.0f,
                                      1e-30f,
                                      std::numeric_limits<float>::denorm_min(),
                                      std::numeric_limits<float>::max(),
                                      0.0f,
                                      -0.0f,
                                      -1.0f,
                                      std::numeric_limits<float>::infinity(),
                                      std::numeric_limits<float>::quiet_NaN()};
  const size_t n = b->bytes.size() / 4;
  for (size_t i = 0; i < n; ++i) {
    float f;
    if (!in.ConsumeBool()) {  // the default (no fuzz bytes left) is 1.0: valid
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

}  // namespace

int64_t ceil_div(int64_t a, int64_t b) { return b > 0 && a > 0 ? a / b + (a % b != 0 ? 1 : 0) : 0; }

namespace {

constexpr int64_t kHeadDims[] = {8, 1, 2, 3, 4, 5, 16, 7};
constexpr int kBlockSizes[] = {2, 1, 3, 4, 8, 64, 128, 0, -1, 5};

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

}  // namespace

/// Decodes one call. Everything the decoder does not mutate is a valid call, so the
/// fuzzer reaches the CPU backend as often as it reaches validation errors.
void decode(FuzzedDataProvider& in, Call* call, attnkit_attention_params* p, Layout* layout, bool forced) {
  attnkit_attention_params_init(p);
  Layout& L = *layout;
  if (!forced) {
    L = Layout{};
    L.varlen = in.ConsumeIntegralInRange<int>(0, 3) == 3;
    L.batch = in.ConsumeIntegralInRange<int64_t>(0, 3);
    L.hkv = in.ConsumeIntegralInRange<int64_t>(1, 3);
    L.hq = L.hkv * in.ConsumeIntegralInRange<int64_t>(1, 3);
    L.d = kHeadDims[in.ConsumeIntegralInRange<int>(0, 7)];
    L.dv = in.ConsumeBool() ? L.d : kHeadDims[in.ConsumeIntegralInRange<int>(0, 7)];
    L.dtype = in.ConsumeIntegralInRange<int>(0, 2);
    // K / V: Q's dtype (choices 0-5, 0 being the default) or an FP8 cache (6: e4m3, 7: e5m2).
    const int kv_choice = in.ConsumeIntegralInRange<int>(0, 7);
    L.kv_dtype = kv_choice == 6 ? ATTNKIT_DTYPE_FLOAT8_E4M3 : kv_choice == 7 ? ATTNKIT_DTYPE_FLOAT8_E5M2 : L.dtype;
    L.seed = in.ConsumeIntegral<uint32_t>();
    // Sequence lengths: batched Sq, Sk; varlen one pair per sequence plus spare rows.
    if (L.varlen) {
      for (int64_t b = 0; b < L.batch; ++b) {
        L.sq.push_back(in.ConsumeIntegralInRange<int64_t>(0, 8));
        L.sk.push_back(in.ConsumeIntegralInRange<int64_t>(0, 8));
      }
      L.spare_q = in.ConsumeIntegralInRange<int64_t>(0, 2);
      L.spare_k = in.ConsumeIntegralInRange<int64_t>(0, 2);
    } else {
      L.max_sq = in.ConsumeIntegralInRange<int64_t>(0, 8);
      L.max_sk = in.ConsumeIntegralInRange<int64_t>(0, 8);
    }
  }
  const bool varlen = L.varlen;
  const int64_t batch = L.batch, hkv = L.hkv, hq = L.hq, d = L.d, dv = L.dv;
  const int dtype = L.dtype, kv_dtype = L.kv_dtype;
  const uint32_t seed = L.seed;
  int64_t max_sq = 0, max_sk = 0, rows_q = 0, rows_k = 0;
  std::vector<int32_t> cu_q(1, 0), cu_k(1, 0);
  if (varlen) {
    for (size_t b = 0; b < L.sq.size(); ++b) {
      cu_q.push_back(static_cast<int32_t>(cu_q.back() + L.sq[b]));
      cu_k.push_back(static_cast<int32_t>(cu_k.back() + L.sk[b]));
      max_sq = std::max(max_sq, L.sq[b]);
      max_sk = std::max(max_sk, L.sk[b]);
    }
    rows_q = cu_q.back() + L.spare_q;
    rows_k = cu_k.back() + L.spare_k;
    L.max_sq = max_sq;
    L.max_sk = max_sk;
  } else {
    max_sq = L.max_sq;
    max_sk = L.max_sk;
  }
  call->dims = Dims{varlen, batch, hq, max_sq, max_sk, rows_k};

  Backed *q, *k, *v, *o;
  if (varlen) {
    q = make_tensor(in, call, {rows_q, hq, d}, dtype, false);
    k = make_tensor(in, call, {rows_k, hkv, d}, kv_dtype, false);
    v = make_tensor(in, call, {rows_k, hkv, dv}, kv_dtype, false);
    o = make_tensor(in, call, {rows_q, hq, dv}, dtype, true);
  } else {
    q = make_tensor(in, call, {batch, max_sq, hq, d}, dtype, false);
    k = make_tensor(in, call, {batch, max_sk, hkv, d}, kv_dtype, false);
    v = make_tensor(in, call, {batch, max_sk, hkv, dv}, kv_dtype, false);
    o = make_tensor(in, call, {batch, max_sq, hq, dv}, dtype, true);
  }
  fill_float(in, q, seed);
  fill_float(in, k, seed + 1);
  fill_float(in, v, seed + 2);
  p->q = q->t;
  p->k = k->t;
  p->v = v->t;
  p->o = o->t;
  // FP8 scales: [1] or [Hkv] each, usually present with an FP8 cache (rarely absent), and
  // rarely given without one (rejected).
  const bool fp8 = is_fp8_dtype(kv_dtype);
  if (fp8 || in.ConsumeIntegralInRange<int>(0, 15) == 15) {
    for (attnkit_tensor* scale : {&p->k_scale, &p->v_scale}) {
      if (in.ConsumeIntegralInRange<int>(0, 15) == 15) continue;  // absent
      Backed* s = make_tensor(in, call, {in.ConsumeBool() ? hkv : 1}, ATTNKIT_DTYPE_FLOAT32, false);
      fill_scale_values(in, s);
      *scale = s->t;
    }
  }
  if (in.ConsumeBool()) {
    Backed* lse = varlen ? make_tensor(in, call, {hq, rows_q}, ATTNKIT_DTYPE_FLOAT32, true)
                         : make_tensor(in, call, {batch, hq, max_sq}, ATTNKIT_DTYPE_FLOAT32, true);
    p->lse = lse->t;
  }
  if (varlen || in.ConsumeIntegralInRange<int>(0, 15) == 15) {  // rarely: cu_seqlens on a batched call
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
    if (in.ConsumeIntegralInRange<int>(0, 15) != 15) p->cu_seqlens_k = ck->t;
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
  if (!forced) L.mask = in.ConsumeBool();
  if (L.mask) {
    attnkit_block_mask& m = p->block_mask;
    if (!forced) {
      L.block_q = kBlockSizes[in.ConsumeIntegralInRange<int>(0, 9)];
      L.block_k = kBlockSizes[in.ConsumeIntegralInRange<int>(0, 9)];
      if (in.ConsumeIntegralInRange<int>(0, 15) == 0) L.block_q = in.ConsumeIntegral<int>();
    }
    m.block_q = L.block_q;
    m.block_k = L.block_k;
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
                                                                    : kBlockSizes[in.ConsumeIntegralInRange<int>(0, 9)];
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

bool huge_batch(const attnkit_attention_params& p) {
  constexpr int64_t kMaxBatch = int64_t{1} << 16;
  return (p.q.rank == 4 && p.q.shape[0] > kMaxBatch) || (p.cu_seqlens_q.rank == 1 && p.cu_seqlens_q.shape[0] > kMaxBatch) ||
         (p.cu_seqlens_k.rank == 1 && p.cu_seqlens_k.shape[0] > kMaxBatch);
}

/// Changes `layout` in one plan-relevant way (or not at all) for a second call on the same
/// plan: a dimension up or down (a larger one must be refused, a smaller one accepted), or a
/// kernel-deciding choice (dtype, K/V dtype, D, Dv, heads, varlen, the block mask).
const char* mutate_layout(FuzzedDataProvider& in, Layout* layout) {
  Layout& L = *layout;
  auto other_dim = [&](int64_t now) {
    const int64_t v = kHeadDims[in.ConsumeIntegralInRange<int>(0, 7)];
    return v != now ? v : (now == 8 ? 16 : 8);
  };
  auto step = [](int64_t v, bool up) { return up ? v + 1 : std::max<int64_t>(0, v - 1); };
  switch (in.ConsumeIntegralInRange<int>(0, 13)) {
    case 1:
      if (L.varlen) {
        L.sq.push_back(in.ConsumeIntegralInRange<int64_t>(0, 8));
        L.sk.push_back(in.ConsumeIntegralInRange<int64_t>(0, 8));
      }
      ++L.batch;
      return "batch + 1";
    case 2:
      if (L.batch == 0) return "none";
      --L.batch;
      if (L.varlen) {
        L.sq.pop_back();
        L.sk.pop_back();
      }
      return "batch - 1";
    case 3:
    case 4:
    case 5:
    case 6: {
      const bool query = in.ConsumeBool(), up = in.ConsumeBool();
      if (!L.varlen) {
        int64_t& len = query ? L.max_sq : L.max_sk;
        len = step(len, up);
      } else if (L.batch > 0) {
        std::vector<int64_t>& lens = query ? L.sq : L.sk;
        int64_t& len = lens[static_cast<size_t>(in.ConsumeIntegralInRange<int64_t>(0, L.batch - 1))];
        len = step(len, up);
      }
      return query ? (up ? "Sq + 1" : "Sq - 1") : (up ? "Sk + 1" : "Sk - 1");
    }
    case 7:
      L.d = other_dim(L.d);
      return "D";
    case 8:
      L.dv = other_dim(L.dv);
      return "Dv";
    case 9: {
      const int64_t hkv = in.ConsumeIntegralInRange<int64_t>(1, 3), hq = hkv * in.ConsumeIntegralInRange<int64_t>(1, 3);
      const bool same = hkv == L.hkv && hq == L.hq;
      L.hkv = same ? hkv + 1 : hkv;
      L.hq = same ? L.hkv * (hq / hkv) : hq;
      return "Hq / Hkv";
    }
    case 10: {
      const int dtype = (L.dtype + in.ConsumeIntegralInRange<int>(1, 2)) % 3;
      if (L.kv_dtype == L.dtype) L.kv_dtype = dtype;
      L.dtype = dtype;
      return "dtype";
    }
    case 11:
      if (is_fp8_dtype(L.kv_dtype)) {
        L.kv_dtype = in.ConsumeBool() ? L.dtype
                                      : (L.kv_dtype == ATTNKIT_DTYPE_FLOAT8_E4M3 ? ATTNKIT_DTYPE_FLOAT8_E5M2
                                                                                  : ATTNKIT_DTYPE_FLOAT8_E4M3);
      } else {
        L.kv_dtype = in.ConsumeBool() ? ATTNKIT_DTYPE_FLOAT8_E4M3 : ATTNKIT_DTYPE_FLOAT8_E5M2;
      }
      return "K/V dtype";
    case 12:
      if (L.varlen) {  // decode left the longest lengths in max_sq / max_sk
        L.sq.clear();
        L.sk.clear();
      } else {
        L.sq.assign(static_cast<size_t>(L.batch), L.max_sq);
        L.sk.assign(static_cast<size_t>(L.batch), L.max_sk);
      }
      L.spare_q = L.spare_k = 0;
      L.varlen = !L.varlen;
      return "varlen";
    case 13: {
      const int which = in.ConsumeIntegralInRange<int>(0, 2);
      const int block = kBlockSizes[in.ConsumeIntegralInRange<int>(0, 6)];  // valid sizes
      if (which == 0 || !L.mask) {
        L.mask = !L.mask;
        if (L.block_q <= 0 || L.block_k <= 0) L.block_q = L.block_k = block;
        return "block mask present";
      }
      int& size = which == 1 ? L.block_q : L.block_k;
      size = size != block ? block : block + 1;
      return which == 1 ? "block_mask.block_q" : "block_mask.block_k";
    }
    default:
      return "none";
  }
}

}  // namespace attnkit_fuzz
