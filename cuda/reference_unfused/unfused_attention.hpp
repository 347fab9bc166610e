// Unfused attention on cuBLAS: S = Q K^T (batched GEMM), a row softmax kernel, O = P V.
// The GPU baseline of the tests (fp32 throughout, checks 8k+ shapes the CPU reference is
// too slow for) and of the benchmarks (16-bit GEMM inputs on tensor cores). Dense or
// causal (bottom-right) only. Not part of the library: tests and benchmarks link it.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace attnkit_unfused {

enum class Precision : int {
  kFloat32 = 0,       ///< Q, K, V, S, P and O in fp32 (CUDA cores): the accuracy baseline
  kTensorCore16 = 1,  ///< 16-bit Q, K, V, P into fp32 S and O: the speed baseline
};

struct Args {
  const void* q = nullptr;  ///< [B, Sq, Hq, D] contiguous, 16-bit
  const void* k = nullptr;  ///< [B, Sk, Hkv, D] contiguous, 16-bit
  const void* v = nullptr;  ///< [B, Sk, Hkv, D] contiguous, 16-bit
  bool is_bf16 = true;
  int64_t batch = 1, sq = 0, sk = 0, hq = 1, hkv = 1, d = 64;
  bool causal = false;
  float scale = 1.0f;
  float* o = nullptr;          ///< [B, Sq, Hq, D] float32
  float* maybe_lse = nullptr;  ///< [B, Hq, Sq] float32 (natural log), optional
  Precision precision = Precision::kFloat32;
  cudaStream_t stream = nullptr;
};

/// \brief Device scratch (converted inputs, S and P of one kv-head group) reused across
/// calls of the same or smaller shape; freed by the destructor.
class Workspace {
 public:
  Workspace() = default;
  ~Workspace();
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;

  /// \brief Makes sure `bytes` are allocated in slot `slot`; "" or an error message.
  std::string reserve(int slot, size_t bytes);
  void* slot(int i) const { return ptr_[i]; }
  cublasHandle_t handle();

 private:
  static constexpr int kSlots = 5;  // q32, k32, v32, S, P
  void* ptr_[kSlots] = {};
  size_t size_[kSlots] = {};
  cublasHandle_t handle_ = nullptr;
};

/// \brief Runs the unfused attention on args.stream; returns "" or an error message.
std::string run(const Args& args, Workspace* workspace);

}  // namespace attnkit_unfused
