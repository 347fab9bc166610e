// Definitions behind hopper_launch.hpp; included only by the instance files (built for sm_90a).
#pragma once

#include <string>

#include "cuda/attention/launch_common.hpp"
#include "cuda/hopper/hopper_kernel.cuh"
#include "cuda/hopper/hopper_launch.hpp"
#include "cuda/hopper/hopper_traits.cuh"

namespace attnkit::cuda_backend {

template <int kHeadDim, bool kIsBf16, int kBlockN>
Status launch_hopper(const HopperFwdParams& params, int grid_m, cudaStream_t stream) {
  using Traits = HopperTraits<kHeadDim, kIsBf16, kBlockN>;
  const auto kernel = &hopper_fwd_kernel<Traits>;
  constexpr int kSmem = Traits::kSmemBytes;
  if (Status s = set_max_dynamic_smem(kernel, kSmem, "hopper_fwd_kernel"); !s) return s;
  const dim3 grid(static_cast<unsigned>(grid_m), static_cast<unsigned>(params.p.hq),
                  static_cast<unsigned>(params.p.batch));
  kernel<<<grid, Traits::kNumThreads, kSmem, stream>>>(params);
  if (const cudaError_t err = cudaGetLastError(); err != cudaSuccess) {
    return cuda_error("Hopper forward kernel launch failed", err);
  }
  return Status::ok();
}

template <int kHeadDim, bool kIsBf16, int kBlockN>
cudaError_t hopper_kernel_attributes(cudaFuncAttributes* attributes) {
  return cudaFuncGetAttributes(attributes, &hopper_fwd_kernel<HopperTraits<kHeadDim, kIsBf16, kBlockN>>);
}

template <int kHeadDim, bool kIsBf16, int kBlockN>
int hopper_smem_bytes() {
  return HopperTraits<kHeadDim, kIsBf16, kBlockN>::kSmemBytes;
}

}  // namespace attnkit::cuda_backend

/// Explicit instantiation of one (head dim, dtype, keys per stage) instance.
#define ATTNKIT_INSTANTIATE_HOPPER(kHeadDim, kIsBf16, kBlockN)                                            \
  template attnkit::Status attnkit::cuda_backend::launch_hopper<kHeadDim, kIsBf16, kBlockN>(               \
      const attnkit::cuda_backend::HopperFwdParams&, int, cudaStream_t);                                   \
  template cudaError_t attnkit::cuda_backend::hopper_kernel_attributes<kHeadDim, kIsBf16, kBlockN>(        \
      cudaFuncAttributes*);                                                                                \
  template int attnkit::cuda_backend::hopper_smem_bytes<kHeadDim, kIsBf16, kBlockN>();
