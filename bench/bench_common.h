// Shared helpers of the attnkit benchmarks: device detection, owning device buffers,
// random device fills, a CUDA event timer and the FLOP counters (TFLOP/s).
#pragma once

#include <benchmark/benchmark.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace attnkit_bench {

/// \brief "" when a CUDA device is usable, else the CUDA error string.
inline std::string cuda_device_problem() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) return cudaGetErrorString(err);
  return count > 0 ? "" : "cudaGetDeviceCount returned 0";
}

/// An owning device allocation; `ok()` is false when cudaMalloc failed.
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(size_t bytes) { err_ = cudaMalloc(&ptr_, bytes > 0 ? bytes : 1); }
  ~DeviceArray() {
    if (ptr_ != nullptr) cudaFree(ptr_);
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& o) noexcept : ptr_(o.ptr_), err_(o.err_) { o.ptr_ = nullptr; }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(err_, o.err_);
    return *this;
  }
  void* get() const { return ptr_; }
  bool ok() const { return err_ == cudaSuccess && ptr_ != nullptr; }

 private:
  void* ptr_ = nullptr;
  cudaError_t err_ = cudaSuccess;
};

__device__ inline uint32_t bench_hash(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return static_cast<uint32_t>(x);
}

/// Fills n 16-bit values (bf16 or fp16 bit patterns) with uniform(-1, 1) noise.
static __global__ void fill_uniform_16bit_kernel(uint16_t* out, int64_t n, bool is_bf16, uint64_t seed) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float u = (bench_hash(seed * 0x9E3779B97F4A7C15ull + i) >> 8) * (2.0f / 16777216.0f) - 1.0f;
    uint16_t bits;
    if (is_bf16) {
      const __nv_bfloat16 h = __float2bfloat16_rn(u);
      bits = *reinterpret_cast<const uint16_t*>(&h);
    } else {
      const __half h = __float2half_rn(u);
      bits = *reinterpret_cast<const uint16_t*>(&h);
    }
    out[i] = bits;
  }
}

inline void fill_uniform_16bit(void* out, int64_t n, bool is_bf16, uint64_t seed) {
  fill_uniform_16bit_kernel<<<1024, 256>>>(static_cast<uint16_t*>(out), n, is_bf16, seed);
}

/// Times GPU work on one stream with CUDA events (milliseconds).
class EventTimer {
 public:
  EventTimer() {
    cudaEventCreate(&start_);
    cudaEventCreate(&stop_);
  }
  ~EventTimer() {
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  EventTimer(const EventTimer&) = delete;
  EventTimer& operator=(const EventTimer&) = delete;

  void start(cudaStream_t stream = nullptr) { cudaEventRecord(start_, stream); }
  /// \brief Records the stop event, waits for it and returns the elapsed milliseconds.
  float stop(cudaStream_t stream = nullptr) {
    cudaEventRecord(stop_, stream);
    cudaEventSynchronize(stop_);
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start_, stop_);
    return ms;
  }

 private:
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

/// \brief Visible (query, key) pairs of one (batch, head): Sq * Sk dense, causal aligned
/// bottom-right (i' = i + Sk - Sq sees keys 0 .. i').
inline int64_t visible_pairs(int64_t sq, int64_t sk, bool causal) {
  if (!causal) return sq * sk;
  int64_t pairs = 0;
  for (int64_t i = 0; i < sq; ++i) {
    const int64_t n = i + sk - sq + 1;
    pairs += n < 0 ? 0 : (n > sk ? sk : n);
  }
  return pairs;
}

/// \brief FLOPs of the forward pass: 4 * D per visible pair (Q K^T and P V), times B * Hq.
inline double attention_flops(int64_t batch, int64_t hq, int64_t d, int64_t pairs_per_head) {
  return 4.0 * static_cast<double>(batch) * static_cast<double>(hq) * static_cast<double>(d) *
         static_cast<double>(pairs_per_head);
}

/// \brief Sets the TFLOP/s counter (rate over the manual iteration times).
inline void set_tflops(benchmark::State& state, double flops_per_iteration) {
  state.counters["TFLOP/s"] = benchmark::Counter(flops_per_iteration * 1e-12, benchmark::Counter::kIsIterationInvariantRate);
}

/// \brief splitmix64 of x, as bench_peers.py's block_keep (shared/peers).
inline uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// \brief bench_peers.py's block-sparse pattern: block (h, i, j) of an nb x nb grid is kept
/// when i == j or (splitmix64(seed * 2^32 + (h * nb + i) * nb + j) >> 11) / 2^53 < density.
inline bool block_kept(int64_t h, int64_t i, int64_t j, int64_t nb, double density, uint64_t seed) {
  if (i == j) return true;
  const uint64_t idx = static_cast<uint64_t>((h * nb + i) * nb + j) + (seed << 32);
  return static_cast<double>(splitmix64(idx) >> 11) / 9007199254740992.0 < density;
}

}  // namespace attnkit_bench

/// \brief The main() of every benchmark program: without a device it says so and exits 0
/// (CI machines have none); otherwise it registers `register_all`'s cases and runs them.
#define ATTNKIT_BENCH_MAIN(register_all)                                  \
  int main(int argc, char** argv) {                                       \
    const std::string why = attnkit_bench::cuda_device_problem();         \
    if (!why.empty()) {                                                   \
      std::printf("no CUDA device: %s\n", why.c_str());                   \
      return 0;                                                           \
    }                                                                     \
    register_all();                                                       \
    benchmark::Initialize(&argc, argv);                                   \
    benchmark::RunSpecifiedBenchmarks();                                  \
    benchmark::Shutdown();                                                \
    return 0;                                                             \
  }
