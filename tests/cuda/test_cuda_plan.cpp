// plan / run on the GPU (skipped without a device): a run captured in a CUDA graph and
// replayed gives the eager run's bits, for a prefill call and a split-KV decode call (whose
// workspace is the caller's, so the capture holds no allocation); a plan serves many calls.
#include <gtest/gtest.h>

#include <vector>

#include "attnkit/attention.hpp"
#include "cuda/attention_gpu_case.hpp"
#include "cuda/cuda_test_util.hpp"

namespace attnkit_test {
namespace {

class CudaPlan : public CudaTestWithParam<GpuCase> {};

std::vector<unsigned char> device_bytes(const DeviceTensor& t, size_t bytes) {
  std::vector<unsigned char> out(bytes);
  if (cudaMemcpy(out.data(), t.buffer.get(), bytes, cudaMemcpyDeviceToHost) != cudaSuccess) out.clear();
  return out;
}

TEST_P(CudaPlan, GraphCapturedRunMatchesEagerRunAndReference) {
  const GpuCase& c = GetParam();
  BuiltCall host;
  build_call(c, 128, DType::kBFloat16, /*seed=*/41, &host);
  DeviceCall dev;
  mirror_to_device(host, &dev);
  ASSERT_TRUE(attnkit::forward(host.params).is_ok());  // the CPU reference

  attnkit::AttentionPlan plan;
  ASSERT_TRUE(attnkit::plan(dev.params, &plan).is_ok());
  DeviceBuffer workspace(plan.workspace_bytes());
  cudaStream_t stream = nullptr;
  ATTNKIT_CUDA_OK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  attnkit::AttentionParams p = dev.params;
  p.stream = stream;

  // Eager.
  ASSERT_TRUE(attnkit::run(plan, p, workspace.get(), plan.workspace_bytes()).is_ok());
  ATTNKIT_CUDA_OK(cudaStreamSynchronize(stream));
  expect_device_outputs_match(host, dev, DType::kBFloat16, plan.description());
  const DeviceTensor& o = dev.copies[dev.index[host.o]];
  const std::vector<unsigned char> eager = device_bytes(o, host.o->bytes.size());

  // Captured, then replayed twice over a poisoned O.
  ATTNKIT_CUDA_OK(cudaMemset(o.buffer.get(), 0xff, host.o->bytes.size()));
  cudaGraph_t graph = nullptr;
  ATTNKIT_CUDA_OK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  const attnkit::Status captured = attnkit::run(plan, p, workspace.get(), plan.workspace_bytes());
  ATTNKIT_CUDA_OK(cudaStreamEndCapture(stream, &graph));
  ASSERT_TRUE(captured.is_ok()) << captured.message();
  cudaGraphExec_t exec = nullptr;
  ATTNKIT_CUDA_OK(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 2; ++replay) {
    ATTNKIT_CUDA_OK(cudaGraphLaunch(exec, stream));
    ATTNKIT_CUDA_OK(cudaStreamSynchronize(stream));
    EXPECT_EQ(device_bytes(o, host.o->bytes.size()), eager) << "replay " << replay << ": " << plan.description();
  }
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(stream);
}

std::vector<GpuCase> plan_cases() {
  std::vector<GpuCase> v;
  { GpuCase c; c.name = "prefill_causal_gqa"; c.hq = 8; c.hkv = 2; c.causal = true; c.sq = 300; c.sk = 400; v.push_back(c); }
  { GpuCase c; c.name = "decode_split_kv_sinks"; c.batch = 1; c.sq = 1; c.sk = 6000; c.sink_logit = {0.5, -1.0}; v.push_back(c); }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaPlan, ::testing::ValuesIn(plan_cases()),
                         [](const ::testing::TestParamInfo<GpuCase>& info) { return info.param.name; });

}  // namespace
}  // namespace attnkit_test
