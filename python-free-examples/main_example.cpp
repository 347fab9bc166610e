// The main attnkit example: a gpt-oss-style attention layer call (GQA, causal, sliding
// window, learned per-head sink logits, LSE) in bfloat16. It runs on the GPU when one is
// present (and checks the result against the CPU backend), on the CPU backend otherwise,
// and says which.
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "example_backend.hpp"

#ifdef ATTNKIT_EXAMPLE_CUDA
#include <cuda_runtime.h>
#endif

namespace {

using attnkit::DType;
using attnkit::TensorView;

using example::from_bf16;
using example::to_bf16;

constexpr int64_t kBatch = 2, kSeq = 300, kHq = 8, kHkv = 2, kHeadDim = 64, kWindow = 127;

struct Layer {
  std::vector<uint16_t> q, k, v, o;
  std::vector<float> lse, sinks;
};

attnkit::AttentionParams make_params(Layer& l, attnkit::DeviceKind where, void* q, void* k, void* v, void* o,
                                     void* lse, void* sinks) {
  attnkit::AttentionParams p;
  p.q = TensorView::contiguous(q, DType::kBFloat16, {kBatch, kSeq, kHq, kHeadDim}, where);
  p.k = TensorView::contiguous(k, DType::kBFloat16, {kBatch, kSeq, kHkv, kHeadDim}, where);
  p.v = TensorView::contiguous(v, DType::kBFloat16, {kBatch, kSeq, kHkv, kHeadDim}, where);
  p.o = TensorView::contiguous(o, DType::kBFloat16, {kBatch, kSeq, kHq, kHeadDim}, where);
  p.lse = TensorView::contiguous(lse, DType::kFloat32, {kBatch, kHq, kSeq}, where);
  p.sink_logit = TensorView::contiguous(sinks, DType::kFloat32, {kHq}, where);
  p.causal = true;
  p.window_left = kWindow;  // gpt-oss alternates banded (128) and dense layers
  (void)l;
  return p;
}

bool check(const attnkit::Status& s, const char* what) {
  if (!s) std::fprintf(stderr, "%s failed: %s\n", what, s.message().c_str());
  return s.is_ok();
}

#ifdef ATTNKIT_EXAMPLE_CUDA
/// Runs the layer on the GPU and returns the max |O_gpu - O_cpu|, or a negative value on error.
double run_on_gpu(Layer& l, const Layer& cpu) {
  void *q, *k, *v, *o, *lse, *sinks;
  const size_t qb = l.q.size() * 2, kb = l.k.size() * 2;
  if (cudaMalloc(&q, qb) || cudaMalloc(&k, kb) || cudaMalloc(&v, kb) || cudaMalloc(&o, qb) ||
      cudaMalloc(&lse, l.lse.size() * 4) || cudaMalloc(&sinks, l.sinks.size() * 4)) {
    std::fprintf(stderr, "cudaMalloc failed\n");
    return -1;
  }
  cudaMemcpy(q, l.q.data(), qb, cudaMemcpyHostToDevice);
  cudaMemcpy(k, l.k.data(), kb, cudaMemcpyHostToDevice);
  cudaMemcpy(v, l.v.data(), kb, cudaMemcpyHostToDevice);
  cudaMemcpy(sinks, l.sinks.data(), l.sinks.size() * 4, cudaMemcpyHostToDevice);
  attnkit::AttentionParams p = make_params(l, attnkit::DeviceKind::kCuda, q, k, v, o, lse, sinks);
  std::string how;
  if (!check(attnkit::explain(p, &how), "explain") || !check(attnkit::forward(p), "forward (GPU)")) return -1;
  std::printf("GPU: %s\n", how.c_str());
  cudaMemcpy(l.o.data(), o, qb, cudaMemcpyDeviceToHost);
  cudaFree(q), cudaFree(k), cudaFree(v), cudaFree(o), cudaFree(lse), cudaFree(sinks);
  double max_diff = 0;
  for (size_t n = 0; n < l.o.size(); ++n) {
    max_diff = std::max(max_diff, static_cast<double>(std::fabs(from_bf16(l.o[n]) - from_bf16(cpu.o[n]))));
  }
  return max_diff;
}
#endif

}  // namespace

int main() {
  std::mt19937 gen(2024);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Layer l;
  l.q.resize(kBatch * kSeq * kHq * kHeadDim);
  l.k.resize(kBatch * kSeq * kHkv * kHeadDim);
  l.v.resize(l.k.size());
  l.o.resize(l.q.size());
  l.lse.resize(kBatch * kHq * kSeq);
  for (auto* t : {&l.q, &l.k, &l.v})
    for (auto& x : *t) x = to_bf16(normal(gen));
  for (int64_t h = 0; h < kHq; ++h) l.sinks.push_back(0.5f * static_cast<float>(h) - 1.0f);

  attnkit::AttentionParams p =
      make_params(l, attnkit::DeviceKind::kHost, l.q.data(), l.k.data(), l.v.data(), l.o.data(), l.lse.data(), l.sinks.data());
  std::string how;
  if (!check(attnkit::explain(p, &how), "explain") || !check(attnkit::forward(p), "forward (CPU)")) return 1;
  std::printf("attnkit %s: B=%lld S=%lld Hq=%lld Hkv=%lld D=%lld, causal, window %lld, learned sinks, bf16\n",
              attnkit::version(), static_cast<long long>(kBatch), static_cast<long long>(kSeq),
              static_cast<long long>(kHq), static_cast<long long>(kHkv), static_cast<long long>(kHeadDim),
              static_cast<long long>(kWindow));
  std::printf("CPU: %s\n", how.c_str());
  double checksum = 0;
  for (uint16_t x : l.o) checksum += from_bf16(x);
  std::printf("CPU result: O checksum %.6f, LSE[0] %.6f\n", checksum, l.lse[0]);

  bool ran_on_gpu = false;
#ifdef ATTNKIT_EXAMPLE_CUDA
  int devices = 0;
  const cudaError_t err = cudaGetDeviceCount(&devices);
  if (err == cudaSuccess && devices > 0) {
    Layer gpu = l;
    const double diff = run_on_gpu(gpu, l);
    if (diff < 0) return 1;
    std::printf("GPU result: max |O_gpu - O_cpu| = %.3g (bf16 output)\n", diff);
    if (!(diff < 0.1)) {
      std::fprintf(stderr, "GPU and CPU disagree\n");
      return 1;
    }
    ran_on_gpu = true;
  } else {
    std::printf("No CUDA device (%s): ran on the CPU backend only.\n",
                err == cudaSuccess ? "device count is 0" : cudaGetErrorString(err));
  }
#else
  std::printf("This example was built without CUDA: ran on the CPU backend only.\n");
#endif
  std::printf("Backend used: %s\n", ran_on_gpu ? "CUDA (checked against the CPU backend)" : "CPU");
  return 0;
}
