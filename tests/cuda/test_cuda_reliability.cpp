// GPU side of docs/reliability.md: the same call gives the same bits, and calls made at once
// from several host threads on several streams give the bits of a sequential run. Skipped
// without a device.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/attention_gpu_case.hpp"
#include "cuda/cuda_test_util.hpp"

namespace attnkit_test {
namespace {

/// Prefill and decode calls of different shapes and options, so concurrent calls share no
/// launch configuration.
std::vector<GpuCase> reliability_cases() {
  std::vector<GpuCase> v;
  { GpuCase c; c.name = "dense"; c.sq = 300; c.sk = 257; v.push_back(c); }
  { GpuCase c; c.name = "causal_gqa_sink"; c.hq = 8; c.hkv = 2; c.causal = true; c.sink_logit = {0.5, -1.0}; v.push_back(c); }
  { GpuCase c; c.name = "decode_window"; c.sq = 1; c.sk = 3000; c.window_left = 500; c.sink_tokens = 4; c.causal = true; v.push_back(c); }
  { GpuCase c; c.name = "masked_gated"; c.mask_block_q = 64; c.mask_block_k = 64; c.mask_density = 0.5;
    c.gate = GateKind::kElementwise; v.push_back(c); }
  return v;
}

struct PreparedCall {
  BuiltCall host;
  DeviceCall dev;
  std::vector<unsigned char> poison;  // the NaN-filled O bytes, to reset the device output

  void prepare(const GpuCase& c, uint64_t seed) {
    build_call(c, /*d=*/128, DType::kBFloat16, seed, &host);
    mirror_to_device(host, &dev);
    poison = host.o->bytes;
  }
  DeviceTensor& device_o() { return dev.copies[dev.index[host.o]]; }
  /// Poisons the device O, runs the call on `stream`, and returns O's bytes.
  std::vector<unsigned char> run(cudaStream_t stream, attnkit::Status* status) {
    std::vector<unsigned char> out(poison.size());
    if (cudaMemcpy(device_o().buffer.get(), poison.data(), poison.size(), cudaMemcpyHostToDevice) != cudaSuccess) {
      *status = attnkit::Status(attnkit::StatusCode::kCudaError, "poisoning O failed");
      return out;
    }
    attnkit::AttentionParams p = dev.params;
    p.stream = stream;
    *status = attnkit::forward(p);
    if (status->is_ok() && (cudaStreamSynchronize(stream) != cudaSuccess ||
                            cudaMemcpy(out.data(), device_o().buffer.get(), out.size(), cudaMemcpyDeviceToHost) !=
                                cudaSuccess)) {
      *status = attnkit::Status(attnkit::StatusCode::kCudaError, "reading O back failed");
    }
    return out;
  }
};

class CudaReliability : public CudaTest {};

TEST_F(CudaReliability, SameCallTwiceIsBitwiseIdentical) {
  uint64_t seed = 700;
  for (const GpuCase& c : reliability_cases()) {
    SCOPED_TRACE(c.name);
    PreparedCall call;
    call.prepare(c, seed++);
    attnkit::Status s1, s2;
    const std::vector<unsigned char> first = call.run(nullptr, &s1);
    const std::vector<unsigned char> second = call.run(nullptr, &s2);
    ASSERT_TRUE(s1.is_ok()) << s1.message();
    ASSERT_TRUE(s2.is_ok()) << s2.message();
    EXPECT_TRUE(first == second) << "two runs of the same call differ";
  }
}

TEST_F(CudaReliability, ConcurrentStreamsFromSeveralThreadsMatchSequentialRuns) {
  const std::vector<GpuCase> cases = reliability_cases();
  std::vector<PreparedCall> calls(cases.size());
  std::vector<std::vector<unsigned char>> sequential(cases.size());
  for (size_t n = 0; n < cases.size(); ++n) {
    calls[n].prepare(cases[n], 800 + n);
    attnkit::Status s;
    sequential[n] = calls[n].run(nullptr, &s);
    ASSERT_TRUE(s.is_ok()) << cases[n].name << ": " << s.message();
  }
  constexpr int kRepeats = 3;
  std::vector<cudaStream_t> streams(cases.size());
  for (auto& st : streams) ATTNKIT_CUDA_OK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  std::vector<std::string> failures(cases.size());
  std::vector<std::thread> threads;
  for (size_t n = 0; n < cases.size(); ++n) {
    threads.emplace_back([&, n] {
      for (int r = 0; r < kRepeats; ++r) {
        attnkit::Status s;
        const std::vector<unsigned char> got = calls[n].run(streams[n], &s);
        if (!s.is_ok()) failures[n] = s.message();
        else if (got != sequential[n]) failures[n] = "result differs from the sequential run";
        if (!failures[n].empty()) return;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& st : streams) ATTNKIT_CUDA_OK(cudaStreamDestroy(st));
  for (size_t n = 0; n < cases.size(); ++n) EXPECT_TRUE(failures[n].empty()) << cases[n].name << ": " << failures[n];
}

}  // namespace
}  // namespace attnkit_test

namespace attnkit_test {
namespace {

TEST_F(CudaReliability, BatchStridePast2To31ElementsMatchesCompactCall) {
  // Two sequences 2^31 + 64 elements apart in one buffer: every offset of batch 1 passes
  // 2^31, so 32-bit index arithmetic anywhere in the kernel would read the wrong rows.
  constexpr int64_t kB = 2, kS = 64, kH = 2, kD = 64;
  constexpr int64_t kBatchStride = (int64_t{1} << 31) + 64;
  const size_t elems = static_cast<size_t>(kBatchStride + kS * kH * kD);
  size_t free_bytes = 0, total_bytes = 0;
  ATTNKIT_CUDA_OK(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (free_bytes < 2 * elems * 2 + (size_t{1} << 30)) GTEST_SKIP() << "needs about 9 GB of free device memory";

  Rng rng(900);
  HostTensor compact = make_normal(DType::kBFloat16, {kB, kS, kH, kD}, rng);  // Q = K = V
  HostTensor o_ref = make_nan(DType::kBFloat16, {kB, kS, kH, kD});
  attnkit::AttentionParams ref;
  ref.q = ref.k = ref.v = compact.view;
  ref.o = o_ref.view;
  ref.causal = true;
  const attnkit::Status cpu = attnkit::forward(ref);
  ASSERT_TRUE(cpu.is_ok()) << cpu.message();

  DeviceBuffer in(elems * 2), out(elems * 2);
  ASSERT_NE(in.get(), nullptr);
  ASSERT_NE(out.get(), nullptr);
  const size_t seq_bytes = static_cast<size_t>(kS * kH * kD) * 2;
  for (int64_t b = 0; b < kB; ++b) {
    ATTNKIT_CUDA_OK(cudaMemcpy(static_cast<char*>(in.get()) + b * kBatchStride * 2, compact.bytes.data() + b * seq_bytes,
                               seq_bytes, cudaMemcpyHostToDevice));
  }
  attnkit::AttentionParams p;
  const auto cuda = attnkit::DeviceKind::kCuda;
  p.q = p.k = p.v = TensorView::strided(in.get(), DType::kBFloat16, {kB, kS, kH, kD}, {kBatchStride, kH * kD, kD, 1}, cuda);
  p.o = TensorView::strided(out.get(), DType::kBFloat16, {kB, kS, kH, kD}, {kBatchStride, kH * kD, kD, 1}, cuda);
  p.causal = true;
  const attnkit::Status gpu = attnkit::forward(p);
  ASSERT_TRUE(gpu.is_ok()) << gpu.message();
  HostTensor o_gpu = make_nan(DType::kBFloat16, {kB, kS, kH, kD});
  for (int64_t b = 0; b < kB; ++b) {
    ATTNKIT_CUDA_OK(cudaMemcpy(o_gpu.bytes.data() + b * seq_bytes, static_cast<char*>(out.get()) + b * kBatchStride * 2,
                               seq_bytes, cudaMemcpyDeviceToHost));
  }
  const ErrorStats e = compare(o_gpu, o_ref);
  const Tolerance tol = tolerance_for(DType::kBFloat16);
  EXPECT_EQ(e.mismatched_nonfinite, 0) << e.str();
  EXPECT_LE(e.rel_l2, tol.rel_l2) << e.str();
  EXPECT_LE(e.max_abs, tol.max_abs) << e.str();
}

}  // namespace
}  // namespace attnkit_test
