// Paged-KV decode loop, as an inference engine runs it: a prompt per sequence is written
// into a paged KV cache (pages handed out by a shuffled free list) and attended (varlen Q,
// causal), then N decode steps each append one token's K/V to its page slot and attend
// with Sq = 1. gpt-oss style learned sinks and a StreamingLLM sliding window (sink tokens
// + window_left) are on. Runs on the GPU when one is present (each call checked against
// the CPU backend), on the CPU backend otherwise, and says which.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "attnkit/attention.hpp"
#include "example_backend.hpp"

#ifdef ATTNKIT_EXAMPLE_CUDA
#include <cuda_runtime.h>
#endif

namespace {

using attnkit::DeviceKind;
using attnkit::DType;
using attnkit::TensorView;

constexpr int64_t kBatch = 2, kHq = 8, kHkv = 2, kHeadDim = 64, kPageSize = 16, kSteps = 24;
constexpr int64_t kWindow = 31, kSinkTokens = 4;
const int32_t kPromptLens[kBatch] = {37, 20};
constexpr int64_t kMaxPagesPerSeq = (37 + kSteps + kPageSize - 1) / kPageSize;
constexpr int64_t kNumPages = kBatch * kMaxPagesPerSeq + 2;
constexpr int64_t kTokenElems = kHkv * kHeadDim;  // one token of K (or V) in one page slot

using example::from_bf16;
using example::to_bf16;

/// The paged KV cache on the host (the CPU backend reads it; the GPU keeps a mirror).
struct PagedCache {
  std::vector<uint16_t> k = std::vector<uint16_t>(kNumPages * kPageSize * kTokenElems);
  std::vector<uint16_t> v = std::vector<uint16_t>(kNumPages * kPageSize * kTokenElems);
  std::vector<int32_t> table = std::vector<int32_t>(kBatch * kMaxPagesPerSeq, -1);
  std::vector<int32_t> lens = std::vector<int32_t>(kBatch, 0);
  std::vector<int32_t> free_pages;

  PagedCache() {
    free_pages.resize(kNumPages);
    std::iota(free_pages.begin(), free_pages.end(), 0);
    std::shuffle(free_pages.begin(), free_pages.end(), std::mt19937(3));
  }
  /// \brief Appends one token to sequence b; returns the element offset of its slot.
  int64_t append(int64_t b, const uint16_t* k_token, const uint16_t* v_token) {
    const int32_t j = lens[b]++;
    if (j % kPageSize == 0) {  // first slot of a new page
      table[b * kMaxPagesPerSeq + j / kPageSize] = free_pages.back();
      free_pages.pop_back();
    }
    const int64_t slot = (static_cast<int64_t>(table[b * kMaxPagesPerSeq + j / kPageSize]) * kPageSize + j % kPageSize) * kTokenElems;
    std::copy(k_token, k_token + kTokenElems, k.begin() + slot);
    std::copy(v_token, v_token + kTokenElems, v.begin() + slot);
    return slot;
  }
};

/// One attention call over the cache: Q rows (varlen through cu_seqlens_q) -> O.
struct Call {
  std::vector<uint16_t> q, o;
  std::vector<int32_t> cu_q;  // [B + 1]
  std::vector<float> sinks = std::vector<float>(kHq);
  int64_t rows() const { return cu_q.back(); }
};

attnkit::AttentionParams make_params(DeviceKind where, int64_t rows, int64_t max_sq, void* q, void* o, void* cu_q,
                                     void* k, void* v, void* table, void* lens, void* sinks, int64_t max_sk) {
  attnkit::AttentionParams p;
  p.q = TensorView::contiguous(q, DType::kBFloat16, {rows, kHq, kHeadDim}, where);
  p.o = TensorView::contiguous(o, DType::kBFloat16, {rows, kHq, kHeadDim}, where);
  p.cu_seqlens_q = TensorView::contiguous(cu_q, DType::kInt32, {kBatch + 1}, where);
  p.max_seqlen_q = max_sq;
  p.k = TensorView::contiguous(k, DType::kBFloat16, {kNumPages, kPageSize, kHkv, kHeadDim}, where);
  p.v = TensorView::contiguous(v, DType::kBFloat16, {kNumPages, kPageSize, kHkv, kHeadDim}, where);
  p.paged_kv.page_table = TensorView::contiguous(table, DType::kInt32, {kBatch, kMaxPagesPerSeq}, where);
  p.paged_kv.seqlens_k = TensorView::contiguous(lens, DType::kInt32, {kBatch}, where);
  p.max_seqlen_k = max_sk;
  p.sink_logit = TensorView::contiguous(sinks, DType::kFloat32, {kHq}, where);
  p.causal = true;
  p.window_left = kWindow;  // StreamingLLM: the first kSinkTokens keys stay visible
  p.sink_tokens = kSinkTokens;
  return p;
}

bool check(const attnkit::Status& s, const char* what) {
  if (!s.is_ok()) std::fprintf(stderr, "%s failed: %s\n", what, s.message().c_str());
  return s.is_ok();
}

/// \brief Runs `call` on the CPU backend over the host cache.
bool attend_cpu(PagedCache& cache, Call& call) {
  attnkit::AttentionParams p = make_params(DeviceKind::kHost, call.rows(), -1, call.q.data(), call.o.data(),
                                           call.cu_q.data(), cache.k.data(), cache.v.data(), cache.table.data(),
                                           cache.lens.data(), call.sinks.data(), -1);
  return check(attnkit::forward(p), "CPU attention");
}

#ifdef ATTNKIT_EXAMPLE_CUDA
/// The device mirror of the cache: the engine appends slots to it as tokens arrive.
struct DeviceCache {
  void *k = nullptr, *v = nullptr, *table = nullptr, *lens = nullptr, *sinks = nullptr;
  bool init() {
    const size_t kv = kNumPages * kPageSize * kTokenElems * 2;
    return cudaMalloc(&k, kv) == cudaSuccess && cudaMalloc(&v, kv) == cudaSuccess &&
           cudaMalloc(&table, kBatch * kMaxPagesPerSeq * 4) == cudaSuccess && cudaMalloc(&lens, kBatch * 4) == cudaSuccess &&
           cudaMalloc(&sinks, kHq * 4) == cudaSuccess;
  }
  ~DeviceCache() { cudaFree(k), cudaFree(v), cudaFree(table), cudaFree(lens), cudaFree(sinks); }
  void write_slot(const PagedCache& c, int64_t slot) {
    cudaMemcpy(static_cast<uint16_t*>(k) + slot, c.k.data() + slot, kTokenElems * 2, cudaMemcpyHostToDevice);
    cudaMemcpy(static_cast<uint16_t*>(v) + slot, c.v.data() + slot, kTokenElems * 2, cudaMemcpyHostToDevice);
  }
};

/// \brief Runs `call` on the GPU over the device cache and checks it against the CPU.
bool attend_gpu(PagedCache& cache, DeviceCache& dev, Call& call, double* worst) {
  cudaMemcpy(dev.table, cache.table.data(), cache.table.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dev.lens, cache.lens.data(), cache.lens.size() * 4, cudaMemcpyHostToDevice);
  cudaMemcpy(dev.sinks, call.sinks.data(), kHq * 4, cudaMemcpyHostToDevice);
  const size_t qb = call.q.size() * 2;
  void *q = nullptr, *o = nullptr, *cu_q = nullptr;
  if (cudaMalloc(&q, qb) || cudaMalloc(&o, qb) || cudaMalloc(&cu_q, call.cu_q.size() * 4)) {
    std::fprintf(stderr, "cudaMalloc failed\n");
    return false;
  }
  cudaMemcpy(q, call.q.data(), qb, cudaMemcpyHostToDevice);
  cudaMemcpy(cu_q, call.cu_q.data(), call.cu_q.size() * 4, cudaMemcpyHostToDevice);
  int64_t max_sq = 0;
  for (int64_t b = 0; b < kBatch; ++b) max_sq = std::max<int64_t>(max_sq, call.cu_q[b + 1] - call.cu_q[b]);
  const int64_t max_sk = *std::max_element(cache.lens.begin(), cache.lens.end());
  const attnkit::AttentionParams p = make_params(DeviceKind::kCuda, call.rows(), max_sq, q, o, cu_q, dev.k, dev.v,
                                                 dev.table, dev.lens, dev.sinks, max_sk);
  bool ok = check(attnkit::forward(p), "GPU attention") && cudaDeviceSynchronize() == cudaSuccess;
  std::vector<uint16_t> gpu_o(call.o.size());
  cudaMemcpy(gpu_o.data(), o, qb, cudaMemcpyDeviceToHost);
  cudaFree(q), cudaFree(o), cudaFree(cu_q);
  ok = ok && attend_cpu(cache, call);
  for (size_t i = 0; ok && i < gpu_o.size(); ++i) {
    const double diff = std::fabs(from_bf16(gpu_o[i]) - from_bf16(call.o[i]));
    *worst = std::max(*worst, std::isnan(diff) ? INFINITY : diff);
  }
  return ok;
}
#endif

}  // namespace

int main() {
  bool use_gpu = false;
#ifdef ATTNKIT_EXAMPLE_CUDA
  int devices = 0;
  const cudaError_t err = cudaGetDeviceCount(&devices);
  use_gpu = err == cudaSuccess && devices > 0;
  if (!use_gpu) {
    std::printf("No CUDA device (%s): running on the CPU backend.\n",
                err == cudaSuccess ? "device count is 0" : cudaGetErrorString(err));
  }
  DeviceCache dev;
  if (use_gpu && !dev.init()) {
    std::fprintf(stderr, "cudaMalloc of the device cache failed\n");
    return 1;
  }
#else
  std::printf("This example was built without CUDA: running on the CPU backend.\n");
#endif
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto random_bf16 = [&](std::vector<uint16_t>* out, size_t n) {
    out->resize(n);
    for (auto& x : *out) x = to_bf16(normal(rng));
  };
  PagedCache cache;
  double worst = 0.0;

  // Step t = -1 is the prompt (varlen Q: every prompt token), then kSteps decode steps.
  for (int64_t t = -1; t < kSteps; ++t) {
    Call call;
    call.cu_q = {0};
    for (int64_t b = 0; b < kBatch; ++b) call.cu_q.push_back(call.cu_q.back() + (t < 0 ? kPromptLens[b] : 1));
    for (int64_t h = 0; h < kHq; ++h) call.sinks[h] = 0.25f * static_cast<float>(h % 4) - 0.5f;
    random_bf16(&call.q, call.rows() * kHq * kHeadDim);
    call.o.assign(call.q.size(), 0);
    for (int64_t b = 0; b < kBatch; ++b) {  // this step's new K/V go into the cache first
      for (int64_t n = 0; n < call.cu_q[b + 1] - call.cu_q[b]; ++n) {
        std::vector<uint16_t> k_token, v_token;
        random_bf16(&k_token, kTokenElems);
        random_bf16(&v_token, kTokenElems);
        const int64_t slot = cache.append(b, k_token.data(), v_token.data());
#ifdef ATTNKIT_EXAMPLE_CUDA
        if (use_gpu) dev.write_slot(cache, slot);
#else
        (void)slot;
#endif
      }
    }
    bool ok = false;
#ifdef ATTNKIT_EXAMPLE_CUDA
    ok = use_gpu ? attend_gpu(cache, dev, call, &worst) : attend_cpu(cache, call);
#else
    ok = attend_cpu(cache, call);
#endif
    if (!ok) return 1;
    for (uint16_t x : call.o) {
      if (!std::isfinite(from_bf16(x))) {
        std::fprintf(stderr, "non-finite output at step %lld\n", static_cast<long long>(t));
        return 1;
      }
    }
  }
  std::printf("Prompt of %d and %d tokens, then %lld decode steps over a paged cache (page size %lld, "
              "window %lld + %lld sink tokens, learned sinks): final lengths %d and %d.\n",
              kPromptLens[0], kPromptLens[1], static_cast<long long>(kSteps), static_cast<long long>(kPageSize),
              static_cast<long long>(kWindow), static_cast<long long>(kSinkTokens), cache.lens[0], cache.lens[1]);
  if (use_gpu) {
    std::printf("Backend used: CUDA (every call checked against the CPU backend, max |diff| = %.4g)\n", worst);
    if (!(worst <= 0.05)) {
      std::fprintf(stderr, "GPU and CPU disagree: max |diff| %.4g > 0.05\n", worst);
      return 1;
    }
  } else {
    std::printf("Backend used: CPU\n");
  }
  return 0;
}
