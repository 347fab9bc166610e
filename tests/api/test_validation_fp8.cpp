// FP8 KV cache validation (SPEC 10 for k / v / k_scale / v_scale): which dtypes combine,
// the scales' presence, dtype, shape and host values, plan / run, and the entry points
// that refuse an FP8 cache (statistics, ACT, planners) on both backends. Every rejected
// call leaves its outputs NaN (or their int32 sentinel).
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "api/validation_fixture.hpp"

namespace attnkit_test::validation {
namespace {

constexpr const char* kRefusal = "k: float8 KV caches are supported by forward, plan and run only";

/// The fixture's calls with K / V as an FP8 cache (both formats) and valid scales.
class Fp8ValidationTest : public ValidationTest {
 protected:
  Fp8ValidationTest() {
    Rng rng(/*seed=*/5150);
    for (DType f : {DType::kFloat8E4M3, DType::kFloat8E5M2}) {
      const int n = f == DType::kFloat8E4M3 ? 0 : 1;
      k8_[n] = make_normal(f, {kB, kSk, kHkv, kD}, rng);
      v8_[n] = make_normal(f, {kB, kSk, kHkv, kDv}, rng);
      vk8_[n] = make_normal(f, {kTotalK, kHkv, kD}, rng);
      vv8_[n] = make_normal(f, {kTotalK, kHkv, kDv}, rng);
    }
    scale_one_ = make_f32({1}, {0.25f});
    scale_heads_ = make_f32({kHkv}, {0.5f, 1.5f});
  }

  static int index(DType f) { return f == DType::kFloat8E4M3 ? 0 : 1; }

  /// batched() with an FP8 cache in format `f`, per-tensor scales.
  AttentionParams fp8(DType f = DType::kFloat8E4M3) const {
    AttentionParams p = batched();
    p.k = k8_[index(f)].view;
    p.v = v8_[index(f)].view;
    p.k_scale = scale_one_.view;
    p.v_scale = scale_one_.view;
    return p;
  }

  /// varlen() with an FP8 cache in format `f`, per-kv-head scales.
  AttentionParams fp8_varlen(DType f = DType::kFloat8E4M3) const {
    AttentionParams p = varlen();
    p.k = vk8_[index(f)].view;
    p.v = vv8_[index(f)].view;
    p.k_scale = scale_heads_.view;
    p.v_scale = scale_heads_.view;
    return p;
  }

  HostTensor k8_[2], v8_[2], vk8_[2], vv8_[2];
  HostTensor scale_one_, scale_heads_;
};

// ---- what is accepted ----------------------------------------------------------------

TEST_F(Fp8ValidationTest, BothFormatsWithEveryPairOfScaleShapes) {
  for (DType f : {DType::kFloat8E4M3, DType::kFloat8E5M2}) {
    for (auto [k_scale, v_scale] : {std::pair{&scale_one_, &scale_one_}, {&scale_heads_, &scale_heads_},
                                    {&scale_one_, &scale_heads_}, {&scale_heads_, &scale_one_}}) {
      AttentionParams p = fp8(f);
      p.k_scale = k_scale->view;
      p.v_scale = v_scale->view;
      expect_accepted(p);
      // explain() shows the cache and how its scales are laid out (Problem::kv_scale_per_head:
      // either scale per kv head).
      std::string text;
      ASSERT_TRUE(attnkit::explain(p, &text).is_ok());
      const bool per_head = k_scale == &scale_heads_ || v_scale == &scale_heads_;
      const std::string want = std::string("kv=") + attnkit::dtype_name(f) +
                               (per_head ? "(scale per kv head)" : "(scale per tensor)");
      EXPECT_NE(text.find(want), std::string::npos) << text;
    }
  }
}

TEST_F(Fp8ValidationTest, QueryAndOutputMayBeAnyHostFloatType) {
  Rng rng(/*seed=*/5151);
  for (DType io : {DType::kFloat32, DType::kFloat16, DType::kBFloat16}) {
    HostTensor q = make_normal(io, {kB, kSq, kHq, kD}, rng);
    HostTensor o = make_nan(io, {kB, kSq, kHq, kDv});
    AttentionParams p = fp8(DType::kFloat8E5M2);
    p.q = q.view;
    p.o = o.view;
    expect_accepted(p);
  }
}

TEST_F(Fp8ValidationTest, VarlenAndPagedCachesAreAccepted) {
  expect_accepted(fp8_varlen(DType::kFloat8E4M3));
  expect_accepted(fp8_varlen(DType::kFloat8E5M2));
  // The batched FP8 K / V seen as a paged cache of B * Sk / 7 = 2 pages of 7 slots.
  HostTensor table = make_int32({kB, 1}, {1, 0});
  HostTensor lens = make_int32({kB}, {7, 3});
  AttentionParams p = fp8(DType::kFloat8E5M2);
  p.paged_kv.page_table = table.view;
  p.paged_kv.seqlens_k = lens.view;
  p.k_scale = scale_heads_.view;
  expect_accepted(p);
}

// ---- dtypes ----------------------------------------------------------------------------

TEST_F(Fp8ValidationTest, KAndVMustShareOneFloat8Format) {
  AttentionParams p = fp8(DType::kFloat8E4M3);
  p.v = v8_[1].view;  // e5m2
  expect_rejected(p, "v: expected dtype float8_e4m3 (K's), got float8_e5m2");
  p = fp8(DType::kFloat8E5M2);
  p.v = v8_[0].view;
  expect_rejected(p, "v: expected dtype float8_e5m2 (K's), got float8_e4m3");
  p = fp8(DType::kFloat8E4M3);
  p.v = v_.view;  // float32
  expect_rejected(p, "v: expected dtype float8_e4m3 (K's), got float32");
  // A float8 V with a non-float8 K: V must then be Q's dtype.
  p = batched();
  p.v = v8_[0].view;
  expect_rejected(p, "v: expected dtype float32 (Q's), got float8_e4m3");
  p.k_scale = scale_one_.view;
  p.v_scale = scale_one_.view;
  expect_rejected(p, "v: expected dtype float32 (Q's), got float8_e4m3");
}

TEST_F(Fp8ValidationTest, QueryOutputLseAndGateCannotBeFloat8) {
  HostTensor q8 = make_nan(DType::kFloat8E4M3, {kB, kSq, kHq, kD});
  AttentionParams p = fp8();
  p.q = q8.view;
  expect_rejected(p, "q: expected dtype float32, float16 or bfloat16, got float8_e4m3");

  HostTensor o8 = make_nan(DType::kFloat8E4M3, {kB, kSq, kHq, kDv});
  p = fp8();
  p.o = o8.view;
  expect_rejected(p, "o: expected dtype float32 (Q's), got float8_e4m3", {&o8});

  HostTensor lse8 = make_nan(DType::kFloat8E5M2, {kB, kHq, kSq});
  p = fp8();
  p.lse = lse8.view;
  expect_rejected(p, "lse: expected dtype float32", {&lse8});

  HostTensor g8 = make_nan(DType::kFloat8E4M3, {kB, kSq, kHq});
  p = fp8();
  p.gate.g = g8.view;
  expect_rejected(p, "gate.g: expected dtype");
}

// ---- the scales --------------------------------------------------------------------------

TEST_F(Fp8ValidationTest, ScalesAreRequiredWithAFloat8Cache) {
  AttentionParams p = fp8();
  p.k_scale = TensorView{};
  expect_rejected(p, "k_scale: required with a float8 K cache");
  p = fp8();
  p.v_scale = TensorView{};
  expect_rejected(p, "v_scale: required with a float8 V cache");
  p = fp8_varlen(DType::kFloat8E5M2);
  p.k_scale = TensorView{};
  expect_rejected(p, "k_scale: required");
}

TEST_F(Fp8ValidationTest, ScaleShapeAndDtype) {
  HostTensor three = make_f32({kHkv + 1}, {1.0f, 1.0f, 1.0f});
  HostTensor per_query_head = make_f32({kHq}, {1.0f, 1.0f, 1.0f, 1.0f});
  HostTensor rank2 = make_f32({1, 1}, {1.0f});
  HostTensor empty(DType::kFloat32, {0});
  HostTensor half(DType::kFloat16, {kHkv});
  half.set(0, 1.0);
  half.set(1, 1.0);
  for (auto [field, name] : {std::pair{&AttentionParams::k_scale, std::string("k_scale")},
                             {&AttentionParams::v_scale, std::string("v_scale")}}) {
    for (const HostTensor* bad : {&three, &per_query_head, &rank2, &empty}) {
      AttentionParams p = fp8();
      p.*field = bad->view;
      expect_rejected(p, name + ": expected shape [1] (per tensor) or [Hkv] = [2] (per kv head)");
    }
    AttentionParams p = fp8();
    p.*field = half.view;
    expect_rejected(p, name + ": expected dtype float32, got float16");
    p.*field = TensorView::contiguous(scale_heads_.view.data, DType::kFloat32, {kHkv}, DeviceKind::kCuda);
    expect_rejected(p, name + ": lives on a CUDA device");
    p.*field = TensorView::strided(scale_heads_.view.data, DType::kFloat32, {kHkv}, {-1});
    expect_rejected(p, name + ".stride[0]");
  }
}

TEST_F(Fp8ValidationTest, HostScaleValuesMustBeFiniteAndPositive) {
  for (float bad : {0.0f, -0.0f, -1.0f, kNaN, kInf, -kInf}) {
    HostTensor t = make_f32({kHkv}, {1.0f, bad});
    HostTensor one = make_f32({1}, {bad});
    AttentionParams p = fp8();
    p.k_scale = t.view;
    expect_rejected(p, "k_scale[1] = ");
    p = fp8(DType::kFloat8E5M2);
    p.v_scale = t.view;
    expect_rejected(p, "v_scale[1] = ");
    p = fp8_varlen();
    p.v_scale = one.view;
    expect_rejected(p, "v_scale[0] = ");
  }
  // The smallest positive float is a valid (if odd) scale.
  HostTensor tiny = make_f32({1}, {std::numeric_limits<float>::denorm_min()});
  AttentionParams p = fp8();
  p.k_scale = tiny.view;
  expect_accepted(p);
}

TEST_F(Fp8ValidationTest, ScalesWithoutAFloat8CacheAreRejected) {
  AttentionParams p = batched();
  p.k_scale = scale_one_.view;
  expect_rejected(p, "k_scale: expected absent: K is not a float8 cache");
  p = batched();
  p.v_scale = scale_heads_.view;
  expect_rejected(p, "v_scale: expected absent: V is not a float8 cache");
  p = varlen();
  p.k_scale = scale_heads_.view;
  p.v_scale = scale_heads_.view;
  expect_rejected(p, "k_scale: expected absent");
}

// ---- plan / run -------------------------------------------------------------------------

TEST_F(Fp8ValidationTest, PlanRunServesAnFp8CacheAndRefusesAnotherKvDtype) {
  attnkit::AttentionPlan plan;
  ASSERT_TRUE(attnkit::plan(fp8(), &plan).is_ok());
  ASSERT_TRUE(attnkit::run(plan, fp8(), nullptr, 0).is_ok());
  const HostTensor o_run = o_, lse_run = lse_;
  fill_nan(o_);
  fill_nan(lse_);
  ASSERT_TRUE(attnkit::forward(fp8()).is_ok());
  for (int64_t i = 0; i < o_.numel(); ++i) ASSERT_EQ(o_run.get(i), o_.get(i)) << i;
  for (int64_t i = 0; i < lse_.numel(); ++i) ASSERT_EQ(lse_run.get(i), lse_.get(i)) << i;
  fill_nan(o_);
  fill_nan(lse_);
  // Other scales (shape or values) fit the plan; another K/V dtype does not.
  AttentionParams p = fp8();
  p.k_scale = scale_heads_.view;
  EXPECT_TRUE(attnkit::run(plan, p, nullptr, 0).is_ok());
  fill_nan(o_);
  fill_nan(lse_);
  for (const AttentionParams& other : {batched(), fp8(DType::kFloat8E5M2)}) {
    const Status s = attnkit::run(plan, other, nullptr, 0);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.message();
    EXPECT_NE(s.message().find("K/V dtype"), std::string::npos) << s.message();
    EXPECT_TRUE(all_nan(o_));
    EXPECT_TRUE(all_nan(lse_));
  }
}

// ---- entry points that refuse an FP8 cache ------------------------------------------------

/// Outputs of every statistics / ACT / planner entry point, poisoned; `device` builds
/// views over fake device memory (never read: the refusal comes before any backend).
struct RefusalOutputs {
  HostTensor colsum, count, index, mask_count, mask_index, r, c;
  attnkit::StatsOutputs stats;
  attnkit::SinkSets sets;
  attnkit::BlockMask mask;
  attnkit::RectifiedPlan rect;
  attnkit::ActOptions act;
  attnkit::SparseDOptions sparsed;
  attnkit::RectifiedOptions rectified;

  explicit RefusalOutputs(DeviceKind device) {
    constexpr int kBs = 4;
    const int64_t nqb = (kSq + kBs - 1) / kBs, nkb = (kSk + kBs - 1) / kBs;
    colsum = make_nan(DType::kFloat32, {kB, kHq, kSk});
    count = make_int32({kB, kHq}, std::vector<int32_t>(kB * kHq, -7));
    index = make_int32({kB, kHq, 64}, std::vector<int32_t>(kB * kHq * 64, -7));
    mask_count = make_int32({kB, kHq, nqb}, std::vector<int32_t>(kB * kHq * nqb, -7));
    mask_index = make_int32({kB, kHq, nqb, nkb}, std::vector<int32_t>(kB * kHq * nqb * nkb, -7));
    r = make_nan(DType::kFloat32, {kB, kHq, nqb});
    c = make_nan(DType::kFloat32, {kB, kHq, nqb, kDv});
    auto on = [device](const HostTensor& t) {
      TensorView v = t.view;
      v.device = device;
      return v;
    };
    stats.colsum = on(colsum);
    sets.count = on(count);
    sets.index = on(index);
    mask.kv_count = on(mask_count);
    mask.kv_index = on(mask_index);
    mask.block_q = mask.block_k = kBs;
    rect.mask = mask;
    rect.rectify.r = on(r);
    rect.rectify.c = on(c);
    rect.rectify.block_q = kBs;
    sparsed.block_size = kBs;
    rectified.block_size = kBs;
    rectified.top_k = 1;
  }

  bool untouched() const {
    for (const HostTensor* t : {&count, &index, &mask_count, &mask_index})
      for (int64_t i = 0; i < t->numel(); ++i)
        if (t->get(i) != -7) return false;
    return all_nan(colsum) && all_nan(r) && all_nan(c);
  }

  /// Every entry point that refuses an FP8 cache, by name.
  std::vector<std::pair<const char*, std::function<Status(const AttentionParams&)>>> calls() const {
    return {
        {"attention_stats", [this](const AttentionParams& p) { return attnkit::attention_stats(p, stats); }},
        {"act_detect", [this](const AttentionParams& p) { return attnkit::act_detect(p, act, sets); }},
        {"act_forward", [this](const AttentionParams& p) { return attnkit::act_forward(p, act, &sets); }},
        {"act_forward_with_sets", [this](const AttentionParams& p) { return attnkit::act_forward_with_sets(p, act, sets); }},
        {"sparsed_plan", [this](const AttentionParams& p) { return attnkit::sparsed_plan(p, sparsed, mask); }},
        {"rectified_plan", [this](const AttentionParams& p) { return attnkit::rectified_plan(p, rectified, rect); }},
        {"rectified_attention",
         [this](const AttentionParams& p) { return attnkit::rectified_attention(p, rectified, rect); }},
    };
  }
};

TEST_F(Fp8ValidationTest, StatisticsActAndPlannersRefuseAnFp8CacheOnTheHost) {
  RefusalOutputs out(DeviceKind::kHost);
  for (DType f : {DType::kFloat8E4M3, DType::kFloat8E5M2}) {
    for (const auto& [name, call] : out.calls()) {
      for (const AttentionParams& p : {fp8(f), fp8_varlen(f)}) {
        const Status s = call(p);
        EXPECT_EQ(s.code(), StatusCode::kNotSupported) << name << ": " << s.message();
        EXPECT_NE(s.message().find(kRefusal), std::string::npos) << name << ": " << s.message();
        EXPECT_NE(s.message().find(name), std::string::npos) << name << ": " << s.message();
        EXPECT_TRUE(out.untouched()) << name << " wrote an output";
        EXPECT_TRUE(all_nan(o_) && all_nan(lse_) && all_nan(vo_) && all_nan(vlse_)) << name << " wrote O or LSE";
      }
    }
  }
  expect_valid_call_works();
}

TEST_F(Fp8ValidationTest, StatisticsActAndPlannersRefuseAnFp8CacheOnTheDevice) {
  // Fake device views (never dereferenced: validation reads no device memory, and the
  // refusal precedes the backend), so this runs with or without a GPU.
  RefusalOutputs out(DeviceKind::kCuda);
  AttentionParams p = fp8(DType::kFloat8E5M2);
  for (TensorView* t : {&p.q, &p.k, &p.v, &p.o, &p.lse, &p.k_scale, &p.v_scale}) t->device = DeviceKind::kCuda;
  for (const auto& [name, call] : out.calls()) {
    const Status s = call(p);
    EXPECT_EQ(s.code(), StatusCode::kNotSupported) << name << ": " << s.message();
    EXPECT_NE(s.message().find(kRefusal), std::string::npos) << name << ": " << s.message();
  }
  EXPECT_TRUE(out.untouched());
  EXPECT_TRUE(all_nan(o_) && all_nan(lse_));
}

TEST_F(Fp8ValidationTest, InvalidArgumentsAreReportedBeforeTheRefusal) {
  // A broken FP8 call is an invalid argument everywhere, not "not supported".
  RefusalOutputs out(DeviceKind::kHost);
  AttentionParams p = fp8();
  p.k_scale = TensorView{};
  for (const auto& [name, call] : out.calls()) {
    const Status s = call(p);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << name << ": " << s.message();
    EXPECT_NE(s.message().find("k_scale"), std::string::npos) << name << ": " << s.message();
  }
  EXPECT_TRUE(out.untouched());
}

}  // namespace
}  // namespace attnkit_test::validation
