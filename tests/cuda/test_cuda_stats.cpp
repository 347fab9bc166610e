// The CUDA statistics (SPEC 7) and ACT paths against the CPU reference through the public
// API: every column and block statistic, the detected sink sets (exactly: the inputs plant
// sinks with clear margins) and the calibrated outputs (tolerance_for).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "cuda/attention_gpu_case.hpp"
#include "cuda/stats_gpu_case.hpp"

namespace attnkit_test {
namespace {

using attnkit::DType;

GpuCase named(const std::string& name) {
  GpuCase c;
  c.name = name;
  c.lse = false;
  return c;
}

std::vector<GpuCase> stats_cases() {
  std::vector<GpuCase> v;
  v.push_back(named("dense"));
  { GpuCase c = named("causal_q77_k300"); c.causal = true; c.sq = 77; c.sk = 300; v.push_back(c); }
  { GpuCase c = named("causal_q300_k77_empty_rows"); c.causal = true; c.sq = 300; c.sk = 77; v.push_back(c); }
  { GpuCase c = named("window_left_right"); c.window_left = 30; c.window_right = 20; v.push_back(c); }
  { GpuCase c = named("streaming_llm"); c.causal = true; c.window_left = 64; c.sink_tokens = 4; c.sq = c.sk = 300; v.push_back(c); }
  { GpuCase c = named("gqa_4to1_causal"); c.hq = 8; c.hkv = 2; c.causal = true; v.push_back(c); }
  { GpuCase c = named("learned_sink_bias_head_scale"); c.sink_logit = {0.5, 3.0}; c.log_gamma = {1.0, -std::numeric_limits<double>::infinity()}; c.bias_begin = 0; c.bias_end = 3; c.head_scale = {0.7, 1.3}; v.push_back(c); }
  { GpuCase c = named("block_mask_128"); c.sq = c.sk = 400; c.mask_block_q = c.mask_block_k = 128; c.mask_density = 0.6; c.mask_empty_rows = true; v.push_back(c); }
  { GpuCase c = named("block_mask_64_causal_hm2"); c.sq = c.sk = 330; c.causal = true; c.mask_block_q = c.mask_block_k = 64; c.mask_density = 0.5; c.mask_heads = 2; c.mask_batch_broadcast = true; v.push_back(c); }
  { GpuCase c = named("varlen_causal"); c.varlen_q = {100, 37, 250}; c.varlen_k = {120, 300, 250}; c.causal = true; v.push_back(c); }
  { GpuCase c = named("bhsd_odd_q1013_k1024"); c.batch = 1; c.hq = c.hkv = 2; c.sq = 1013; c.sk = 1024; c.bhsd = true; v.push_back(c); }
  return v;
}

/// One output tensor on both sides: host (reference) and a device copy (starts as NaN).
struct Pair {
  HostTensor host;
  DeviceTensor dev;
  HostTensor got;
  Pair(DType dtype, std::initializer_list<int64_t> shape) : host(dtype, shape) {
    if (dtype == DType::kFloat32) fill_nan(host);
    dev = to_device(host);
    got = host;
  }
  HostTensor& fetch() {
    to_host(dev, &got);
    return got;
  }
};

class CudaStats : public CudaTestWithParam<std::tuple<GpuCase, int64_t, DType>> {};

TEST_P(CudaStats, MatchesReference) {
  const auto& [c, d, dtype] = GetParam();
  BuiltCall host;
  build_call(c, d, dtype, /*seed=*/1234, &host);
  DeviceCall dev;
  mirror_to_device(host, &dev);
  const bool varlen = !c.varlen_q.empty();
  const int64_t b = varlen ? static_cast<int64_t>(c.varlen_q.size()) : c.batch;
  const int64_t sq = host.params.q.shape[varlen ? 0 : 1];
  const int64_t max_sq = varlen ? *std::max_element(c.varlen_q.begin(), c.varlen_q.end()) : c.sq;
  const int64_t max_sk = varlen ? *std::max_element(c.varlen_k.begin(), c.varlen_k.end()) : c.sk;
  const int64_t total_k = host.params.k.shape[0];
  (void)sq;
  const int bq = 64, bk = 128;
  const int64_t nqb = (max_sq + bq - 1) / bq, nkb = (max_sk + bk - 1) / bk;
  auto col = [&](DType t) { return varlen ? Pair(t, {c.hq, total_k}) : Pair(t, {b, c.hq, max_sk}); };
  Pair colsum = col(DType::kFloat32), colcount = col(DType::kInt32), colmean = col(DType::kFloat32);
  Pair mass(DType::kFloat32, {b, c.hq, nqb, nkb}), mean(DType::kFloat32, {b, c.hq, nqb, nkb});
  attnkit::StatsOutputs ho, dout;
  ho.colsum = colsum.host.view;
  ho.colcount = colcount.host.view;
  ho.colmean = colmean.host.view;
  ho.blockmass = mass.host.view;
  ho.blockmean = mean.host.view;
  ho.block_q = dout.block_q = bq;
  ho.block_k = dout.block_k = bk;
  dout.colsum = colsum.dev.view;
  dout.colcount = colcount.dev.view;
  dout.colmean = colmean.dev.view;
  dout.blockmass = mass.dev.view;
  dout.blockmean = mean.dev.view;
  const attnkit::Status ref = attnkit::attention_stats(host.params, ho);
  ASSERT_TRUE(ref.is_ok()) << ref.message();
  const attnkit::Status got = attnkit::attention_stats(dev.params, dout);
  ASSERT_TRUE(got.is_ok()) << got.message();
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());
  expect_close(colsum.fetch(), colsum.host, "colsum");
  expect_close(colcount.fetch(), colcount.host, "colcount", /*exact=*/true);
  expect_close(colmean.fetch(), colmean.host, "colmean");
  expect_close(mass.fetch(), mass.host, "blockmass");
  expect_close(mean.fetch(), mean.host, "blockmean");
}

INSTANTIATE_TEST_SUITE_P(Features, CudaStats,
                         ::testing::Combine(::testing::ValuesIn(stats_cases()), ::testing::Values(int64_t{64}, int64_t{128}),
                                            ::testing::Values(DType::kBFloat16, DType::kFloat16)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_d" + std::to_string(std::get<1>(info.param)) + "_" +
                                  attnkit::dtype_name(std::get<2>(info.param));
                         });

// ACT: sinks planted with clear margins (plant_sinks, stats_gpu_case.hpp).

std::vector<GpuCase> act_cases() {
  std::vector<GpuCase> v;
  { GpuCase c = named("act_dense"); v.push_back(c); }
  { GpuCase c = named("act_causal_gqa_lse"); c.causal = true; c.hq = 8; c.hkv = 2; c.lse = true; v.push_back(c); }
  { GpuCase c = named("act_rectify_gate"); c.rectify_block_q = 64; c.gate = GateKind::kElementwise; v.push_back(c); }
  { GpuCase c = named("act_sink_logit_headwise_gate"); c.sink_logit = {1.0}; c.gate = GateKind::kHeadwise; v.push_back(c); }
  { GpuCase c = named("act_block_mask"); c.sq = c.sk = 256; c.mask_block_q = c.mask_block_k = 64; c.mask_density = 0.7; v.push_back(c); }
  return v;
}

class CudaAct : public CudaTestWithParam<std::tuple<GpuCase, DType>> {};

TEST_P(CudaAct, DetectAndForwardMatchReference) {
  const auto& [c, dtype] = GetParam();
  const int64_t d = 64;
  BuiltCall host;
  build_call(c, d, dtype, /*seed=*/99, &host);
  plant_sinks(host, c, d);
  HostTensor head_mask(DType::kUInt8, {c.hq});
  for (int64_t h = 0; h < c.hq; ++h) head_mask.set(h, h % 3 == 2 ? 0.0 : 1.0);
  DeviceCall dev;
  mirror_to_device(host, &dev);
  DeviceTensor head_mask_dev = to_device(head_mask);

  attnkit::ActOptions ho, dopt;
  ho.max_sinks = dopt.max_sinks = 1;  // two candidates after the primary: the cut is exercised
  ho.head_mask = head_mask.view;
  dopt.head_mask = head_mask_dev.view;
  Pair count(DType::kInt32, {c.batch, c.hq}), index(DType::kInt32, {c.batch, c.hq, 1});
  fill_nan(count.host);
  ASSERT_TRUE(attnkit::act_detect(host.params, ho, {count.host.view, index.host.view}).is_ok());
  const attnkit::Status got = attnkit::act_detect(dev.params, dopt, {count.dev.view, index.dev.view});
  ASSERT_TRUE(got.is_ok()) << got.message();
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());
  expect_close(count.fetch(), count.host, "sets.count", true);
  expect_close(index.fetch(), index.host, "sets.index", true);

  // act_forward with the default max_sinks, sets written back.
  ho.max_sinks = dopt.max_sinks = 64;
  Pair count2(DType::kInt32, {c.batch, c.hq}), index2(DType::kInt32, {c.batch, c.hq, 64});
  attnkit::SinkSets hs{count2.host.view, index2.host.view}, ds{count2.dev.view, index2.dev.view};
  const attnkit::Status ref = attnkit::act_forward(host.params, ho, &hs);
  ASSERT_TRUE(ref.is_ok()) << ref.message();
  const attnkit::Status fwd = attnkit::act_forward(dev.params, dopt, &ds);
  ASSERT_TRUE(fwd.is_ok()) << fwd.message();
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());
  expect_close(count2.fetch(), count2.host, "detected.count", true);
  expect_close(index2.fetch(), index2.host, "detected.index", true);
  int64_t sinks = 0;
  for (int64_t e = 0; e < count2.host.numel(); ++e) sinks += static_cast<int64_t>(count2.host.get(e));
  EXPECT_GT(sinks, 0) << "the planted sinks were not detected: the test checks nothing";

  HostTensor o_gpu = clone(*host.o);
  to_host(dev.copies[dev.index[host.o]], &o_gpu);
  const ErrorStats e = compare(o_gpu, *host.o);
  const Tolerance tol = tolerance_for(dtype);
  EXPECT_EQ(e.mismatched_nonfinite, 0) << e.str();
  EXPECT_LE(e.rel_l2, tol.rel_l2) << e.str();
  EXPECT_LE(e.max_abs, tol.max_abs) << e.str();

  // act_forward_with_sets reusing the device sets gives the same output.
  fill_nan(o_gpu);
  ATTNKIT_CUDA_OK(cudaMemcpy(dev.copies[dev.index[host.o]].buffer.get(), o_gpu.bytes.data(), o_gpu.bytes.size(),
                             cudaMemcpyHostToDevice));
  const attnkit::Status with_sets = attnkit::act_forward_with_sets(dev.params, dopt, ds);
  ASSERT_TRUE(with_sets.is_ok()) << with_sets.message();
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());
  to_host(dev.copies[dev.index[host.o]], &o_gpu);
  const ErrorStats e2 = compare(o_gpu, *host.o);
  EXPECT_EQ(e2.mismatched_nonfinite, 0) << e2.str();
  EXPECT_LE(e2.rel_l2, tol.rel_l2) << e2.str();
  EXPECT_LE(e2.max_abs, tol.max_abs) << e2.str();
}

INSTANTIATE_TEST_SUITE_P(Features, CudaAct,
                         ::testing::Combine(::testing::ValuesIn(act_cases()),
                                            ::testing::Values(DType::kBFloat16, DType::kFloat16)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + attnkit::dtype_name(std::get<1>(info.param));
                         });

/// A validation error on a device call writes nothing to O.
TEST_F(CudaTest, ActForwardValidationErrorWritesNothing) {
  GpuCase c = named("act_invalid");
  BuiltCall host;
  build_call(c, 64, DType::kBFloat16, 7, &host);
  DeviceCall dev;
  mirror_to_device(host, &dev);
  attnkit::ActOptions o;
  o.beta = 2.0f;  // out of [0, 1]
  EXPECT_EQ(attnkit::act_forward(dev.params, o).code(), attnkit::StatusCode::kInvalidArgument);
  HostTensor o_gpu = clone(*host.o);
  to_host(dev.copies[dev.index[host.o]], &o_gpu);
  for (int64_t i = 0; i < o_gpu.numel(); ++i) ASSERT_TRUE(std::isnan(o_gpu.get(i))) << "O was written at " << i;
}

}  // namespace
}  // namespace attnkit_test
