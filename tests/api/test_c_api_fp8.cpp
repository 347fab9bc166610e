// C API of the FP8 KV cache: the two dtype values, k_scale / v_scale appended at the end of
// attnkit_attention_params (earlier offsets unchanged), forward equal to C++ bit for bit,
// and the same validation errors and refusals as the C++ API.
#include <gtest/gtest.h>

#include <cstddef>
#include <string>

#include "api/c_api_fixture.hpp"

namespace attnkit_test::c_api {
namespace {

static_assert(ATTNKIT_DTYPE_FLOAT8_E4M3 == 5 && ATTNKIT_DTYPE_FLOAT8_E4M3 == static_cast<int>(DType::kFloat8E4M3));
static_assert(ATTNKIT_DTYPE_FLOAT8_E5M2 == 6 && ATTNKIT_DTYPE_FLOAT8_E5M2 == static_cast<int>(DType::kFloat8E5M2));

// ABI: the new fields come after every older one, so a caller compiled against the
// previous header still finds each older field at its offset.
static_assert(offsetof(attnkit_attention_params, k_scale) > offsetof(attnkit_attention_params, stream));
static_assert(offsetof(attnkit_attention_params, v_scale) == offsetof(attnkit_attention_params, k_scale) + sizeof(attnkit_tensor));
static_assert(offsetof(attnkit_attention_params, v_scale) + sizeof(attnkit_tensor) == sizeof(attnkit_attention_params));

/// The fixture's call with K / V re-encoded as an FP8 cache and its scales.
class CApiFp8Test : public CApiTest {
 protected:
  CApiFp8Test() {
    Rng rng(/*seed=*/778);
    k8_ = make_normal(DType::kFloat8E4M3, {kB, kSk, kHkv, kD}, rng);
    v8_ = make_normal(DType::kFloat8E4M3, {kB, kSk, kHkv, kDv}, rng);
    k_scale_ = make_normal(DType::kFloat32, {kHkv}, rng);
    for (int64_t h = 0; h < kHkv; ++h) k_scale_.set(h, 0.5 + std::abs(k_scale_.get(h)));
    v_scale_ = HostTensor(DType::kFloat32, {1});
    v_scale_.set(0, 0.75);
  }

  AttentionParams fp8(const HostTensor& o, const HostTensor& lse) const {
    AttentionParams p = everything(o, lse);
    p.k = k8_.view;
    p.v = v8_.view;
    p.k_scale = k_scale_.view;
    p.v_scale = v_scale_.view;
    return p;
  }

  HostTensor k8_, v8_, k_scale_, v_scale_;
};

TEST_F(CApiFp8Test, ForwardMatchesCppBitForBit) {
  const Status s = attnkit::forward(fp8(o_cpp_, lse_cpp_));
  ASSERT_TRUE(s.is_ok()) << s.message();
  const attnkit_attention_params c = c_params(fp8(o_c_, lse_c_));
  EXPECT_EQ(c.k.dtype, ATTNKIT_DTYPE_FLOAT8_E4M3);
  ASSERT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_OK) << attnkit_last_error();
  EXPECT_TRUE(same_bytes(o_c_, o_cpp_));
  EXPECT_TRUE(same_bytes(lse_c_, lse_cpp_));
  EXPECT_EQ(attnkit_is_supported(&c), 1) << attnkit_last_error();
}

TEST_F(CApiFp8Test, E5M2ForwardThroughPlanAndRunMatchesCpp) {
  Rng rng(/*seed=*/779);
  HostTensor k = make_normal(DType::kFloat8E5M2, {kB, kSk, kHkv, kD}, rng);
  HostTensor v = make_normal(DType::kFloat8E5M2, {kB, kSk, kHkv, kDv}, rng);
  AttentionParams cpp = fp8(o_cpp_, lse_cpp_);
  cpp.k = k.view;
  cpp.v = v.view;
  ASSERT_TRUE(attnkit::forward(cpp).is_ok());
  AttentionParams via_c = cpp;
  via_c.o = o_c_.view;
  via_c.lse = lse_c_.view;
  const attnkit_attention_params c = c_params(via_c);
  attnkit_plan* plan = nullptr;
  ASSERT_EQ(attnkit_plan_create(&c, &plan), ATTNKIT_STATUS_OK) << attnkit_last_error();
  ASSERT_EQ(attnkit_run(plan, &c, nullptr, 0), ATTNKIT_STATUS_OK) << attnkit_last_error();
  attnkit_plan_destroy(plan);
  EXPECT_TRUE(same_bytes(o_c_, o_cpp_));
  EXPECT_TRUE(same_bytes(lse_c_, lse_cpp_));
}

TEST_F(CApiFp8Test, ErrorsMatchCpp) {
  struct Spoil {
    const char* needle;
    void (*apply)(AttentionParams*, const HostTensor& other_format);
  };
  HostTensor v_e5m2 = HostTensor(DType::kFloat8E5M2, {kB, kSk, kHkv, kDv});
  const Spoil cases[] = {
      {"k_scale: required", [](AttentionParams* p, const HostTensor&) { p->k_scale = TensorView{}; }},
      {"v_scale: expected shape", [](AttentionParams* p, const HostTensor&) { p->v_scale.shape[0] = 3; }},
      {"v: expected dtype float8_e4m3 (K's)", [](AttentionParams* p, const HostTensor& t) { p->v = t.view; }},
  };
  for (const Spoil& spoil : cases) {
    AttentionParams p = fp8(o_c_, lse_c_);
    spoil.apply(&p, v_e5m2);
    const Status s = attnkit::forward(p);
    ASSERT_EQ(s.code(), attnkit::StatusCode::kInvalidArgument) << s.message();
    EXPECT_NE(s.message().find(spoil.needle), std::string::npos) << s.message();
    const attnkit_attention_params c = c_params(p);
    EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_INVALID_ARGUMENT);
    EXPECT_EQ(std::string(attnkit_last_error()), s.message());
  }
  // Scales on a float32 cache.
  AttentionParams p = everything(o_c_, lse_c_);
  p.v_scale = v_scale_.view;
  attnkit_attention_params c = c_params(p);
  EXPECT_EQ(attnkit_forward(&c), ATTNKIT_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(attnkit_last_error()).find("v_scale: expected absent: V is not a float8 cache"), std::string::npos)
      << attnkit_last_error();
  EXPECT_TRUE(all_nan(o_c_));
  EXPECT_TRUE(all_nan(lse_c_));
}

TEST_F(CApiFp8Test, StatisticsAndPlannersRefuseWithNotSupported) {
  attnkit_attention_params c = c_params(fp8(o_c_, lse_c_));
  c.block_mask = attnkit_block_mask{};  // absent: only the FP8 cache is in the way
  attnkit_block_mask_init(&c.block_mask);
  HostTensor colsum = make_nan(DType::kFloat32, {kB, kHq, kSk});
  attnkit_stats_outputs stats;
  attnkit_stats_outputs_init(&stats);
  stats.colsum = c_tensor(colsum.view);
  EXPECT_EQ(attnkit_attention_stats(&c, &stats), ATTNKIT_STATUS_NOT_SUPPORTED);
  EXPECT_NE(std::string(attnkit_last_error()).find("k: float8 KV caches are supported by forward, plan and run only"),
            std::string::npos)
      << attnkit_last_error();
  attnkit_act_options act;
  attnkit_act_options_init(&act);
  EXPECT_EQ(attnkit_act_forward(&c, &act, nullptr), ATTNKIT_STATUS_NOT_SUPPORTED) << attnkit_last_error();
  EXPECT_NE(std::string(attnkit_last_error()).find("act_forward"), std::string::npos) << attnkit_last_error();
  EXPECT_TRUE(all_nan(colsum));
  EXPECT_TRUE(all_nan(o_c_));
  EXPECT_TRUE(all_nan(lse_c_));
}

}  // namespace
}  // namespace attnkit_test::c_api
