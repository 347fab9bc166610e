// Definitions behind fwd_launch.hpp; included only by the instance files.
#pragma once

#include <string>

#include "cuda/attention/fwd_kernel.cuh"
#include "cuda/attention/fwd_launch.hpp"
#include "cuda/attention/kernel_traits.cuh"

namespace attnkit::cuda_backend {

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
Status launch_fwd(const FwdParams& params, int grid_m, cudaStream_t stream) {
  using Traits = KernelTraits<kHeadDim, kIsBf16, kKvFp8>;
  const auto kernel = &fwd_kernel<Traits>;
  constexpr int kSmem = Traits::kSmemBytes;
  if constexpr (kSmem > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
    if (err != cudaSuccess) {
      return Status(StatusCode::kCudaError, std::string("cudaFuncSetAttribute(MaxDynamicSharedMemorySize = ") +
                                                std::to_string(kSmem) + ") failed: " + cudaGetErrorString(err));
    }
  }
  const dim3 grid(static_cast<unsigned>(grid_m), static_cast<unsigned>(params.hq),
                  static_cast<unsigned>(params.batch));
  kernel<<<grid, Traits::kNumThreads, kSmem, stream>>>(params);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    return Status(StatusCode::kCudaError, std::string("forward kernel launch failed: ") + cudaGetErrorString(err));
  }
  return Status::ok();
}

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
cudaError_t fwd_kernel_attributes(cudaFuncAttributes* attributes) {
  return cudaFuncGetAttributes(attributes, &fwd_kernel<KernelTraits<kHeadDim, kIsBf16, kKvFp8>>);
}

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
int fwd_smem_bytes() {
  return KernelTraits<kHeadDim, kIsBf16, kKvFp8>::kSmemBytes;
}

}  // namespace attnkit::cuda_backend

/// Explicit instantiation of one (head dim, dtype, KV format) instance.
#define ATTNKIT_INSTANTIATE_FWD(kHeadDim, kIsBf16, kKvFp8)                                                \
  template attnkit::Status attnkit::cuda_backend::launch_fwd<kHeadDim, kIsBf16, kKvFp8>(                   \
      const attnkit::cuda_backend::FwdParams&, int, cudaStream_t);                                         \
  template cudaError_t attnkit::cuda_backend::fwd_kernel_attributes<kHeadDim, kIsBf16, kKvFp8>(            \
      cudaFuncAttributes*);                                                                                \
  template int attnkit::cuda_backend::fwd_smem_bytes<kHeadDim, kIsBf16, kKvFp8>();
