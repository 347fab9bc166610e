// The building blocks of every statistics-based GPU path (attention_stats, ACT, SparseD):
// the FwdParams of a validated call, a stream-ordered scratch buffer, the LSE pass and the
// statistics pass. Internal to cuda/stats and cuda/planners.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "attnkit/attention.hpp"
#include "cuda/variant/fwd_params.hpp"
#include "common/problem.hpp"

namespace attnkit::cuda_backend {

/// \brief cudaGetLastError after a launch, as a Status.
Status check_launch(const char* kernel);

/// \brief Device memory from cudaMallocAsync on `stream`, freed (stream-ordered) on destruction.
class DeviceScratch {
 public:
  explicit DeviceScratch(cudaStream_t stream) : stream_(stream) {}
  ~DeviceScratch() {
    if (ptr_ != nullptr) cudaFreeAsync(ptr_, stream_);
  }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;

  /// \brief Allocates `bytes` (at least 1); zero-filled when `zero`.
  Status allocate(size_t bytes, bool zero, const char* what);
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  cudaStream_t stream_;
  void* ptr_ = nullptr;
};

/// \brief What the CUDA statistics kernels support beyond validation: fp16/bf16, D and Dv
/// <= 256, block masks of 64 or 128, enough shared memory. Queries the current device.
Status check_stats_support(const detail::Problem& problem, const AttentionParams& params);

/// \brief The forward kernel's argument block for a validated call (every SPEC 1-6 field;
/// the same mapping as cuda/attention/launch.cu's build_params).
FwdParams make_stats_params(const detail::Problem& problem, const AttentionParams& params);

/// \brief Points p->maybe_lse at `lse`, laid out as the forward's LSE: batched [B, Hq, Sq],
/// varlen [Hq, total_q] (contiguous).
void set_scratch_lse(const detail::Problem& problem, float* lse, FwdParams* p);

/// \brief Elements of a scratch LSE for `problem`.
int64_t scratch_lse_elements(const detail::Problem& problem);

/// \brief LSE pass: writes LSE_i of SPEC 4 (through p.maybe_lse) over keys j >= restrict_from.
Status run_lse_pass(const detail::Problem& problem, const FwdParams& p, int64_t restrict_from, cudaStream_t stream);

/// Outputs of one statistics pass; null pointers are skipped.
struct StatsPass {
  int64_t restrict_from = 0;  // keys j < restrict_from are neither seen nor counted
  float* col_sum = nullptr;   // [B, Hq, max_sk], positions within the sequence
  int32_t* col_count = nullptr;
  int block_q = 0;  // > 0: block_mass [B, Hq, ceil(max_sq / block_q), ceil(max_sk / block_k)]
  int block_k = 0;
  float* block_mass = nullptr;  // must be zeroed by the caller (accumulated with atomics)
};

/// \brief Statistics pass: p_ij = exp(s_ij - LSE_i) for every visible pair, one CTA per
/// (64-key tile, h, b); columns reduced in a fixed order (deterministic), block masses by
/// float atomics.
Status run_stats_pass(const detail::Problem& problem, const FwdParams& p, const StatsPass& pass, cudaStream_t stream);

}  // namespace attnkit::cuda_backend
