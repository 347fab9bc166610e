// The unfused cuBLAS baseline agrees with the CPU reference at small sizes; the fused
// kernel agrees with it at 8k+ shapes, where the CPU reference would take minutes.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/cuda_test_util.hpp"
#include "cuda/reference_unfused/unfused_attention.hpp"

namespace attnkit_test {
namespace {

struct Shape {
  int64_t batch, sq, sk, hq, hkv, d;
  bool causal;
};

/// Runs the fused kernel (device) and the fp32 unfused baseline on the same inputs.
void run_both(const Shape& s, DType dtype, bool with_cpu_reference) {
  Rng rng(42);
  HostTensor q = make_normal(dtype, {s.batch, s.sq, s.hq, s.d}, rng);
  HostTensor k = make_normal(dtype, {s.batch, s.sk, s.hkv, s.d}, rng);
  HostTensor v = make_normal(dtype, {s.batch, s.sk, s.hkv, s.d}, rng);
  HostTensor o = make_nan(dtype, {s.batch, s.sq, s.hq, s.d});
  HostTensor lse = make_nan(DType::kFloat32, {s.batch, s.hq, s.sq});
  DeviceTensor dq = to_device(q), dk = to_device(k), dv = to_device(v), d_o = to_device(o), dlse = to_device(lse);

  attnkit::AttentionParams p;
  p.q = dq.view;
  p.k = dk.view;
  p.v = dv.view;
  p.o = d_o.view;
  p.lse = dlse.view;
  p.causal = s.causal;
  const attnkit::Status st = attnkit::forward(p);
  ASSERT_TRUE(st.is_ok()) << st.message();

  HostTensor o_ref(DType::kFloat32, {s.batch, s.sq, s.hq, s.d});
  HostTensor lse_ref(DType::kFloat32, {s.batch, s.hq, s.sq});
  DeviceTensor d_oref = to_device(o_ref), d_lseref = to_device(lse_ref);
  attnkit_unfused::Args a;
  a.q = dq.buffer.get();
  a.k = dk.buffer.get();
  a.v = dv.buffer.get();
  a.is_bf16 = dtype == DType::kBFloat16;
  a.batch = s.batch; a.sq = s.sq; a.sk = s.sk; a.hq = s.hq; a.hkv = s.hkv; a.d = s.d;
  a.causal = s.causal;
  a.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.d)));
  a.o = static_cast<float*>(d_oref.buffer.get());
  a.maybe_lse = static_cast<float*>(d_lseref.buffer.get());
  attnkit_unfused::Workspace ws;
  const std::string err = attnkit_unfused::run(a, &ws);
  ASSERT_TRUE(err.empty()) << err;
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());
  to_host(d_o, &o);
  to_host(dlse, &lse);
  to_host(d_oref, &o_ref);
  to_host(d_lseref, &lse_ref);

  const Tolerance tol = tolerance_for(dtype);
  const ErrorStats eo = compare(o, o_ref);
  EXPECT_EQ(eo.mismatched_nonfinite, 0) << eo.str();
  EXPECT_LE(eo.rel_l2, tol.rel_l2) << "fused vs unfused O: " << eo.str();
  const ErrorStats el = compare(lse, lse_ref);
  EXPECT_EQ(el.mismatched_nonfinite, 0) << el.str();
  EXPECT_LE(el.max_abs, 1e-3) << "fused vs unfused LSE: " << el.str();

  if (with_cpu_reference) {  // the baseline itself against the CPU reference
    HostTensor o_cpu = make_nan(dtype, {s.batch, s.sq, s.hq, s.d});
    HostTensor lse_cpu = make_nan(DType::kFloat32, {s.batch, s.hq, s.sq});
    attnkit::AttentionParams hp;
    hp.q = q.view;
    hp.k = k.view;
    hp.v = v.view;
    hp.o = o_cpu.view;
    hp.lse = lse_cpu.view;
    hp.causal = s.causal;
    ASSERT_TRUE(attnkit::forward(hp).is_ok());
    HostTensor o_ref_rounded = make_nan(dtype, {s.batch, s.sq, s.hq, s.d});
    for (int64_t i = 0; i < o_ref.numel(); ++i) o_ref_rounded.set(i, o_ref.get(i));
    const ErrorStats eb = compare(o_ref_rounded, o_cpu);
    EXPECT_LE(eb.rel_l2, 1e-3) << "unfused vs CPU O: " << eb.str();
    const ErrorStats ebl = compare(lse_ref, lse_cpu);
    EXPECT_EQ(ebl.mismatched_nonfinite, 0) << ebl.str();
    EXPECT_LE(ebl.max_abs, 1e-4) << "unfused vs CPU LSE: " << ebl.str();
  }
}

class CudaUnfusedBaseline : public CudaTest {};

TEST_F(CudaUnfusedBaseline, AgreesWithCpuReferenceSmall) {
  run_both({2, 130, 200, 4, 2, 64, false}, DType::kBFloat16, true);
  run_both({1, 200, 130, 4, 4, 128, true}, DType::kFloat16, true);
}

TEST_F(CudaUnfusedBaseline, FusedMatchesAt8kDense) { run_both({1, 8192, 8192, 2, 2, 128, false}, DType::kBFloat16, false); }

TEST_F(CudaUnfusedBaseline, FusedMatchesAt8kCausal) { run_both({1, 8192, 8192, 2, 1, 128, true}, DType::kBFloat16, false); }

TEST_F(CudaUnfusedBaseline, FusedMatchesAt16kCausalD64) { run_both({1, 16384, 16384, 1, 1, 64, true}, DType::kFloat16, false); }

}  // namespace
}  // namespace attnkit_test
