// The CUDA forward kernel against the CPU reference, through the public API, for every
// SPEC 1-6 feature and their combinations, over head dims 64/128/256 and fp16/bf16.
#include <gtest/gtest.h>

#include <cstdlib>

#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "cuda/attention_gpu_case.hpp"

namespace attnkit_test {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

GpuCase named(const std::string& name) {
  GpuCase c;
  c.name = name;
  return c;
}

std::vector<GpuCase> feature_cases() {
  std::vector<GpuCase> v;
  v.push_back(named("dense"));
  { GpuCase c = named("causal"); c.causal = true; v.push_back(c); }
  { GpuCase c = named("causal_sq_lt_sk"); c.causal = true; c.sq = 77; c.sk = 300; v.push_back(c); }
  { GpuCase c = named("causal_sq_gt_sk_empty_rows"); c.causal = true; c.sq = 300; c.sk = 77; v.push_back(c); }
  { GpuCase c = named("odd_q1013_k1024"); c.batch = 1; c.hq = c.hkv = 2; c.sq = 1013; c.sk = 1024; v.push_back(c); }
  { GpuCase c = named("odd_causal_q1013_k1024"); c.batch = 1; c.hq = c.hkv = 2; c.sq = 1013; c.sk = 1024; c.causal = true; v.push_back(c); }
  { GpuCase c = named("decode_sq1"); c.sq = 1; c.sk = 777; v.push_back(c); }
  { GpuCase c = named("decode_sq1_causal_gqa"); c.sq = 1; c.sk = 777; c.causal = true; c.hq = 8; c.hkv = 2; v.push_back(c); }
  { GpuCase c = named("window_left_causal"); c.causal = true; c.window_left = 50; v.push_back(c); }
  { GpuCase c = named("window_left_right"); c.window_left = 30; c.window_right = 20; v.push_back(c); }
  { GpuCase c = named("window_right_only"); c.window_right = 0; c.sq = 150; c.sk = 250; v.push_back(c); }
  { GpuCase c = named("streaming_llm"); c.causal = true; c.window_left = 64; c.sink_tokens = 4; c.sq = c.sk = 300; v.push_back(c); }
  { GpuCase c = named("streaming_llm_wide_sinks"); c.causal = true; c.window_left = 16; c.sink_tokens = 70; c.sq = c.sk = 260; v.push_back(c); }
  { GpuCase c = named("gqa_4to1_causal"); c.hq = 8; c.hkv = 2; c.causal = true; v.push_back(c); }
  { GpuCase c = named("gqa_8to1"); c.hq = 16; c.hkv = 2; c.batch = 1; v.push_back(c); }
  { GpuCase c = named("mqa"); c.hq = 4; c.hkv = 1; c.causal = true; v.push_back(c); }
  { GpuCase c = named("varlen_with_empty"); c.varlen_q = {100, 0, 257, 64, 5}; c.varlen_k = {120, 0, 300, 33, 0}; v.push_back(c); }
  { GpuCase c = named("varlen_causal_gqa"); c.varlen_q = {70, 129, 1}; c.varlen_k = {70, 300, 64}; c.causal = true; c.hq = 8; c.hkv = 2; v.push_back(c); }
  { GpuCase c = named("bhsd_causal"); c.bhsd = true; c.causal = true; c.sq = 130; c.sk = 190; v.push_back(c); }
  { GpuCase c = named("no_lse"); c.lse = false; c.causal = true; v.push_back(c); }
  { GpuCase c = named("head_scale"); c.head_scale = {0.5, 1.0, 2.0, 1.5}; c.causal = true; v.push_back(c); }
  { GpuCase c = named("key_bias_first_token"); c.log_gamma = {1.0, -kInf, -2.0, 3.0}; v.push_back(c); }
  { GpuCase c = named("key_bias_range"); c.log_gamma = {0.7, -kInf, -1.5, 2.0}; c.bias_begin = 10; c.bias_end = 90; c.causal = true; v.push_back(c); }
  { GpuCase c = named("key_bias_all_keys_neg_inf"); c.log_gamma = {0.5, -kInf}; c.bias_begin = 0; c.bias_end = 200; v.push_back(c); }
  { GpuCase c = named("learned_sink"); c.sink_logit = {0.5, -1.0, 3.0, -kInf}; c.causal = true; v.push_back(c); }
  { GpuCase c = named("learned_sink_huge"); c.sink_logit = {1e4, 2.0}; v.push_back(c); }
  { GpuCase c = named("fp8_e4m3_kv_causal_gqa"); c.kv_fp8 = DType::kFloat8E4M3; c.causal = true; c.hq = 8; c.hkv = 2; v.push_back(c); }
  { GpuCase c = named("fp8_e5m2_kv_per_head_varlen"); c.kv_fp8 = DType::kFloat8E5M2; c.kv_scale_per_head = true; c.varlen_q = {100, 0, 257}; c.varlen_k = {120, 0, 300}; v.push_back(c); }
  { GpuCase c = named("learned_sink_near_float_max"); c.sink_logit = {2.3e38, 2.4e38, 3.4e38, 1e4}; c.sq = 70; c.sk = 90; v.push_back(c); }
  { GpuCase c = named("learned_sink_below_minus_float_max_empty_rows"); c.sink_logit = {-2.3e38, -2.4e38, -3.4e38, -1e4}; c.causal = true; c.sq = 70; c.sk = 40; v.push_back(c); }
  { GpuCase c = named("learned_sink_rows_without_keys"); c.sink_logit = {1.0, -2.0}; c.causal = true; c.sq = 300; c.sk = 77; v.push_back(c); }
  { GpuCase c = named("gate_headwise_sigmoid_f32"); c.gate = GateKind::kHeadwise; v.push_back(c); }
  { GpuCase c = named("gate_headwise_identity_qdtype"); c.gate = GateKind::kHeadwise; c.gate_float32 = false; c.gate_sigmoid = false; v.push_back(c); }
  { GpuCase c = named("gate_elementwise_sigmoid_qdtype"); c.gate = GateKind::kElementwise; c.gate_float32 = false; v.push_back(c); }
  { GpuCase c = named("gate_elementwise_identity_f32"); c.gate = GateKind::kElementwise; c.gate_sigmoid = false; v.push_back(c); }
  { GpuCase c = named("gate_packed_beside_q"); c.gate = GateKind::kElementwise; c.gate_packed = true; c.causal = true; v.push_back(c); }
  { GpuCase c = named("gate_varlen_headwise"); c.gate = GateKind::kHeadwise; c.varlen_q = {33, 180}; c.varlen_k = {40, 180}; v.push_back(c); }
  { GpuCase c = named("rectify"); c.rectify_block_q = 64; v.push_back(c); }
  { GpuCase c = named("rectify_block_q_128"); c.rectify_block_q = 128; c.causal = true; v.push_back(c); }
  { GpuCase c = named("block_mask_64x64_d30"); c.mask_block_q = 64; c.mask_block_k = 64; c.mask_density = 0.3; c.sq = c.sk = 400; v.push_back(c); }
  { GpuCase c = named("block_mask_128x128_d50"); c.mask_block_q = 128; c.mask_block_k = 128; c.mask_density = 0.5; c.sq = c.sk = 520; v.push_back(c); }
  { GpuCase c = named("block_mask_128x128_d10_empty_rows"); c.mask_block_q = 128; c.mask_block_k = 128; c.mask_density = 0.1; c.mask_empty_rows = true; c.sq = c.sk = 520; v.push_back(c); }
  { GpuCase c = named("block_mask_64x128_causal"); c.mask_block_q = 64; c.mask_block_k = 128; c.mask_density = 0.6; c.causal = true; c.sq = 300; c.sk = 420; v.push_back(c); }
  { GpuCase c = named("block_mask_128x64_bm1"); c.mask_block_q = 128; c.mask_block_k = 64; c.mask_density = 0.4; c.mask_batch_broadcast = true; c.sq = c.sk = 333; v.push_back(c); }
  { GpuCase c = named("block_mask_hm_eq_hkv"); c.mask_block_q = 64; c.mask_block_k = 64; c.mask_density = 0.5; c.hq = 8; c.hkv = 2; c.mask_heads = 2; c.sq = c.sk = 256; v.push_back(c); }
  { GpuCase c = named("block_mask_dense_100"); c.mask_block_q = 128; c.mask_block_k = 128; c.mask_density = 1.0; c.causal = true; c.sq = c.sk = 384; v.push_back(c); }
  { GpuCase c = named("block_mask_rectify"); c.mask_block_q = 128; c.mask_block_k = 128; c.mask_density = 0.5; c.rectify_block_q = 128; c.sq = c.sk = 384; v.push_back(c); }
  { GpuCase c = named("block_mask_varlen"); c.mask_block_q = 64; c.mask_block_k = 64; c.mask_density = 0.5; c.varlen_q = {130, 64, 0}; c.varlen_k = {200, 64, 10}; v.push_back(c); }
  {
    GpuCase c = named("everything");
    c.hq = 8; c.hkv = 2; c.sq = 300; c.sk = 340; c.causal = true; c.window_left = 150; c.sink_tokens = 8;
    c.head_scale = {1.2, 0.8}; c.log_gamma = {-0.5, 0.4, -kInf}; c.bias_begin = 0; c.bias_end = 4;
    c.sink_logit = {0.3, -0.2, 2.0}; c.mask_block_q = 128; c.mask_block_k = 64; c.mask_density = 0.7;
    c.mask_heads = 2; c.rectify_block_q = 128; c.gate = GateKind::kElementwise;
    v.push_back(c);
  }
  return v;
}

using Param = std::tuple<GpuCase, int, DType>;

class CudaForwardVsReference : public CudaTestWithParam<Param> {};

TEST_P(CudaForwardVsReference, MatchesCpuReference) {
  const auto& [c, d, dtype] = GetParam();
  expect_matches_reference(c, d, dtype, /*seed=*/1000 + d);
}

std::string param_name(const ::testing::TestParamInfo<Param>& info) {
  const auto& [c, d, dtype] = info.param;
  return c.name + "_d" + std::to_string(d) + (dtype == DType::kBFloat16 ? "_bf16" : "_fp16");
}

INSTANTIATE_TEST_SUITE_P(Features, CudaForwardVsReference,
                         ::testing::Combine(::testing::ValuesIn(feature_cases()), ::testing::Values(64, 128, 256),
                                            ::testing::Values(DType::kBFloat16, DType::kFloat16)),
                         param_name);

// ---------------------------------------------------------------------------
// What select_kernel rejects, and that a rejected call writes nothing.
// ---------------------------------------------------------------------------

class CudaForwardRejects : public CudaTest {};

TEST_F(CudaForwardRejects, UnalignedRowStride) {
  // Q rows 100 elements apart (q.stride[1] = 100 with Hq = 1): not a multiple of 8.
  GpuCase c = named("base");
  c.batch = 1; c.hq = c.hkv = 1; c.sq = c.sk = 64;
  BuiltCall host;
  build_call(c, 64, DType::kBFloat16, 1, &host);
  HostTensor& wide = host.add(DType::kBFloat16, {1, 64, 1, 100});
  host.params.q = strided_view(wide, 0, {1, 64, 1, 64}, {6400, 100, 100, 1}, DType::kBFloat16);
  DeviceCall dev;
  mirror_to_device(host, &dev);
  const attnkit::Status s = attnkit::forward(dev.params);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kInvalidArgument) << s.message();
  EXPECT_NE(s.message().find("stride"), std::string::npos) << s.message();
  HostTensor o = clone(*host.o);
  to_host(dev.copies[dev.index[host.o]], &o);
  EXPECT_EQ(compare(o, *host.o).mismatched_nonfinite, 0) << "a rejected call must leave O untouched (NaN)";
}

TEST_F(CudaForwardRejects, UnsupportedHeadDim) {
  GpuCase c = named("base");
  c.batch = 1; c.hq = c.hkv = 1; c.sq = c.sk = 16;
  BuiltCall host;
  build_call(c, 96, DType::kBFloat16, 1, &host);
  DeviceCall dev;
  mirror_to_device(host, &dev);
  const attnkit::Status s = attnkit::forward(dev.params);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kNotSupported) << s.message();
  EXPECT_NE(s.message().find("64, 128 and 256"), std::string::npos) << s.message();
}

TEST_F(CudaForwardRejects, Float32) {
  GpuCase c = named("base");
  c.batch = 1; c.hq = c.hkv = 1; c.sq = c.sk = 16;
  BuiltCall host;
  build_call(c, 64, DType::kFloat32, 1, &host);
  DeviceCall dev;
  mirror_to_device(host, &dev);
  const attnkit::Status s = attnkit::forward(dev.params);
  EXPECT_EQ(s.code(), attnkit::StatusCode::kNotSupported) << s.message();
  std::string why;
  EXPECT_FALSE(attnkit::is_supported(dev.params, &why));
}

TEST_F(CudaForwardRejects, ExplainNamesTheKernel) {
  GpuCase c = named("base");
  BuiltCall host;
  build_call(c, 128, DType::kBFloat16, 1, &host);
  DeviceCall dev;
  mirror_to_device(host, &dev);
  std::string description;
  ASSERT_TRUE(attnkit::explain(dev.params, &description).is_ok());
  // sm_90 runs the Hopper family (cuda/hopper) when the build holds its sm_90a image.
  int device = 0, major = 0, minor = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  const char* expected = major == 9 && minor == 0 ? "fwd_sm90<bf16,d128>" : "fwd_sm80<bf16,d128>";
  EXPECT_NE(description.find(expected), std::string::npos) << description;
}

// ---------------------------------------------------------------------------
// The mma.sync family on an sm_90 device (ATTNKIT_PREFILL_FAMILY=mma_sync), so that a Hopper
// GPU runs both families against the reference; elsewhere it is the family that runs anyway.
// ---------------------------------------------------------------------------

class CudaForwardMmaSyncFamily : public CudaTestWithParam<Param> {
 protected:
  void SetUp() override {
    CudaTestWithParam<Param>::SetUp();
    setenv("ATTNKIT_PREFILL_FAMILY", "mma_sync", 1);
  }
  void TearDown() override {
    unsetenv("ATTNKIT_PREFILL_FAMILY");
    CudaTestWithParam<Param>::TearDown();
  }
};

TEST_P(CudaForwardMmaSyncFamily, MatchesCpuReference) {
  const auto& [c, d, dtype] = GetParam();
  expect_matches_reference(c, d, dtype, /*seed=*/3000 + d);
  BuiltCall host;
  build_call(c, d, dtype, 1, &host);
  DeviceCall dev;
  mirror_to_device(host, &dev);
  std::string description;
  ASSERT_TRUE(attnkit::explain(dev.params, &description).is_ok());
  EXPECT_NE(description.find("fwd_sm80<"), std::string::npos) << description;
}

std::vector<GpuCase> mma_sync_cases() {
  std::vector<GpuCase> v;
  for (const GpuCase& c : feature_cases()) {
    if (c.name == "everything" || c.name == "dense" || c.name == "odd_causal_q1013_k1024" || c.name == "block_mask_64x128_causal") v.push_back(c);
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Sm80OnAnyDevice, CudaForwardMmaSyncFamily,
                         ::testing::Combine(::testing::ValuesIn(mma_sync_cases()), ::testing::Values(64, 128),
                                            ::testing::Values(DType::kBFloat16)),
                         param_name);

}  // namespace
}  // namespace attnkit_test
