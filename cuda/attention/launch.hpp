// Host-side interface of the CUDA attention backend. Compiled into the library only
// when CUDA is enabled (ATTNKIT_WITH_CUDA); host/dispatch.cpp is the caller of the public
// path, cuda/stats/act.cu of the internal run_forward_params.
#pragma once

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "cuda/variant/fwd_params.hpp"
#include "common/kernel_choice.hpp"
#include "common/problem.hpp"

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

/// \brief Internal (ACT, cuda/stats/act.cu): run_forward on an argument block the caller
/// derived from build_fwd_params(problem, params), e.g. with a float32 O (o_is_float32), a
/// scratch LSE and no output transforms. `choice` comes from this file's select_kernel on
/// (problem, params): always the prefill kernel, whatever Sq, because the decode kernel has
/// no float32 output mode.
Status run_forward_params(const detail::Problem& problem, const AttentionParams& params, const FwdParams& p,
                          const detail::KernelChoice& choice);

}  // namespace attnkit::cuda_backend
