// Host-side declarations of the per-(head dim, dtype, KV format) forward instances; each is
// defined in one file of cuda/attention/instances/ (kKvFp8: K / V are an FP8 cache).
#pragma once

#include <cuda_runtime.h>

#include "attnkit/status.hpp"
#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

/// \brief Launches the forward kernel for head dim kHeadDim (bf16 or fp16) over a grid of
/// (grid_m, Hq, B) CTAs on `stream`, then checks the launch.
template <int kHeadDim, bool kIsBf16, bool kKvFp8>
Status launch_fwd(const FwdParams& params, int grid_m, cudaStream_t stream);

/// \brief Attributes of that kernel on the current device (fails when the library holds
/// no code the device can run).
template <int kHeadDim, bool kIsBf16, bool kKvFp8>
cudaError_t fwd_kernel_attributes(cudaFuncAttributes* attributes);

/// \brief Dynamic shared memory the kernel needs, in bytes.
template <int kHeadDim, bool kIsBf16, bool kKvFp8>
int fwd_smem_bytes();

}  // namespace attnkit::cuda_backend
