// Host-side interface of the CUDA attention backend. Compiled into the library only
// when CUDA is enabled (ATTNKIT_WITH_CUDA); host/dispatch.cpp is the only caller.
#pragma once

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "host/dispatch.hpp"
#include "host/problem.hpp"

namespace attnkit::cuda_backend {

/// \brief Picks the CUDA kernel and tile for a validated device problem, or returns
/// kNotSupported naming the supported head dims / dtypes / options. Queries the current
/// device's compute capability (kCudaError when no device is usable).
Status select_kernel(const detail::Problem& problem, const AttentionParams& params,
                     detail::KernelChoice* choice);

/// \brief Launches the forward kernel chosen by select_kernel on params.stream and checks
/// the launch.
Status run_forward(const detail::Problem& problem, const AttentionParams& params,
                   const detail::KernelChoice& choice);

}  // namespace attnkit::cuda_backend
