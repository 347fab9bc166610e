// The CUDA SparseD and Rectified SpaAttn planners against the CPU planners through the
// public API: masks exactly (inputs plant key blocks with clear margins for SparseD; the
// Rectified planner pools in the reference's float order and ranks in double), R and c
// within 1e-5, and rectified_attention's output within tolerance_for.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda/attention_gpu_case.hpp"
#include "cuda/stats_gpu_case.hpp"

namespace attnkit_test {
namespace {

using attnkit::DType;

/// Host and device copies of one plan output.
struct Out {
  HostTensor host, got;
  DeviceTensor dev;
  Out(DType t, std::initializer_list<int64_t> shape) : host(t, shape) {
    dev = to_device(host);
    got = host;
  }
  const HostTensor& fetch() {
    to_host(dev, &got);
    return got;
  }
};

struct SparseDCase {
  std::string name;
  int64_t generation_start = -1;
  bool causal = false;
  int64_t hkv = 4;
};

class CudaSparseD : public CudaTestWithParam<std::tuple<SparseDCase, DType>> {};

TEST_P(CudaSparseD, MaskMatchesReference) {
  const auto& [sc, dtype] = GetParam();
  GpuCase c;
  c.name = sc.name;
  c.batch = 2;
  c.sq = c.sk = 1000;  // 8 blocks of 128, the last one short
  c.hq = 4;
  c.hkv = sc.hkv;
  c.causal = sc.causal;
  c.lse = false;
  const int64_t d = 64, bs = 128, nqb = 8, nkb = 8;
  BuiltCall host;
  build_call(c, d, dtype, /*seed=*/31, &host);
  plant_sparsed_blocks(host, c, bs);  // blocks 0-3 before g = 512, 4-7 after
  DeviceCall dev;
  mirror_to_device(host, &dev);
  attnkit::SparseDOptions o;
  o.block_size = static_cast<int>(bs);
  o.rho = 0.3f;
  o.generation_start = sc.generation_start;
  Out count(DType::kInt32, {c.batch, c.hq, nqb}), index(DType::kInt32, {c.batch, c.hq, nqb, nkb});
  attnkit::BlockMask hm, dm;
  hm.block_q = hm.block_k = dm.block_q = dm.block_k = static_cast<int>(bs);
  hm.kv_count = count.host.view;
  hm.kv_index = index.host.view;
  dm.kv_count = count.dev.view;
  dm.kv_index = index.dev.view;
  ASSERT_TRUE(attnkit::sparsed_plan(host.params, o, hm).is_ok());
  const attnkit::Status got = attnkit::sparsed_plan(dev.params, o, dm);
  ASSERT_TRUE(got.is_ok()) << got.message();
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());
  expect_equal_ints(count.fetch(), count.host, "kv_count");
  expect_equal_ints(index.fetch(), index.host, "kv_index");
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaSparseD,
                         ::testing::Combine(::testing::Values(SparseDCase{"full"}, SparseDCase{"generation_512", 512},
                                                              SparseDCase{"gqa_generation_256", 256, false, 2},
                                                              SparseDCase{"causal", -1, true}),
                                            ::testing::Values(DType::kBFloat16, DType::kFloat16)),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + attnkit::dtype_name(std::get<1>(info.param));
                         });

struct RectifiedCase {
  std::string name;
  int64_t vision = 512;
  int64_t text = 64;
  int top_k = 2;
  bool forced = true;
  bool gapr = true;
  int64_t hkv = 4;
};

class CudaRectified : public CudaTestWithParam<std::tuple<RectifiedCase, DType>> {};

TEST_P(CudaRectified, PlanAndAttentionMatchReference) {
  const auto& [rc, dtype] = GetParam();
  GpuCase c;
  c.name = rc.name;
  c.batch = 2;
  c.sq = c.sk = rc.vision + rc.text;
  c.hq = 4;
  c.hkv = rc.hkv;
  c.lse = false;
  const int64_t d = 64, bs = 128;
  const int64_t nqb = (c.sq + bs - 1) / bs, nb = (rc.vision + bs - 1) / bs;
  BuiltCall host;
  build_call(c, d, dtype, /*seed=*/77, &host);
  plant_rectified_structure(host, c, rc.vision, bs);
  HostTensor forced(DType::kUInt8, {1, 1, nb, nb});
  for (int64_t i = 0; i < nb; ++i) forced.set(i * nb + i, 1.0);  // the diagonal
  DeviceCall dev;
  mirror_to_device(host, &dev);
  DeviceTensor forced_dev = to_device(forced);
  attnkit::RectifiedOptions o;
  o.block_size = static_cast<int>(bs);
  o.text_tokens = rc.text;
  o.top_k = rc.top_k;
  o.gapr = rc.gapr;
  attnkit::RectifiedOptions od = o;
  if (rc.forced) {
    o.forced = forced.view;
    od.forced = forced_dev.view;
  }
  Out count(DType::kInt32, {c.batch, c.hq, nqb}), index(DType::kInt32, {c.batch, c.hq, nqb, nqb});
  Out r(DType::kFloat32, {c.batch, c.hq, nqb}), cc(DType::kFloat32, {c.batch, c.hq, nqb, d});
  auto plan_of = [&](bool device) {
    attnkit::RectifiedPlan p;
    p.mask.block_q = p.mask.block_k = p.rectify.block_q = static_cast<int>(bs);
    p.mask.kv_count = device ? count.dev.view : count.host.view;
    p.mask.kv_index = device ? index.dev.view : index.host.view;
    p.rectify.r = device ? r.dev.view : r.host.view;
    p.rectify.c = device ? cc.dev.view : cc.host.view;
    return p;
  };
  ASSERT_TRUE(attnkit::rectified_plan(host.params, o, plan_of(false)).is_ok());
  const attnkit::Status got = attnkit::rectified_plan(dev.params, od, plan_of(true));
  ASSERT_TRUE(got.is_ok()) << got.message();
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());
  expect_equal_ints(count.fetch(), count.host, "mask.kv_count");
  expect_equal_ints(index.fetch(), index.host, "mask.kv_index");
  const ErrorStats er = compare(r.fetch(), r.host), ec = compare(cc.fetch(), cc.host);
  EXPECT_LE(er.max_abs, 1e-5) << "r: " << er.str();
  EXPECT_LE(ec.max_abs, 1e-5) << "c: " << ec.str();

  // End to end: plan + block-sparse forward with rectification.
  const attnkit::Status ref = attnkit::rectified_attention(host.params, o, plan_of(false));
  ASSERT_TRUE(ref.is_ok()) << ref.message();
  const attnkit::Status fwd = attnkit::rectified_attention(dev.params, od, plan_of(true));
  ASSERT_TRUE(fwd.is_ok()) << fwd.message();
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());
  HostTensor o_gpu = clone(*host.o);
  to_host(dev.copies[dev.index[host.o]], &o_gpu);
  const ErrorStats e = compare(o_gpu, *host.o);
  const Tolerance tol = tolerance_for(dtype);
  EXPECT_EQ(e.mismatched_nonfinite, 0) << e.str();
  EXPECT_LE(e.rel_l2, tol.rel_l2) << e.str();
  EXPECT_LE(e.max_abs, tol.max_abs) << e.str();
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaRectified,
                         ::testing::Values(std::tuple{RectifiedCase{"text64"}, DType::kBFloat16},
                                           std::tuple{RectifiedCase{"text64_fp16_gqa", 512, 64, 2, true, true, 2}, DType::kFloat16},
                                           std::tuple{RectifiedCase{"no_text_tail_block", 600, 0, 3, false, true}, DType::kBFloat16},
                                           std::tuple{RectifiedCase{"no_gapr_topk0", 512, 64, 0, true, false}, DType::kFloat16}),
                         [](const auto& info) {
                           return std::get<0>(info.param).name + "_" + attnkit::dtype_name(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace attnkit_test
