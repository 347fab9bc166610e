// CPU reference forward (SPEC 2-6) against an independent brute-force oracle written
// here, plus the property tests of the foundation issue.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/attention_case.hpp"

namespace attnkit_test {
namespace {

using attnkit::AttentionParams;
constexpr double kInf = std::numeric_limits<double>::infinity();

/// Brute-force SPEC 2-4 for one batched case: explicit visibility predicate, explicit
/// logits, explicit softmax with an optional virtual sink column. Independent of the
/// library's row_softmax.
struct Oracle {
  std::function<bool(int64_t b, int64_t h, int64_t i, int64_t j)> visible = [](int64_t, int64_t, int64_t, int64_t) {
    return true;
  };
  std::function<double(int64_t h)> tau = [](int64_t) { return 1.0; };
  std::function<double(int64_t h, int64_t j)> bias = [](int64_t, int64_t) { return 0.0; };
  std::function<double(int64_t h)> sink = [](int64_t) { return -kInf; };
  double scale = -1.0;  // < 0: 1/sqrt(D)

  /// Returns O [B, Sq, Hq, Dv] and LSE [B, Hq, Sq] in double.
  void run(const AttentionCase& c, std::vector<double>* o, std::vector<double>* lse) const {
    const auto& s = c.shape;
    const double sc = scale < 0 ? 1.0 / std::sqrt(static_cast<double>(s.d)) : scale;
    o->assign(static_cast<size_t>(s.batch * s.sq * s.hq * s.dv), 0.0);
    lse->assign(static_cast<size_t>(s.batch * s.hq * s.sq), -kInf);
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t h = 0; h < s.hq; ++h)
        for (int64_t i = 0; i < s.sq; ++i) {
          const int64_t kvh = h / (s.hq / s.hkv);
          std::vector<double> logit(static_cast<size_t>(s.sk), -kInf);
          double m = sink(h);
          for (int64_t j = 0; j < s.sk; ++j) {
            if (!visible(b, h, i, j)) continue;
            double dot = 0;
            for (int64_t x = 0; x < s.d; ++x) dot += c.q_at(b, i, h, x) * c.k_at(b, j, kvh, x);
            logit[j] = sc * tau(h) * dot + bias(h, j);
            m = std::max(m, logit[j]);
          }
          if (m == -kInf) continue;
          double l = std::exp(sink(h) - m);
          for (int64_t j = 0; j < s.sk; ++j) l += std::exp(logit[j] - m);
          (*lse)[(b * s.hq + h) * s.sq + i] = m + std::log(l);
          for (int64_t j = 0; j < s.sk; ++j) {
            const double p = std::exp(logit[j] - m) / l;
            for (int64_t x = 0; x < s.dv; ++x) (*o)[((b * s.sq + i) * s.hq + h) * s.dv + x] += p * c.v_at(b, j, kvh, x);
          }
        }
  }
};

/// Checks the library's output against the oracle: fp32 inputs, so agreement is ~1e-6.
void expect_matches(const AttentionCase& c, const Oracle& oracle, double tol = 2e-5) {
  std::vector<double> o, lse;
  oracle.run(c, &o, &lse);
  for (size_t n = 0; n < o.size(); ++n) {
    ASSERT_FALSE(std::isnan(c.o.get(static_cast<int64_t>(n)))) << "O[" << n << "] is NaN";
    ASSERT_NEAR(c.o.get(static_cast<int64_t>(n)), o[n], tol) << "O[" << n << "]";
  }
  for (size_t n = 0; n < lse.size(); ++n) {
    const double got = c.lse.get(static_cast<int64_t>(n));
    if (std::isinf(lse[n])) {
      ASSERT_EQ(got, lse[n]) << "LSE[" << n << "]";
    } else {
      ASSERT_NEAR(got, lse[n], tol) << "LSE[" << n << "]";
    }
  }
}

void run_ok(const AttentionParams& p) {
  attnkit::Status s = attnkit::forward(p);
  ASSERT_TRUE(s.is_ok()) << s.message();
}

TEST(ReferenceForward, HandChecked) {
  // One query, two keys, D = 1, scale 1: logits 1 and 2 -> p = (1, e) / (1 + e).
  CaseShape s{.batch = 1, .sq = 1, .sk = 2, .hq = 1, .hkv = 1, .d = 1, .dv = 1};
  AttentionCase c(s, 1);
  c.q.set(0, 1.0);
  c.k.set(0, 1.0);
  c.k.set(1, 2.0);
  c.v.set(0, 10.0);
  c.v.set(1, 20.0);
  c.params.scale = 1.0f;
  run_ok(c.params);
  const double e = std::exp(1.0);
  EXPECT_NEAR(c.o.get(0), (10.0 + 20.0 * e) / (1.0 + e), 1e-5);
  EXPECT_NEAR(c.lse.get(0), std::log(std::exp(1.0) + std::exp(2.0)), 1e-6);
}

TEST(ReferenceForward, DenseGqaOddLengths) {
  AttentionCase c({.batch = 2, .sq = 13, .sk = 17, .hq = 6, .hkv = 2, .d = 12, .dv = 10}, 2);
  run_ok(c.params);
  expect_matches(c, Oracle{});
}

TEST(ReferenceForward, CausalBottomRightWithSqLessThanSk) {
  AttentionCase c({.batch = 2, .sq = 5, .sk = 11, .hq = 4, .hkv = 4, .d = 8, .dv = 8}, 3);
  c.params.causal = true;
  run_ok(c.params);
  Oracle o;
  o.visible = [&](int64_t, int64_t, int64_t i, int64_t j) { return j <= i + 11 - 5; };
  expect_matches(c, o);
}

TEST(ReferenceForward, CausalWithSqGreaterThanSkHasEmptyRows) {
  // i' = i + Sk - Sq < 0 for the first rows: no visible key -> O = 0, LSE = -inf.
  AttentionCase c({.batch = 1, .sq = 6, .sk = 3, .hq = 2, .hkv = 1, .d = 4, .dv = 4}, 4);
  c.params.causal = true;
  run_ok(c.params);
  Oracle o;
  o.visible = [&](int64_t, int64_t, int64_t i, int64_t j) { return j <= i + 3 - 6; };
  expect_matches(c, o);
  EXPECT_EQ(c.lse_at(0, 0, 0), -kInf);
  EXPECT_EQ(c.o_at(0, 0, 0, 0), 0.0);
}

TEST(ReferenceForward, WindowBothSidesAndStreamingLlmEqualsExplicitMask) {
  AttentionCase c({.batch = 1, .sq = 19, .sk = 19, .hq = 2, .hkv = 1, .d = 8, .dv = 8}, 5);
  c.params.causal = true;
  c.params.window_left = 4;
  c.params.sink_tokens = 2;
  run_ok(c.params);
  Oracle o;
  o.visible = [](int64_t, int64_t, int64_t i, int64_t j) { return j <= i && (j >= i - 4 || j < 2); };
  expect_matches(c, o);

  AttentionCase w({.batch = 1, .sq = 9, .sk = 14, .hq = 2, .hkv = 2, .d = 8, .dv = 8}, 6);
  w.params.window_left = 3;
  w.params.window_right = 2;
  run_ok(w.params);
  Oracle ow;
  ow.visible = [](int64_t, int64_t, int64_t i, int64_t j) {
    const int64_t ip = i + 14 - 9;
    return j >= ip - 3 && j <= ip + 2;
  };
  expect_matches(w, ow);
}

TEST(ReferenceForward, HeadScaleAndExplicitScale) {
  AttentionCase c({.batch = 1, .sq = 7, .sk = 9, .hq = 3, .hkv = 1, .d = 8, .dv = 8}, 7);
  HostTensor tau = head_array(3, {0.5, 1.0, 2.5});
  c.params.head_scale = tau.view;
  c.params.scale = 0.3f;
  run_ok(c.params);
  Oracle o;
  o.scale = 0.3f;
  o.tau = [&](int64_t h) { return tau.get(h); };
  expect_matches(c, o);
}

TEST(ReferenceForward, KeyBiasEqualsRenormalisedPostSoftmaxScaling) {
  AttentionCase c({.batch = 1, .sq = 6, .sk = 10, .hq = 2, .hkv = 2, .d = 8, .dv = 8}, 8);
  HostTensor lg = head_array(2, {std::log(0.25), std::log(3.0)});
  c.params.log_gamma = lg.view;
  c.params.bias_begin = 1;
  c.params.bias_end = 4;
  run_ok(c.params);
  // Renormalised post-softmax scaling: p'_j = gamma p_j / (sum over scaled gamma p + rest).
  AttentionCase plain({.batch = 1, .sq = 6, .sk = 10, .hq = 2, .hkv = 2, .d = 8, .dv = 8}, 8);
  std::vector<double> o, lse;
  Oracle base;
  base.run(plain, &o, &lse);
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 6; ++i) {
      const double gamma = std::exp(lg.get(h));
      std::vector<double> p(10);
      double z = 0;
      for (int64_t j = 0; j < 10; ++j) {
        double dot = 0;
        for (int64_t x = 0; x < 8; ++x) dot += plain.q_at(0, i, h, x) * plain.k_at(0, j, h, x);
        p[j] = std::exp(dot / std::sqrt(8.0) - lse[h * 6 + i]) * (j >= 1 && j < 4 ? gamma : 1.0);
        z += p[j];
      }
      for (int64_t x = 0; x < 8; ++x) {
        double want = 0;
        for (int64_t j = 0; j < 10; ++j) want += p[j] / z * plain.v_at(0, j, h, x);
        EXPECT_NEAR(c.o_at(0, i, h, x), want, 2e-5);
      }
    }
}

TEST(ReferenceForward, NegInfLogGammaIgnoresTheKeyAndEmptiesSingleKeyRows) {
  AttentionCase c({.batch = 1, .sq = 4, .sk = 4, .hq = 2, .hkv = 1, .d = 4, .dv = 4}, 9);
  HostTensor lg = head_array(2, {-kInf, 0.0});
  c.params.log_gamma = lg.view;
  c.params.causal = true;  // row 0 sees only key 0, which head 0 ignores -> empty row
  run_ok(c.params);
  Oracle o;
  o.visible = [](int64_t, int64_t h, int64_t i, int64_t j) { return j <= i && !(h == 0 && j == 0); };
  expect_matches(c, o);
  EXPECT_EQ(c.lse_at(0, 0, 0), -kInf);
}

TEST(ReferenceForward, LearnedSinkEqualsVirtualZeroValueColumn) {
  AttentionCase c({.batch = 2, .sq = 5, .sk = 8, .hq = 4, .hkv = 2, .d = 8, .dv = 6}, 10);
  HostTensor sink = head_array(4, {0.5, -1.0, 3.0, 40.0});  // 40: far above the row max
  c.params.sink_logit = sink.view;
  c.params.causal = true;
  run_ok(c.params);
  Oracle o;
  o.sink = [&](int64_t h) { return sink.get(h); };
  o.visible = [](int64_t, int64_t, int64_t i, int64_t j) { return j <= i + 3; };
  expect_matches(c, o);
}

TEST(ReferenceForward, SinkNegInfEqualsNoSink) {
  AttentionCase a({.batch = 1, .sq = 5, .sk = 8, .hq = 2, .hkv = 2, .d = 8, .dv = 8}, 11);
  AttentionCase b({.batch = 1, .sq = 5, .sk = 8, .hq = 2, .hkv = 2, .d = 8, .dv = 8}, 11);
  HostTensor sink = head_array(2, {-kInf});
  b.params.sink_logit = sink.view;
  run_ok(a.params);
  run_ok(b.params);
  EXPECT_EQ(compare(b.o, a.o).max_abs, 0.0);
  EXPECT_EQ(compare(b.lse, a.lse).max_abs, 0.0);
}

TEST(ReferenceForward, SinkWithNoVisibleKeyGivesZeroAndSigma) {
  AttentionCase c({.batch = 1, .sq = 4, .sk = 2, .hq = 1, .hkv = 1, .d = 4, .dv = 4}, 12);
  HostTensor sink = head_array(1, {1.5});
  c.params.sink_logit = sink.view;
  c.params.causal = true;  // rows 0, 1 see nothing
  run_ok(c.params);
  EXPECT_FLOAT_EQ(c.lse_at(0, 0, 0), 1.5f);
  for (int64_t x = 0; x < 4; ++x) EXPECT_EQ(c.o_at(0, 0, 0, x), 0.0);
}

TEST(ReferenceForward, GqaEqualsRepeatedKvHeads) {
  AttentionCase g({.batch = 2, .sq = 6, .sk = 9, .hq = 8, .hkv = 2, .d = 8, .dv = 8}, 13);
  AttentionCase r({.batch = 2, .sq = 6, .sk = 9, .hq = 8, .hkv = 8, .d = 8, .dv = 8}, 14);
  // Copy g's inputs into r, repeating each kv head 4 times (consecutive query heads share).
  for (int64_t n = 0; n < g.q.numel(); ++n) r.q.set(n, g.q.get(n));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t j = 0; j < 9; ++j)
      for (int64_t h = 0; h < 8; ++h)
        for (int64_t x = 0; x < 8; ++x) {
          r.k.set(((b * 9 + j) * 8 + h) * 8 + x, g.k_at(b, j, h / 4, x));
          r.v.set(((b * 9 + j) * 8 + h) * 8 + x, g.v_at(b, j, h / 4, x));
        }
  g.params.causal = r.params.causal = true;
  run_ok(g.params);
  run_ok(r.params);
  EXPECT_EQ(compare(g.o, r.o).max_abs, 0.0);
}

TEST(ReferenceForward, BshdEqualsBhsdStrides) {
  AttentionCase a({.batch = 2, .sq = 5, .sk = 7, .hq = 4, .hkv = 2, .d = 8, .dv = 8}, 15);
  a.params.causal = true;
  run_ok(a.params);
  // Same data laid out BHSD, described to the library through strides.
  const int64_t B = 2, Sq = 5, Sk = 7, Hq = 4, Hkv = 2, D = 8;
  HostTensor q(DType::kFloat32, {B, Hq, Sq, D}), k(DType::kFloat32, {B, Hkv, Sk, D}), v(DType::kFloat32, {B, Hkv, Sk, D});
  HostTensor o = make_nan(DType::kFloat32, {B, Hq, Sq, D});
  for (int64_t b = 0; b < B; ++b)
    for (int64_t x = 0; x < D; ++x) {
      for (int64_t i = 0; i < Sq; ++i)
        for (int64_t h = 0; h < Hq; ++h) q.set(((b * Hq + h) * Sq + i) * D + x, a.q_at(b, i, h, x));
      for (int64_t j = 0; j < Sk; ++j)
        for (int64_t h = 0; h < Hkv; ++h) {
          k.set(((b * Hkv + h) * Sk + j) * D + x, a.k_at(b, j, h, x));
          v.set(((b * Hkv + h) * Sk + j) * D + x, a.v_at(b, j, h, x));
        }
    }
  AttentionParams p;
  p.q = TensorView::strided(q.bytes.data(), DType::kFloat32, {B, Sq, Hq, D}, {Hq * Sq * D, D, Sq * D, 1});
  p.k = TensorView::strided(k.bytes.data(), DType::kFloat32, {B, Sk, Hkv, D}, {Hkv * Sk * D, D, Sk * D, 1});
  p.v = TensorView::strided(v.bytes.data(), DType::kFloat32, {B, Sk, Hkv, D}, {Hkv * Sk * D, D, Sk * D, 1});
  p.o = TensorView::strided(o.bytes.data(), DType::kFloat32, {B, Sq, Hq, D}, {Hq * Sq * D, D, Sq * D, 1});
  p.causal = true;
  run_ok(p);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t i = 0; i < Sq; ++i)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t x = 0; x < D; ++x) ASSERT_EQ(o.get(((b * Hq + h) * Sq + i) * D + x), a.o_at(b, i, h, x));
}

TEST(ReferenceForward, VarlenEqualsSeparateCalls) {
  // Three sequences (query lengths 3, 0, 5; key lengths 4, 2, 6) packed; the empty one
  // writes nothing, and every other row equals a batched call on that sequence alone.
  const int64_t Hq = 4, Hkv = 2, D = 8;
  const std::vector<int32_t> cq = {0, 3, 3, 8}, ck = {0, 4, 6, 12};
  Rng rng(16);
  HostTensor q = make_normal(DType::kFloat32, {8, Hq, D}, rng), k = make_normal(DType::kFloat32, {12, Hkv, D}, rng),
             v = make_normal(DType::kFloat32, {12, Hkv, D}, rng);
  HostTensor o = make_nan(DType::kFloat32, {8, Hq, D}), lse = make_nan(DType::kFloat32, {Hq, 8});
  HostTensor cu_q = make_int32({4}, cq), cu_k = make_int32({4}, ck);
  AttentionParams p;
  p.q = q.view, p.k = k.view, p.v = v.view, p.o = o.view, p.lse = lse.view;
  p.cu_seqlens_q = cu_q.view, p.cu_seqlens_k = cu_k.view;
  p.causal = true;
  run_ok(p);
  for (int b : {0, 2}) {
    const int64_t sq = cq[b + 1] - cq[b], sk = ck[b + 1] - ck[b];
    AttentionParams one;
    one.q = TensorView::strided(q.ptr<float>() + cq[b] * Hq * D, DType::kFloat32, {1, sq, Hq, D}, {0, Hq * D, D, 1});
    one.k = TensorView::strided(k.ptr<float>() + ck[b] * Hkv * D, DType::kFloat32, {1, sk, Hkv, D}, {0, Hkv * D, D, 1});
    one.v = TensorView::strided(v.ptr<float>() + ck[b] * Hkv * D, DType::kFloat32, {1, sk, Hkv, D}, {0, Hkv * D, D, 1});
    HostTensor o1 = make_nan(DType::kFloat32, {1, sq, Hq, D}), l1 = make_nan(DType::kFloat32, {1, Hq, sq});
    one.o = o1.view, one.lse = l1.view;
    one.causal = true;
    run_ok(one);
    for (int64_t i = 0; i < sq; ++i)
      for (int64_t h = 0; h < Hq; ++h) {
        ASSERT_EQ(lse.get(h * 8 + cq[b] + i), l1.get(h * sq + i));
        for (int64_t x = 0; x < D; ++x) ASSERT_EQ(o.get(((cq[b] + i) * Hq + h) * D + x), o1.get((i * Hq + h) * D + x));
      }
  }
}

/// Builds a compressed block mask from a predicate over (h, qb, kb), Bm = 1, Hm = hm.
struct MaskBuilder {
  HostTensor count, index;
  MaskBuilder(int64_t hm, int64_t nqb, int64_t nkb, const std::function<bool(int64_t, int64_t, int64_t)>& keep) {
    count.reset(DType::kInt32, {1, hm, nqb});
    index.reset(DType::kInt32, {1, hm, nqb, nkb});
    for (int64_t h = 0; h < hm; ++h)
      for (int64_t qb = 0; qb < nqb; ++qb) {
        int32_t n = 0;
        for (int64_t kb = 0; kb < nkb; ++kb) {
          if (keep(h, qb, kb)) index.ptr<int32_t>()[(h * nqb + qb) * nkb + n++] = static_cast<int32_t>(kb);
        }
        for (int64_t e = n; e < nkb; ++e) index.ptr<int32_t>()[(h * nqb + qb) * nkb + e] = -1;
        count.ptr<int32_t>()[h * nqb + qb] = n;
      }
  }
  attnkit::BlockMask mask(int bq, int bk) const {
    attnkit::BlockMask m;
    m.kv_count = count.view;
    m.kv_index = index.view;
    m.block_q = bq;
    m.block_k = bk;
    return m;
  }
};

TEST(ReferenceForward, AllTrueBlockMaskEqualsDense) {
  AttentionCase a({.batch = 2, .sq = 11, .sk = 13, .hq = 4, .hkv = 2, .d = 8, .dv = 8}, 17);
  AttentionCase m({.batch = 2, .sq = 11, .sk = 13, .hq = 4, .hkv = 2, .d = 8, .dv = 8}, 17);
  MaskBuilder mb(4, 3, 4, [](int64_t, int64_t, int64_t) { return true; });  // block 4: NQB 3, NKB 4
  m.params.block_mask = mb.mask(4, 4);
  run_ok(a.params);
  run_ok(m.params);
  EXPECT_EQ(compare(m.o, a.o).max_abs, 0.0);
}

TEST(ReferenceForward, CausalBlockMaskWithCausalEqualsCausal) {
  AttentionCase a({.batch = 1, .sq = 10, .sk = 10, .hq = 2, .hkv = 2, .d = 8, .dv = 8}, 18);
  AttentionCase m({.batch = 1, .sq = 10, .sk = 10, .hq = 2, .hkv = 2, .d = 8, .dv = 8}, 18);
  a.params.causal = m.params.causal = true;
  MaskBuilder mb(1, 4, 4, [](int64_t, int64_t qb, int64_t kb) { return kb <= qb; });  // Hm = 1 broadcast
  m.params.block_mask = mb.mask(3, 3);
  run_ok(a.params);
  run_ok(m.params);
  EXPECT_EQ(compare(m.o, a.o).max_abs, 0.0);
}

TEST(ReferenceForward, PerHeadBlockMaskMatchesOracleWithEmptyRows) {
  AttentionCase c({.batch = 1, .sq = 9, .sk = 12, .hq = 4, .hkv = 2, .d = 8, .dv = 8}, 19);
  // Mask head per kv head (Hm = 2); head-1 query block 1 lists nothing -> empty rows.
  auto keep = [](int64_t h, int64_t qb, int64_t kb) { return h == 0 ? (kb + qb) % 2 == 0 : (qb != 1 && kb != 2); };
  MaskBuilder mb(2, 3, 3, keep);
  c.params.block_mask = mb.mask(4, 5);  // block_q 4 -> NQB 3; block_k 5 -> NKB 3 (tail partial)
  run_ok(c.params);
  Oracle o;
  o.visible = [&](int64_t, int64_t h, int64_t i, int64_t j) { return keep(h / 2, i / 4, j / 5); };
  expect_matches(c, o);
}

TEST(ReferenceForward, IdentityGateOfOnesAndRectifyIdentityEqualPlain) {
  AttentionCase a({.batch = 2, .sq = 5, .sk = 6, .hq = 2, .hkv = 1, .d = 8, .dv = 8}, 20);
  AttentionCase g({.batch = 2, .sq = 5, .sk = 6, .hq = 2, .hkv = 1, .d = 8, .dv = 8}, 20);
  HostTensor ones(DType::kFloat32, {2, 5, 2});
  for (int64_t n = 0; n < ones.numel(); ++n) ones.set(n, 1.0);
  g.params.gate.g = ones.view;
  g.params.gate.activation = attnkit::GateActivation::kIdentity;
  HostTensor r(DType::kFloat32, {2, 2, 2}), c(DType::kFloat32, {2, 2, 2, 8});
  for (int64_t n = 0; n < r.numel(); ++n) r.set(n, 1.0);
  g.params.rectify.r = r.view;
  g.params.rectify.c = c.view;
  g.params.rectify.block_q = 4;
  run_ok(a.params);
  run_ok(g.params);
  EXPECT_EQ(compare(g.o, a.o).max_abs, 0.0);
  EXPECT_EQ(compare(g.lse, a.lse).max_abs, 0.0);
}

TEST(ReferenceForward, RectifyThenElementwiseSigmoidGateReadInPlace) {
  const int64_t B = 1, Sq = 6, Hq = 2, Dv = 4;
  AttentionCase a({.batch = B, .sq = Sq, .sk = 7, .hq = Hq, .hkv = 1, .d = 4, .dv = Dv}, 21);
  AttentionCase t({.batch = B, .sq = Sq, .sk = 7, .hq = Hq, .hkv = 1, .d = 4, .dv = Dv}, 21);
  Rng rng(22);
  HostTensor r = make_normal(DType::kFloat32, {B, Hq, 2}, rng), c = make_normal(DType::kFloat32, {B, Hq, 2, Dv}, rng);
  // The gate lives inside a packed projection [B, Sq, Hq, 3 * Dv] at offset Dv (Qwen3-Next style).
  HostTensor packed = make_normal(DType::kFloat32, {B, Sq, Hq, 3 * Dv}, rng);
  t.params.rectify = {r.view, c.view, 3};
  t.params.gate.g = TensorView::strided(packed.ptr<float>() + Dv, DType::kFloat32, {B, Sq, Hq, Dv},
                                        {Sq * Hq * 3 * Dv, Hq * 3 * Dv, 3 * Dv, 1});
  run_ok(a.params);
  run_ok(t.params);
  for (int64_t i = 0; i < Sq; ++i)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t x = 0; x < Dv; ++x) {
        const double rect = r.get(h * 2 + i / 3) * a.o_at(0, i, h, x) + c.get((h * 2 + i / 3) * Dv + x);
        const double g = packed.get((i * Hq + h) * 3 * Dv + Dv + x);
        EXPECT_NEAR(t.o_at(0, i, h, x), rect / (1.0 + std::exp(-g)), 1e-5);
      }
  EXPECT_EQ(compare(t.lse, a.lse).max_abs, 0.0);  // LSE describes the softmax, before transforms
}

TEST(ReferenceForward, HalfAndBfloat16InputsRoundOnceAndMatchFloatOracle) {
  for (DType dt : {DType::kFloat16, DType::kBFloat16}) {
    AttentionCase c({.batch = 1, .sq = 9, .sk = 11, .hq = 2, .hkv = 1, .d = 16, .dv = 16, .dtype = dt}, 23);
    c.params.causal = true;
    run_ok(c.params);
    // The oracle reads the same (already rounded) inputs; O differs by one final rounding.
    std::vector<double> o, lse;
    Oracle oracle;
    oracle.visible = [](int64_t, int64_t, int64_t i, int64_t j) { return j <= i + 2; };
    oracle.run(c, &o, &lse);
    const double ulp = dt == DType::kFloat16 ? 1.0 / 1024 : 1.0 / 128;
    for (size_t n = 0; n < o.size(); ++n) {
      ASSERT_NEAR(c.o.get(static_cast<int64_t>(n)), o[n], ulp * std::max(1.0, std::abs(o[n])));
    }
  }
}

TEST(ReferenceForward, EmptySequencesWriteNothingAndAreOk) {
  AttentionCase c({.batch = 1, .sq = 0, .sk = 5, .hq = 2, .hkv = 2, .d = 4, .dv = 4}, 24);
  run_ok(c.params);
  AttentionCase z({.batch = 1, .sq = 3, .sk = 0, .hq = 2, .hkv = 2, .d = 4, .dv = 4}, 25);
  run_ok(z.params);  // no keys: every row is empty
  for (int64_t n = 0; n < z.o.numel(); ++n) EXPECT_EQ(z.o.get(n), 0.0);
  for (int64_t n = 0; n < z.lse.numel(); ++n) EXPECT_EQ(z.lse.get(n), -kInf);
}

TEST(ReferenceForward, LargeLogitsNeverOverflow) {
  AttentionCase c({.batch = 1, .sq = 4, .sk = 6, .hq = 1, .hkv = 1, .d = 4, .dv = 4}, 26);
  c.params.scale = 2000.0f;  // logits up to ~1e4
  HostTensor sink = head_array(1, {5000.0});
  c.params.sink_logit = sink.view;
  run_ok(c.params);
  for (int64_t n = 0; n < c.o.numel(); ++n) ASSERT_TRUE(std::isfinite(c.o.get(n)));
  for (int64_t n = 0; n < c.lse.numel(); ++n) ASSERT_TRUE(std::isfinite(c.lse.get(n)));
}

}  // namespace
}  // namespace attnkit_test

namespace attnkit_test {
namespace {

/// Copies a batched case's K and V into a paged cache with shuffled pages and a partial
/// last page per sequence, and returns the params of the same call over the cache.
struct PagedCopy {
  HostTensor k, v, table, lens;
  attnkit::AttentionParams params;

  PagedCopy(const AttentionCase& c, int64_t page_size, const std::vector<int32_t>& seq_lens, uint64_t seed) {
    const auto& s = c.shape;
    const int64_t pages_per_seq = (s.sk + page_size - 1) / page_size;
    const int64_t num_pages = s.batch * pages_per_seq + 3;  // spare pages never referenced
    Rng rng(seed);
    k = make_normal(s.dtype, {num_pages, page_size, s.hkv, s.d}, rng);
    v = make_normal(s.dtype, {num_pages, page_size, s.hkv, s.dv}, rng);
    std::vector<int32_t> order(static_cast<size_t>(num_pages));
    for (int64_t n = 0; n < num_pages; ++n) order[n] = static_cast<int32_t>(n);
    std::shuffle(order.begin(), order.end(), rng.engine());
    table = HostTensor(DType::kInt32, {s.batch, pages_per_seq});
    for (int64_t b = 0; b < s.batch; ++b)
      for (int64_t pg = 0; pg < pages_per_seq; ++pg) {
        const int32_t page = order[b * pages_per_seq + pg];
        table.ptr<int32_t>()[b * pages_per_seq + pg] = page;
        for (int64_t slot = 0; slot < page_size && pg * page_size + slot < s.sk; ++slot)
          for (int64_t h = 0; h < s.hkv; ++h) {
            const int64_t j = pg * page_size + slot;
            for (int64_t x = 0; x < s.d; ++x) k.set(((page * page_size + slot) * s.hkv + h) * s.d + x, c.k_at(b, j, h, x));
            for (int64_t x = 0; x < s.dv; ++x) v.set(((page * page_size + slot) * s.hkv + h) * s.dv + x, c.v_at(b, j, h, x));
          }
      }
    lens = make_int32({s.batch}, seq_lens);
    params = c.params;
    params.k = k.view;
    params.v = v.view;
    params.paged_kv.page_table = table.view;
    params.paged_kv.seqlens_k = lens.view;
  }
};

TEST(ReferenceForward, PagedKvEqualsContiguousWithShuffledPagesAndPartialLastPage) {
  // Full-length sequences: the paged call must equal the batched call bit for bit.
  AttentionCase c({.batch = 3, .sq = 4, .sk = 21, .hq = 8, .hkv = 2, .d = 8, .dv = 8}, 30);
  c.params.causal = true;
  HostTensor sink = head_array(8, {0.5, -2.0});
  c.params.sink_logit = sink.view;
  c.params.window_left = 9;
  c.params.sink_tokens = 2;
  PagedCopy paged(c, /*page_size=*/5, {21, 21, 21}, 31);
  HostTensor o = make_nan(DType::kFloat32, {3, 4, 8, 8}), lse = make_nan(DType::kFloat32, {3, 8, 4});
  paged.params.o = o.view;
  paged.params.lse = lse.view;
  run_ok(c.params);
  run_ok(paged.params);
  EXPECT_EQ(compare(o, c.o).max_abs, 0.0);
  EXPECT_EQ(compare(lse, c.lse).max_abs, 0.0);
}

TEST(ReferenceForward, PagedKvWithPerSequenceLengthsMatchesOracle) {
  // Different key lengths per sequence (decode: Sq = 2 new rows at the end of each).
  AttentionCase c({.batch = 3, .sq = 2, .sk = 16, .hq = 4, .hkv = 1, .d = 8, .dv = 8}, 32);
  const std::vector<int32_t> lens = {16, 7, 1};
  PagedCopy paged(c, /*page_size=*/4, lens, 33);
  paged.params.causal = true;
  HostTensor o = make_nan(DType::kFloat32, {3, 2, 4, 8}), lse = make_nan(DType::kFloat32, {3, 4, 2});
  paged.params.o = o.view;
  paged.params.lse = lse.view;
  run_ok(paged.params);
  AttentionCase view = c;  // compare through the oracle with each sequence's own length
  view.o = o;
  view.lse = lse;
  Oracle oracle;
  oracle.visible = [&](int64_t b, int64_t, int64_t i, int64_t j) { return j < lens[b] && j <= i + lens[b] - 2; };
  expect_matches(view, oracle);
  // Sequence 2 has one key: row 0 (i' = -1) sees nothing, row 1 sees key 0.
  EXPECT_EQ(lse.get((2 * 4 + 0) * 2 + 0), -kInf);
}

TEST(ReferenceForward, PagedKvRejectsBadTablesAndWritesNothing) {
  AttentionCase c({.batch = 2, .sq = 2, .sk = 8, .hq = 2, .hkv = 1, .d = 4, .dv = 4}, 34);
  PagedCopy paged(c, 4, {8, 5}, 35);
  paged.table.ptr<int32_t>()[1 * 2 + 1] = 99;  // sequence 1, page 1: outside [0, num_pages)
  attnkit::Status s = attnkit::forward(paged.params);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("paged_kv.page_table[1][1]"), std::string::npos) << s.message();
  for (int64_t n = 0; n < c.o.numel(); ++n) ASSERT_TRUE(std::isnan(c.o.get(n)));

  PagedCopy too_long(c, 4, {8, 9}, 36);  // 9 keys > 2 pages * 4 slots
  s = attnkit::forward(too_long.params);
  EXPECT_NE(s.message().find("paged_kv.seqlens_k[1]"), std::string::npos) << s.message();

  PagedCopy with_cu(c, 4, {8, 5}, 37);
  HostTensor cu = make_int32({3}, {0, 8, 16});
  with_cu.params.cu_seqlens_k = cu.view;
  s = attnkit::forward(with_cu.params);
  EXPECT_NE(s.message().find("cu_seqlens_k"), std::string::npos) << s.message();

  attnkit::StatsOutputs stats;
  HostTensor colsum(DType::kFloat32, {2, 2, 8});
  stats.colsum = colsum.view;
  s = attnkit::attention_stats(paged.params, stats);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace attnkit_test
