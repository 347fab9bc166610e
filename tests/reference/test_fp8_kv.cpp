// FP8 KV cache on the CPU reference: the host FP8 codecs (every code of both formats
// against an independent formula, round trips, ties to even, saturation, NaN), and
// forward with float8 K / V equal to forward on float32 K / V holding exactly the
// dequantised values (per-tensor and per-kv-head scales, both formats, GQA, causal
// Sq != Sk, varlen with empty sequences, a paged cache, sinks, 16-bit Q / O).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"
#include "host/numeric.hpp"

namespace attnkit_test {
namespace {

using attnkit::AttentionParams;
using attnkit::Status;
namespace detail = attnkit::detail;

constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- the codecs ---------------------------------------------------------------------

/// What code `c` means, written from the format's definition alone: sign, exponent field
/// e, mantissa field m; subnormals 2^(1 - bias) * m / 2^mbits, normals
/// 2^(e - bias) * (1 + m / 2^mbits); E4M3 has only S.1111.111 as NaN, E5M2 the IEEE
/// all-ones exponent (m = 0: inf, else NaN).
double formula(int c, int exp_bits, int mant_bits, bool ieee_specials) {
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int e = (c >> mant_bits) & ((1 << exp_bits) - 1);
  const int m = c & ((1 << mant_bits) - 1);
  const double sign = (c & 0x80) ? -1.0 : 1.0;
  const int e_max = (1 << exp_bits) - 1, m_max = (1 << mant_bits) - 1;
  if (ieee_specials && e == e_max) return m == 0 ? sign * kInf : std::numeric_limits<double>::quiet_NaN();
  if (!ieee_specials && e == e_max && m == m_max) return std::numeric_limits<double>::quiet_NaN();
  const double frac = static_cast<double>(m) / static_cast<double>(1 << mant_bits);
  if (e == 0) return sign * std::pow(2.0, 1 - bias) * frac;
  return sign * std::pow(2.0, e - bias) * (1.0 + frac);
}

struct Format {
  const char* name;
  DType dtype;
  int exp_bits, mant_bits;
  bool ieee_specials;
  uint8_t max_code;  // largest finite positive code
  double max_value;
  float (*decode)(uint8_t);
  uint8_t (*encode)(float);
};

const Format kE4M3{"e4m3", DType::kFloat8E4M3, 4, 3, false, 0x7e, 448.0,
                   detail::fp8_e4m3_bits_to_float, detail::float_to_fp8_e4m3_bits};
const Format kE5M2{"e5m2", DType::kFloat8E5M2, 5, 2, true, 0x7b, 57344.0,
                   detail::fp8_e5m2_bits_to_float, detail::float_to_fp8_e5m2_bits};

void PrintTo(const Format& f, std::ostream* os) { *os << f.name; }

double expected(const Format& f, int c) { return formula(c, f.exp_bits, f.mant_bits, f.ieee_specials); }

/// One code read through a one-element host tensor (load_as_double's path).
double load_code(const Format& f, uint8_t c) {
  return detail::load_as_double(TensorView::contiguous(&c, f.dtype, {1}), 0);
}
/// `value` stored through a one-element host tensor (store_from_double's path).
uint8_t store_value(const Format& f, double value) {
  uint8_t c = 0x55;
  detail::store_from_double(TensorView::contiguous(&c, f.dtype, {1}), 0, value);
  return c;
}

class Fp8Codec : public ::testing::TestWithParam<Format> {};

TEST_P(Fp8Codec, EveryCodeDecodesToTheFormula) {
  const Format& f = GetParam();
  int nan = 0, inf = 0;
  for (int c = 0; c < 256; ++c) {
    const double want = expected(f, c);
    const double got = f.decode(static_cast<uint8_t>(c));
    const double loaded = load_code(f, static_cast<uint8_t>(c));
    if (std::isnan(want)) {
      ++nan;
      EXPECT_TRUE(std::isnan(got)) << f.name << " code " << c;
      EXPECT_TRUE(std::isnan(loaded)) << f.name << " code " << c;
      continue;
    }
    inf += std::isinf(want) ? 1 : 0;
    EXPECT_EQ(got, want) << f.name << " code " << c;
    EXPECT_EQ(loaded, want) << f.name << " code " << c;
    EXPECT_EQ(std::signbit(got), (c & 0x80) != 0) << f.name << " code " << c << ": sign (of zero too)";
  }
  EXPECT_EQ(nan, f.ieee_specials ? 6 : 2) << f.name;
  EXPECT_EQ(inf, f.ieee_specials ? 2 : 0) << f.name;
  EXPECT_EQ(f.decode(f.max_code), f.max_value);
  EXPECT_EQ(f.decode(static_cast<uint8_t>(f.max_code | 0x80)), -f.max_value);
}

TEST_P(Fp8Codec, EveryNonNanCodeRoundTrips) {
  const Format& f = GetParam();
  for (int c = 0; c < 256; ++c) {
    const double v = expected(f, c);
    if (std::isnan(v)) continue;
    EXPECT_EQ(f.encode(static_cast<float>(v)), c) << f.name << " value " << v;
    EXPECT_EQ(store_value(f, v), c) << f.name << " value " << v;
  }
}

/// Every pair of neighbouring finite codes of one sign (subnormals, the subnormal / normal
/// boundary and every binade): the midpoint goes to the code with an even mantissa, and a
/// float just either side of it to the nearer code.
TEST_P(Fp8Codec, MidpointsTieToEvenAndNeighboursRoundToNearest) {
  const Format& f = GetParam();
  for (int sign : {0x00, 0x80}) {
    for (int c = 0; c < f.max_code; ++c) {
      const int lo = sign | c, hi = sign | (c + 1);
      const double a = expected(f, lo), b = expected(f, hi);
      const double mid = 0.5 * (a + b);  // <= 6 significant bits: exact in float
      ASSERT_EQ(static_cast<double>(static_cast<float>(mid)), mid);
      const int even = (lo & 1) == 0 ? lo : hi;
      EXPECT_EQ(f.encode(static_cast<float>(mid)), even) << f.name << " midpoint " << mid;
      EXPECT_EQ(store_value(f, mid), even) << f.name << " midpoint " << mid;
      const float toward_a = std::nextafter(static_cast<float>(mid), static_cast<float>(a));
      const float toward_b = std::nextafter(static_cast<float>(mid), static_cast<float>(b));
      EXPECT_EQ(f.encode(toward_a), lo) << f.name << " just past the midpoint towards " << a;
      EXPECT_EQ(f.encode(toward_b), hi) << f.name << " just past the midpoint towards " << b;
    }
  }
}

TEST_P(Fp8Codec, TinyValuesUnderflowToSignedZero) {
  const Format& f = GetParam();
  const double smallest = expected(f, 1);  // the smallest subnormal
  EXPECT_EQ(f.encode(static_cast<float>(smallest / 2)), 0x00);  // tie: to 0, the even code
  EXPECT_EQ(f.encode(static_cast<float>(-smallest / 2)), 0x80);
  EXPECT_EQ(f.encode(std::nextafter(static_cast<float>(smallest / 2), 1.0f)), 0x01);
  EXPECT_EQ(f.encode(1e-30f), 0x00);
  EXPECT_EQ(f.encode(-1e-30f), 0x80);
  EXPECT_EQ(f.encode(std::numeric_limits<float>::denorm_min()), 0x00);
  EXPECT_EQ(f.encode(-0.0f), 0x80);
}

TEST_P(Fp8Codec, FiniteOverflowSaturatesToTheLargestFiniteValue) {
  const Format& f = GetParam();
  const uint8_t pos = f.max_code, neg = static_cast<uint8_t>(f.max_code | 0x80);
  const double quantum = f.max_value - expected(f, f.max_code - 1);  // spacing of the top binade
  for (double x : {f.max_value, f.max_value + 1.0, f.max_value + quantum / 2,  // the tie with a code past the format
                   f.max_value + quantum, 1e6, 1e30, static_cast<double>(std::numeric_limits<float>::max())}) {
    EXPECT_EQ(f.encode(static_cast<float>(x)), pos) << f.name << " " << x;
    EXPECT_EQ(f.encode(static_cast<float>(-x)), neg) << f.name << " " << -x;
    EXPECT_EQ(store_value(f, x), pos) << f.name << " " << x;
    EXPECT_EQ(store_value(f, -x), neg) << f.name << " " << -x;
  }
  EXPECT_EQ(store_value(f, 1e300), pos);  // beyond float: store_from_double saturates too
}

TEST_P(Fp8Codec, InfinityAndNan) {
  const Format& f = GetParam();
  const float inf = std::numeric_limits<float>::infinity();
  if (f.ieee_specials) {  // E5M2 keeps infinities
    EXPECT_EQ(f.encode(inf), 0x7c);
    EXPECT_EQ(f.encode(-inf), 0xfc);
  } else {  // E4M3 has none: satfinite, like CUDA's __NV_SATFINITE conversions
    EXPECT_EQ(f.encode(inf), 0x7e);
    EXPECT_EQ(f.encode(-inf), 0xfe);
  }
  for (float nan : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN()}) {
    const uint8_t c = f.encode(nan);
    EXPECT_TRUE(std::isnan(f.decode(c))) << f.name << " code " << int{c};
    EXPECT_TRUE(std::isnan(load_code(f, store_value(f, static_cast<double>(nan))))) << f.name;
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, Fp8Codec, ::testing::Values(kE4M3, kE5M2),
                         [](const ::testing::TestParamInfo<Format>& info) { return std::string(info.param.name); });

// ---- forward with an FP8 cache ----------------------------------------------------

HostTensor make(DType dtype, const std::vector<int64_t>& s) {
  switch (s.size()) {
    case 1: return HostTensor(dtype, {s[0]});
    case 2: return HostTensor(dtype, {s[0], s[1]});
    case 3: return HostTensor(dtype, {s[0], s[1], s[2]});
    default: return HostTensor(dtype, {s[0], s[1], s[2], s[3]});
  }
}

/// A positive float32 scale with at most 14 significant bits, so that scale * (an FP8
/// value: at most 4) is exact in float32 and the float32 twin holds exactly what the
/// FP8 call computes with.
float random_scale(Rng& rng) { return static_cast<float>(std::round(rng.uniform(0.02, 3.0) * 4096.0) / 4096.0); }

/// An FP8 cache over a contiguous [..., H, X] shape and its float32 twin holding exactly
/// k_scale[h] * K, from seeded random codes (N(0, 1.5) values rounded to the format).
struct Fp8Tensor {
  HostTensor codes, twin, scale;

  Fp8Tensor(DType fp8, const std::vector<int64_t>& shape, bool per_head, Rng& rng) {
    codes = make(fp8, shape);
    twin = make(DType::kFloat32, shape);
    const int64_t heads = shape[shape.size() - 2], x = shape.back();
    scale = make(DType::kFloat32, {per_head ? heads : 1});
    for (int64_t h = 0; h < scale.numel(); ++h) scale.set(h, random_scale(rng));
    for (int64_t i = 0; i < codes.numel(); ++i) {
      codes.set(i, rng.normal(0.0, 1.5));  // rounded to the format (nearest even)
      const double s = scale.get(per_head ? (i / x) % heads : 0);
      const double exact = codes.get(i) * s;
      twin.set(i, exact);
      EXPECT_EQ(twin.get(i), exact) << "the test's float32 twin must be exact";
    }
  }
};

/// The same call twice: `fp8` reads Q (io dtype), K / V float8 with scales; `ref` reads
/// Q as float32 and K / V as the exact float32 twins. Outputs NaN-poisoned.
struct Fp8Pair {
  HostTensor q, q32, o, o32, lse, lse32;
  Fp8Tensor k, v;
  AttentionParams fp8, ref;

  Fp8Pair(DType fp8_dtype, DType io, const std::vector<int64_t>& q_shape, const std::vector<int64_t>& k_shape,
          const std::vector<int64_t>& v_shape, const std::vector<int64_t>& o_shape, const std::vector<int64_t>& lse_shape,
          bool k_per_head, bool v_per_head, Rng& rng)
      : k(fp8_dtype, k_shape, k_per_head, rng), v(fp8_dtype, v_shape, v_per_head, rng) {
    q = make(io, q_shape);
    fill_normal(q, rng);
    q32 = make(DType::kFloat32, q_shape);
    for (int64_t i = 0; i < q.numel(); ++i) q32.set(i, q.get(i));  // exact
    o = make(io, o_shape);
    o32 = make(DType::kFloat32, o_shape);
    lse = make(DType::kFloat32, lse_shape);
    lse32 = make(DType::kFloat32, lse_shape);
    for (HostTensor* t : {&o, &o32, &lse, &lse32}) fill_nan(*t);
    fp8.q = q.view, fp8.k = k.codes.view, fp8.v = v.codes.view, fp8.o = o.view, fp8.lse = lse.view;
    fp8.k_scale = k.scale.view, fp8.v_scale = v.scale.view;
    ref.q = q32.view, ref.k = k.twin.view, ref.v = v.twin.view, ref.o = o32.view, ref.lse = lse32.view;
  }

  /// Applies the same options (layout, mask, sinks) to both calls.
  void both(const std::function<void(AttentionParams*)>& set) {
    set(&fp8);
    set(&ref);
  }

  /// Runs both and compares every element. float32 O: identical math, so 1e-12 relative;
  /// 16-bit O: the float32 result rounded once to O's dtype, as the library rounds.
  void run_and_compare(int64_t o_rows_written = -1) {
    Status s = attnkit::forward(fp8);
    ASSERT_TRUE(s.is_ok()) << s.message();
    s = attnkit::forward(ref);
    ASSERT_TRUE(s.is_ok()) << s.message();
    const int64_t o_limit = o_rows_written < 0 ? o.numel() : o_rows_written;
    HostTensor rounded = make(o.view.dtype, std::vector<int64_t>(o.view.shape, o.view.shape + o.view.rank));
    for (int64_t i = 0; i < o.numel(); ++i) rounded.set(i, o32.get(i));
    const bool f32 = o.view.dtype == DType::kFloat32;
    for (int64_t i = 0; i < o_limit; ++i) {
      const double got = o.get(i), want = rounded.get(i);
      ASSERT_FALSE(std::isnan(got)) << "O[" << i << "] not written";
      if (f32) {
        ASSERT_LE(std::abs(got - want), 1e-12 * std::abs(want)) << "O[" << i << "]";
      } else {
        ASSERT_LE(std::abs(got - want), 1e-6) << "O[" << i << "]";
      }
    }
    for (int64_t i = 0; i < lse.numel(); ++i) {
      const double got = lse.get(i), want = lse32.get(i);
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << "LSE[" << i << "]: the reference left it, so must the FP8 call";
      } else if (std::isinf(want)) {
        ASSERT_EQ(got, want) << "LSE[" << i << "]";
      } else {
        ASSERT_LE(std::abs(got - want), 1e-12 * std::abs(want)) << "LSE[" << i << "]";
      }
    }
  }
};

struct ForwardCase {
  const char* name;
  DType fp8;
  DType io;
  bool k_per_head, v_per_head;
};

void PrintTo(const ForwardCase& c, std::ostream* os) { *os << c.name; }

class Fp8Forward : public ::testing::TestWithParam<ForwardCase> {};

/// Batched GQA (Hq = 6, Hkv = 2), causal with Sq < Sk (bottom-right), a learned sink per
/// head, a sliding window with a sink token, and Dv != D.
TEST_P(Fp8Forward, BatchedCausalGqaWithSinksEqualsDequantisedFloat32) {
  const ForwardCase& c = GetParam();
  const int64_t B = 2, Sq = 5, Sk = 11, Hq = 6, Hkv = 2, D = 16, Dv = 8;
  Rng rng(/*seed=*/4201);
  Fp8Pair pair(c.fp8, c.io, {B, Sq, Hq, D}, {B, Sk, Hkv, D}, {B, Sk, Hkv, Dv}, {B, Sq, Hq, Dv}, {B, Hq, Sq},
               c.k_per_head, c.v_per_head, rng);
  HostTensor sink = make_normal(DType::kFloat32, {Hq}, rng);
  pair.both([&](AttentionParams* p) {
    p->causal = true;
    p->window_left = 6;
    p->sink_tokens = 1;
    p->sink_logit = sink.view;
  });
  pair.run_and_compare();
}

/// Causal with Sq > Sk: the first rows see no key (O = 0, LSE = -inf).
TEST_P(Fp8Forward, CausalSqGreaterThanSkEqualsDequantisedFloat32) {
  const ForwardCase& c = GetParam();
  const int64_t B = 1, Sq = 9, Sk = 4, Hq = 4, Hkv = 2, D = 8, Dv = 8;
  Rng rng(/*seed=*/4202);
  Fp8Pair pair(c.fp8, c.io, {B, Sq, Hq, D}, {B, Sk, Hkv, D}, {B, Sk, Hkv, Dv}, {B, Sq, Hq, Dv}, {B, Hq, Sq},
               c.k_per_head, c.v_per_head, rng);
  pair.both([](AttentionParams* p) { p->causal = true; });
  pair.run_and_compare();
  EXPECT_EQ(pair.lse.get(0), -kInf);  // (b 0, h 0, row 0) sees nothing
}

/// Varlen with an empty query sequence and an empty key sequence (its rows: O = 0 and
/// LSE = sigma with a sink), plus one spare key row past cu_seqlens_k[B].
TEST_P(Fp8Forward, VarlenWithEmptySequencesEqualsDequantisedFloat32) {
  const ForwardCase& c = GetParam();
  const int64_t Hq = 4, Hkv = 2, D = 8, Dv = 12, total_q = 9, total_k = 13;
  Rng rng(/*seed=*/4203);
  Fp8Pair pair(c.fp8, c.io, {total_q, Hq, D}, {total_k, Hkv, D}, {total_k, Hkv, Dv}, {total_q, Hq, Dv},
               {Hq, total_q}, c.k_per_head, c.v_per_head, rng);
  // Sequences (Sq, Sk): (3, 5), (0, 2), (2, 0), (4, 5).
  HostTensor cu_q = make_int32({5}, {0, 3, 3, 5, 9});
  HostTensor cu_k = make_int32({5}, {0, 5, 7, 7, 12});
  HostTensor sink = make_normal(DType::kFloat32, {Hq}, rng);
  pair.both([&](AttentionParams* p) {
    p->cu_seqlens_q = cu_q.view;
    p->cu_seqlens_k = cu_k.view;
    p->causal = true;
    p->sink_logit = sink.view;
  });
  pair.run_and_compare();
  for (int64_t h = 0; h < Hq; ++h) {  // sequence 2 has no key: LSE = sigma_h, O = 0
    EXPECT_EQ(pair.lse.get(h * total_q + 3), static_cast<double>(sink.ptr<float>()[h]));
    for (int64_t x = 0; x < Dv; ++x) EXPECT_EQ(pair.o.get((3 * Hq + h) * Dv + x), 0.0);
  }
}

/// A paged cache (shuffled pages, partial last pages, spare pages never referenced) with
/// per-sequence key lengths: decode-shaped Sq = 3.
TEST_P(Fp8Forward, PagedCacheEqualsDequantisedFloat32) {
  const ForwardCase& c = GetParam();
  const int64_t B = 3, Sq = 3, Hq = 8, Hkv = 2, D = 16, Dv = 16, page_size = 4, pages_per_seq = 5;
  const int64_t num_pages = B * pages_per_seq + 2;
  Rng rng(/*seed=*/4204);
  Fp8Pair pair(c.fp8, c.io, {B, Sq, Hq, D}, {num_pages, page_size, Hkv, D}, {num_pages, page_size, Hkv, Dv},
               {B, Sq, Hq, Dv}, {B, Hq, Sq}, c.k_per_head, c.v_per_head, rng);
  std::vector<int32_t> order(static_cast<size_t>(num_pages));
  for (int64_t n = 0; n < num_pages; ++n) order[n] = static_cast<int32_t>(n);
  std::shuffle(order.begin(), order.end(), rng.engine());
  HostTensor table = make_int32({B, pages_per_seq}, std::vector<int32_t>(order.begin(), order.begin() + B * pages_per_seq));
  HostTensor lens = make_int32({B}, {20, 7, 3});
  HostTensor sink = make_normal(DType::kFloat32, {Hq}, rng);
  pair.both([&](AttentionParams* p) {
    p->paged_kv.page_table = table.view;
    p->paged_kv.seqlens_k = lens.view;
    p->causal = true;
    p->sink_logit = sink.view;
  });
  pair.run_and_compare();
}

INSTANTIATE_TEST_SUITE_P(
    Caches, Fp8Forward,
    ::testing::Values(ForwardCase{"e4m3_per_tensor_f32", DType::kFloat8E4M3, DType::kFloat32, false, false},
                      ForwardCase{"e4m3_per_head_f32", DType::kFloat8E4M3, DType::kFloat32, true, true},
                      ForwardCase{"e5m2_per_tensor_f32", DType::kFloat8E5M2, DType::kFloat32, false, false},
                      ForwardCase{"e5m2_per_head_k_per_tensor_v_f32", DType::kFloat8E5M2, DType::kFloat32, true, false},
                      ForwardCase{"e4m3_per_tensor_k_per_head_v_bf16", DType::kFloat8E4M3, DType::kBFloat16, false, true},
                      ForwardCase{"e5m2_per_head_bf16", DType::kFloat8E5M2, DType::kBFloat16, true, true},
                      ForwardCase{"e4m3_per_head_f16", DType::kFloat8E4M3, DType::kFloat16, true, true}),
    [](const ::testing::TestParamInfo<ForwardCase>& info) { return std::string(info.param.name); });

/// The scale really multiplies, per kv head: doubling v_scale[1] (a power of two: exact)
/// doubles exactly the outputs of the query heads that read kv head 1.
TEST(Fp8ForwardScale, PerKvHeadScaleMultipliesOnlyItsHeads) {
  const int64_t B = 1, Sq = 4, Sk = 6, Hq = 4, Hkv = 2, D = 8, Dv = 8;
  Rng rng(/*seed=*/4205);
  Fp8Pair pair(DType::kFloat8E4M3, DType::kFloat32, {B, Sq, Hq, D}, {B, Sk, Hkv, D}, {B, Sk, Hkv, Dv},
               {B, Sq, Hq, Dv}, {B, Hq, Sq}, true, true, rng);
  ASSERT_TRUE(attnkit::forward(pair.fp8).is_ok());
  const HostTensor before = pair.o;
  pair.v.scale.set(1, 2.0 * pair.v.scale.get(1));
  fill_nan(pair.o);
  ASSERT_TRUE(attnkit::forward(pair.fp8).is_ok());
  for (int64_t i = 0; i < Sq; ++i)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t x = 0; x < Dv; ++x) {
        const int64_t n = (i * Hq + h) * Dv + x;
        EXPECT_EQ(pair.o.get(n), (h / 2 == 1 ? 2.0 : 1.0) * before.get(n)) << "row " << i << " head " << h;
      }
}

}  // namespace
}  // namespace attnkit_test
