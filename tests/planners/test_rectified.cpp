// Rectified SpaAttn (SPEC 8): the plan against a brute-force transcription of steps 1-5,
// dense equivalences (tau = 1, every block forced, text rows), GAPR on/off, step 6's
// composition with forward(), and argument validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/attention_case.hpp"

namespace attnkit_test {
namespace {

using attnkit::RectifiedOptions;
using attnkit::RectifiedPlan;
using attnkit::StatusCode;

struct PlanBuffers {
  HostTensor count, index, r, c;
  RectifiedPlan plan;
  int64_t b, hq, nqb, dv;
  PlanBuffers(int64_t b_, int64_t hq_, int64_t nqb_, int64_t dv_, int bs)
      : count(DType::kInt32, {b_, hq_, nqb_}), index(DType::kInt32, {b_, hq_, nqb_, nqb_}), b(b_), hq(hq_),
        nqb(nqb_), dv(dv_) {
    for (int64_t n = 0; n < count.numel(); ++n) count.ptr<int32_t>()[n] = 555;
    for (int64_t n = 0; n < index.numel(); ++n) index.ptr<int32_t>()[n] = 555;
    r = make_nan(DType::kFloat32, {b_, hq_, nqb_});
    c = make_nan(DType::kFloat32, {b_, hq_, nqb_, dv_});
    plan.mask.kv_count = count.view;
    plan.mask.kv_index = index.view;
    plan.mask.block_q = plan.mask.block_k = bs;
    plan.rectify.r = r.view;
    plan.rectify.c = c.view;
    plan.rectify.block_q = bs;
  }
  std::vector<int64_t> row(int64_t bi, int64_t h, int64_t qb) const {
    const int64_t rr = (bi * hq + h) * nqb + qb;
    std::vector<int64_t> out;
    for (int64_t e = 0; e < nqb; ++e) {
      const int32_t kb = index.ptr<int32_t>()[rr * nqb + e];
      if (e < count.ptr<int32_t>()[rr]) {
        out.push_back(kb);
      } else {
        EXPECT_EQ(kb, -1);
      }
    }
    return out;
  }
  double r_at(int64_t bi, int64_t h, int64_t qb) const { return r.get((bi * hq + h) * nqb + qb); }
  double c_at(int64_t bi, int64_t h, int64_t qb, int64_t x) const { return c.get(((bi * hq + h) * nqb + qb) * dv + x); }
  bool untouched() const {
    for (int64_t n = 0; n < count.numel(); ++n)
      if (count.ptr<int32_t>()[n] != 555) return false;
    for (int64_t n = 0; n < index.numel(); ++n)
      if (index.ptr<int32_t>()[n] != 555) return false;
    for (const HostTensor* t : {&r, &c})
      for (int64_t n = 0; n < t->numel(); ++n)
        if (!std::isnan(t->get(n))) return false;
    return true;
  }
};

/// Self-attention case whose rows cluster around a per-block mean (noise `spread`), so
/// pooled scores are informative and GAPR's test goes both ways.
AttentionCase clustered_case(int64_t batch, int64_t s, int64_t hq, int64_t hkv, int64_t d, int64_t bs, double spread,
                             uint64_t seed) {
  AttentionCase c({batch, s, s, hq, hkv, d, d}, seed);
  Rng rng(seed + 77);
  for (HostTensor* t : {&c.q, &c.k}) {
    const int64_t heads = t == &c.q ? hq : hkv;
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t blk = 0; blk * bs < s; ++blk) {
          std::vector<double> mu(static_cast<size_t>(d));
          for (double& m : mu) m = rng.normal(0.0, 1.0);
          for (int64_t i = blk * bs; i < std::min(s, (blk + 1) * bs); ++i)
            for (int64_t x = 0; x < d; ++x) t->set(((b * s + i) * heads + h) * d + x, mu[x] + spread * rng.normal());
        }
  }
  return c;
}

/// SPEC 8 steps 1-5 for one (b, h, vision query block i), transcribed from the text.
struct BrutePlan {
  std::vector<int64_t> mask;
  double r = 0;
  std::vector<double> c;
};

BrutePlan brute_plan(const AttentionCase& cs, const RectifiedOptions& o, int64_t b, int64_t h, int64_t i,
                     const std::function<bool(int64_t j)>& forced) {
  const auto& sh = cs.shape;
  const int64_t s = sh.sq, bs = o.block_size, st = o.text_tokens, sv = s - st, nb = (sv + bs - 1) / bs;
  const int64_t kvh = h / (sh.hq / sh.hkv), d = sh.d, dv = sh.dv;
  auto mean = [&](auto at, int64_t blk, int64_t width, std::vector<float>* m, std::vector<float>* dev) {
    const int64_t r0 = blk * bs, r1 = std::min(sv, r0 + bs);
    m->assign(static_cast<size_t>(width), 0.0f);
    for (int64_t x = 0; x < width; ++x) {
      float acc = 0;
      for (int64_t a = r0; a < r1; ++a) acc += static_cast<float>(at(a, x));
      (*m)[x] = acc / static_cast<float>(r1 - r0);
    }
    if (!dev) return;
    dev->assign(static_cast<size_t>(width), 0.0f);
    for (int64_t x = 0; x < width; ++x) {
      float acc = 0;
      for (int64_t a = r0; a < r1; ++a) acc += std::fabs(static_cast<float>(at(a, x)) - (*m)[x]);
      (*dev)[x] = acc / static_cast<float>(r1 - r0);
    }
  };
  auto qa = [&](int64_t a, int64_t x) { return cs.q_at(b, a, h, x); };
  auto ka = [&](int64_t a, int64_t x) { return cs.k_at(b, a, kvh, x); };
  auto va = [&](int64_t a, int64_t x) { return cs.v_at(b, a, kvh, x); };
  auto dotf = [&](const std::vector<float>& a, const std::vector<float>& bb) {
    double acc = 0;
    for (size_t x = 0; x < a.size(); ++x) acc += static_cast<double>(a[x]) * bb[x];
    return acc;
  };
  std::vector<float> qbar, dq;
  mean(qa, i, d, &qbar, &dq);
  std::vector<std::vector<float>> kbar(nb), dk(nb), vbar(nb);
  for (int64_t j = 0; j < nb; ++j) {
    mean(ka, j, d, &kbar[j], &dk[j]);
    mean(va, j, dv, &vbar[j], nullptr);
  }
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  std::vector<double> logits;
  for (int64_t j = 0; j < nb; ++j) logits.push_back(scale * dotf(qbar, kbar[j]));
  for (int64_t t = sv; t < s; ++t) {
    double acc = 0;
    for (int64_t x = 0; x < d; ++x) acc += static_cast<double>(qbar[x]) * ka(t, x);
    logits.push_back(scale * acc);
  }
  const double mx = *std::max_element(logits.begin(), logits.end());
  double l = 0;
  for (double z : logits) l += std::exp(z - mx);
  std::vector<double> p;
  for (double z : logits) p.push_back(std::exp(z - mx) / l);
  double zsum = 0, text = 0;
  for (int64_t j = 0; j < nb; ++j) zsum += static_cast<double>(std::min(bs, sv - j * bs)) * p[j];
  for (int64_t t = 0; t < st; ++t) text += p[nb + t];
  zsum += text;
  std::vector<double> phat;
  for (int64_t j = 0; j < nb; ++j) phat.push_back(static_cast<double>(std::min(bs, sv - j * bs)) * p[j] / zsum);
  if (st > 0) phat.push_back(text / zsum);
  std::vector<int64_t> order(phat.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t bb) { return phat[a] > phat[bb]; });
  int64_t below = 0;
  double cum = 0;
  for (int64_t e : order) below += (cum += phat[e]) <= o.tau;
  const int64_t n = std::min<int64_t>(static_cast<int64_t>(order.size()), std::max<int64_t>(o.top_k, 1 + below));
  std::vector<bool> in_m(static_cast<size_t>(nb), false);
  for (int64_t e = 0; e < n; ++e)
    if (order[e] < nb) in_m[order[e]] = true;
  for (int64_t j = 0; j < nb; ++j) in_m[j] = in_m[j] || forced(j);
  BrutePlan bp;
  bp.c.assign(static_cast<size_t>(dv), 0.0);
  bp.r = st > 0 ? phat[nb] : 0.0;
  for (int64_t j = 0; j < nb; ++j) {
    const bool g = !in_m[j] && o.gapr &&
                   std::abs(dotf(qbar, kbar[j])) <= std::abs(dotf(dq, kbar[j])) + std::abs(dotf(qbar, dk[j]));
    if (in_m[j] || g) {
      bp.r += phat[j];
    } else {
      for (int64_t x = 0; x < dv; ++x) bp.c[x] += phat[j] * vbar[j][x];
    }
    if (in_m[j]) bp.mask.push_back(j);
  }
  for (int64_t kb = nb; kb < (s + bs - 1) / bs; ++kb) bp.mask.push_back(kb);
  return bp;
}

std::vector<double> dense_output(AttentionCase& c) {
  c.poison();
  EXPECT_TRUE(attnkit::forward(c.params).is_ok());
  std::vector<double> o(static_cast<size_t>(c.o.numel()));
  for (int64_t n = 0; n < c.o.numel(); ++n) o[n] = c.o.get(n);
  c.poison();
  return o;
}

TEST(Rectified, TauOneEqualsDenseAttention) {
  // Everything selected: R = 1, c = 0 and every row is dense (SPEC 8 step 5).
  for (int64_t st : {0, 8}) {
    const int64_t s = st ? 40 : 37, nqb = (s + 7) / 8;  // St = 8: Sv = 32; St = 0: a 5-token tail block
    AttentionCase c({2, s, s, 4, 2, 16, 8}, /*seed=*/10 + st);
    c.params.causal = st == 0;
    const std::vector<double> dense = dense_output(c);
    RectifiedOptions opt;
    opt.block_size = 8;
    opt.text_tokens = st;
    opt.top_k = 0;
    opt.tau = 1.0f;
    PlanBuffers pb(2, 4, nqb, 8, 8);
    ASSERT_TRUE(attnkit::rectified_attention(c.params, opt, pb.plan).is_ok());
    for (int64_t n = 0; n < c.o.numel(); ++n) ASSERT_NEAR(c.o.get(n), dense[n], 1e-5) << st << " " << n;
    std::vector<int64_t> all(static_cast<size_t>(nqb));
    std::iota(all.begin(), all.end(), 0);
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t h = 0; h < 4; ++h)
        for (int64_t qb = 0; qb < nqb; ++qb) {
          EXPECT_EQ(pb.row(b, h, qb), all);
          EXPECT_NEAR(pb.r_at(b, h, qb), 1.0, 1e-6);
          for (int64_t x = 0; x < 8; ++x) EXPECT_EQ(pb.c_at(b, h, qb, x), 0.0);
        }
  }
}

TEST(Rectified, ForcingEveryBlockEqualsDenseAttention) {
  // top_k = 0 and tau = 0 select one entry; an all-ones forced matrix (broadcast Bm = Hm = 1)
  // adds every other vision block.
  AttentionCase c({1, 32, 32, 2, 1, 8, 8}, /*seed=*/20);
  const std::vector<double> dense = dense_output(c);
  HostTensor forced(DType::kUInt8, {1, 1, 4, 4});
  for (int64_t n = 0; n < 16; ++n) forced.ptr<uint8_t>()[n] = 1;
  RectifiedOptions opt;
  opt.block_size = 8;
  opt.top_k = 0;
  opt.tau = 0.0f;
  opt.forced = forced.view;
  PlanBuffers pb(1, 2, 4, 8, 8);
  ASSERT_TRUE(attnkit::rectified_attention(c.params, opt, pb.plan).is_ok());
  for (int64_t n = 0; n < c.o.numel(); ++n) ASSERT_NEAR(c.o.get(n), dense[n], 1e-5) << n;
}

TEST(Rectified, TextRowsAreDense) {
  AttentionCase c = clustered_case(1, 40, 2, 2, 8, 8, 0.3, /*seed=*/30);
  const std::vector<double> dense = dense_output(c);
  RectifiedOptions opt;
  opt.block_size = 8;
  opt.text_tokens = 12;  // Sv = 28 is not a multiple of 8: rejected
  opt.top_k = 0;
  opt.tau = 0.0f;
  PlanBuffers pb(1, 2, 5, 8, 8);
  EXPECT_EQ(attnkit::rectified_attention(c.params, opt, pb.plan).code(), StatusCode::kInvalidArgument);
  opt.text_tokens = 16;  // Sv = 24: vision blocks 0..2, text query blocks 3 and 4
  ASSERT_TRUE(attnkit::rectified_attention(c.params, opt, pb.plan).is_ok());
  for (int64_t i = 24; i < 40; ++i)
    for (int64_t h = 0; h < 2; ++h)
      for (int64_t x = 0; x < 8; ++x) {
        const int64_t n = (i * 2 + h) * 8 + x;
        ASSERT_NEAR(c.o.get(n), dense[n], 1e-5) << i;
      }
  bool vision_differs = false;
  for (int64_t n = 0; n < 24 * 2 * 8; ++n) vision_differs |= std::abs(c.o.get(n) - dense[n]) > 1e-4;
  EXPECT_TRUE(vision_differs) << "a sparse plan should change some vision rows";
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t qb = 3; qb < 5; ++qb) {
      EXPECT_EQ(pb.row(0, h, qb), (std::vector<int64_t>{0, 1, 2, 3, 4}));
      EXPECT_EQ(pb.r_at(0, h, qb), 1.0);
      for (int64_t x = 0; x < 8; ++x) EXPECT_EQ(pb.c_at(0, h, qb, x), 0.0);
    }
  // Every vision row selects the text blocks 3 and 4.
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t qb = 0; qb < 3; ++qb) {
      const std::vector<int64_t> row = pb.row(0, h, qb);
      ASSERT_GE(row.size(), 2u);
      EXPECT_EQ(row[row.size() - 2], 3);
      EXPECT_EQ(row.back(), 4);
    }
}

TEST(Rectified, PlanMatchesBruteForceWithGaprOnAndOff) {
  for (int64_t st : {0, 5}) {
    // S = 45: St = 0 has a 5-token tail block; St = 5 gives Sv = 40 = 5 blocks.
    AttentionCase c = clustered_case(2, 45, 4, 2, 8, 8, 0.35, /*seed=*/40 + st);
    HostTensor forced(DType::kUInt8, {2, 2, 6 - (st ? 1 : 0), 6 - (st ? 1 : 0)});
    const int64_t nb = forced.view.shape[2];
    for (int64_t n = 0; n < forced.numel(); ++n) forced.ptr<uint8_t>()[n] = (n % 7) == 0;
    for (bool gapr : {true, false}) {
      RectifiedOptions opt;
      opt.block_size = 8;
      opt.text_tokens = st;
      opt.top_k = 2;
      opt.tau = 0.3f;
      opt.gapr = gapr;
      opt.forced = forced.view;
      PlanBuffers pb(2, 4, 6, 8, 8);
      ASSERT_TRUE(attnkit::rectified_plan(c.params, opt, pb.plan).is_ok());
      int in_c = 0, partial = 0;
      for (int64_t b = 0; b < 2; ++b)
        for (int64_t h = 0; h < 4; ++h)
          for (int64_t i = 0; i < nb; ++i) {
            auto fj = [&](int64_t j) { return forced.ptr<uint8_t>()[((b * 2 + h / 2) * nb + i) * nb + j] != 0; };
            const BrutePlan want = brute_plan(c, opt, b, h, i, fj);
            EXPECT_EQ(pb.row(b, h, i), want.mask) << st << gapr << " " << b << " " << h << " " << i;
            EXPECT_NEAR(pb.r_at(b, h, i), want.r, 1e-5);
            for (int64_t x = 0; x < 8; ++x) EXPECT_NEAR(pb.c_at(b, h, i, x), want.c[x], 1e-5);
            in_c += want.r < 1 - 1e-6;
            partial += want.mask.size() < static_cast<size_t>(6);
          }
      EXPECT_GT(partial, 0) << "some rows must be sparse";
      if (!gapr) EXPECT_GT(in_c, 0) << "without GAPR some mass must go to c";
    }
  }
}

TEST(Rectified, GaprOnlyMovesMassFromCToR) {
  AttentionCase c = clustered_case(1, 48, 2, 1, 8, 8, 0.5, /*seed=*/50);
  RectifiedOptions opt;
  opt.block_size = 8;
  opt.top_k = 1;
  opt.tau = 0.0f;
  PlanBuffers on(1, 2, 6, 8, 8), off(1, 2, 6, 8, 8);
  ASSERT_TRUE(attnkit::rectified_plan(c.params, opt, on.plan).is_ok());
  opt.gapr = false;
  ASSERT_TRUE(attnkit::rectified_plan(c.params, opt, off.plan).is_ok());
  bool moved = false;
  for (int64_t h = 0; h < 2; ++h)
    for (int64_t i = 0; i < 6; ++i) {
      EXPECT_EQ(on.row(0, h, i), off.row(0, h, i)) << "GAPR never changes the mask";
      EXPECT_GE(on.r_at(0, h, i), off.r_at(0, h, i) - 1e-7);
      moved |= on.r_at(0, h, i) > off.r_at(0, h, i) + 1e-4;
    }
  EXPECT_TRUE(moved);
}

TEST(Rectified, AttentionIsForwardWithThePlanAndTheGate) {
  AttentionCase c = clustered_case(2, 24, 2, 2, 8, 8, 0.4, /*seed=*/60);
  Rng rng(61);
  HostTensor gate = make_normal(DType::kFloat32, {2, 24, 2, 8}, rng);
  c.params.gate.g = gate.view;
  c.params.causal = true;
  RectifiedOptions opt;
  opt.block_size = 8;
  opt.top_k = 1;
  PlanBuffers pb(2, 2, 3, 8, 8);
  ASSERT_TRUE(attnkit::rectified_attention(c.params, opt, pb.plan).is_ok());
  std::vector<double> got(static_cast<size_t>(c.o.numel()));
  for (int64_t n = 0; n < c.o.numel(); ++n) got[n] = c.o.get(n);
  attnkit::AttentionParams p = c.params;
  p.block_mask = pb.plan.mask;
  p.rectify = pb.plan.rectify;
  c.poison();
  ASSERT_TRUE(attnkit::forward(p).is_ok());
  for (int64_t n = 0; n < c.o.numel(); ++n) ASSERT_EQ(c.o.get(n), got[n]) << n;
}

TEST(Rectified, BadArgumentsAreRejectedAndNothingIsWritten) {
  AttentionCase c({1, 16, 16, 2, 2, 8, 8}, /*seed=*/70);
  PlanBuffers pb(1, 2, 2, 8, 8);
  auto check = [&](const attnkit::AttentionParams& p, const RectifiedOptions& opt, const RectifiedPlan& plan,
                   const char* name) {
    for (bool attention : {false, true}) {
      const attnkit::Status s =
          attention ? attnkit::rectified_attention(p, opt, plan) : attnkit::rectified_plan(p, opt, plan);
      EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name;
      EXPECT_NE(s.message().find(name), std::string::npos) << name << ": " << s.message();
      EXPECT_TRUE(pb.untouched()) << name;
      for (int64_t n = 0; n < c.o.numel(); ++n) ASSERT_TRUE(std::isnan(c.o.get(n))) << name;
    }
  };
  RectifiedOptions opt;
  opt.block_size = 8;
  opt.top_k = 1;
  check(c.params, RectifiedOptions{}, pb.plan, "options.top_k");  // top_k is required
  RectifiedOptions bad = opt;
  bad.tau = 1.5f;
  check(c.params, bad, pb.plan, "options.tau");
  bad = opt;
  bad.block_size = 0;
  check(c.params, bad, pb.plan, "options.block_size");
  bad = opt;
  bad.text_tokens = 17;
  check(c.params, bad, pb.plan, "options.text_tokens");
  bad.text_tokens = 4;  // Sv = 12, not a multiple of 8
  check(c.params, bad, pb.plan, "options.text_tokens");
  HostTensor forced(DType::kUInt8, {1, 3, 2, 2});  // Hm = 3 does not divide Hq = 2
  bad = opt;
  bad.forced = forced.view;
  check(c.params, bad, pb.plan, "options.forced");
  RectifiedPlan plan = pb.plan;
  plan.mask.block_q = 16;
  check(c.params, opt, plan, "mask.block_q");
  plan = pb.plan;
  plan.rectify.c.shape[3] = 4;
  check(c.params, opt, plan, "rectify.c");
  plan = pb.plan;
  plan.rectify.block_q = 4;
  check(c.params, opt, plan, "rectify.block_q");
  attnkit::AttentionParams p = c.params;
  p.block_mask = pb.plan.mask;
  check(p, opt, pb.plan, "block_mask");
  p = c.params;
  p.rectify = pb.plan.rectify;
  check(p, opt, pb.plan, "rectify");
  AttentionCase cross({1, 16, 24, 2, 2, 8, 8}, /*seed=*/71);
  check(cross.params, opt, pb.plan, "k.shape[1]");
  // Varlen is not accepted.
  HostTensor cu = make_int32({2}, {0, 16});
  p = c.params;
  for (TensorView* t : {&p.q, &p.k, &p.v, &p.o}) {
    t->rank = 3;
    for (int d = 0; d < 3; ++d) {
      t->shape[d] = t->shape[d + 1];
      t->stride[d] = t->stride[d + 1];
    }
  }
  p.lse = TensorView{};
  p.cu_seqlens_q = p.cu_seqlens_k = cu.view;
  check(p, opt, pb.plan, "cu_seqlens_q");
}

}  // namespace
}  // namespace attnkit_test
