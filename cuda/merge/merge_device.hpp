// Host-side interface of the CUDA merge path, called by host/api_merge.cpp under
// ATTNKIT_WITH_CUDA with a call that is already fully validated.
#pragma once

#include "attnkit/merge.hpp"
#include "attnkit/status.hpp"
#include "common/merge_problem.hpp"

namespace attnkit::cuda_backend {

/// \brief merge_states on device tensors: checks what the kernel supports (at most
/// kMergeMaxParts parts: kNotSupported; no usable device: kCudaError; pre-sm_80:
/// kNotSupported), then one launch of merge_states_kernel on params.stream. Allocates
/// nothing and never synchronises (safe inside CUDA graph capture).
Status merge_states_device(const detail::MergeProblem& problem, const MergeStatesParams& params);

}  // namespace attnkit::cuda_backend
