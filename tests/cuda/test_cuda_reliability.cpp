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
