// Host-side declarations of the Hopper (sm_90a) prefill instances, one per (head dim, dtype,
// keys per stage) row of the tile table in cuda/hopper/instances/ (compiled only when the build includes the Hopper family:
// ATTNKIT_WITH_HOPPER).
#pragma once

#include <cuda_runtime.h>

#include "attnkit/status.hpp"
#include "cuda/hopper/hopper_params.hpp"

namespace attnkit::cuda_backend {

/// \brief Launches the Hopper kernel over (grid_m, Hq, B) CTAs on `stream` and checks the launch.
template <int kHeadDim, bool kIsBf16, int kBlockN>
Status launch_hopper(const HopperFwdParams& params, int grid_m, cudaStream_t stream);

/// \brief Attributes of that kernel on the current device (fails unless the device runs sm_90a code).
template <int kHeadDim, bool kIsBf16, int kBlockN>
cudaError_t hopper_kernel_attributes(cudaFuncAttributes* attributes);

/// \brief Dynamic shared memory of that kernel, bytes.
template <int kHeadDim, bool kIsBf16, int kBlockN>
int hopper_smem_bytes();

}  // namespace attnkit::cuda_backend
