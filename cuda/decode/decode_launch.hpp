// Host-side interface of the CUDA split-KV decode kernel (SPEC 9): few query rows per
// sequence against a long contiguous or paged KV cache. host/dispatch.cpp is the caller.
#pragma once

#include <cstddef>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "common/kernel_choice.hpp"
#include "common/problem.hpp"

namespace attnkit::cuda_backend {

/// \brief Fills `choice` (family kDecode, splits, why) when the decode kernel serves this
/// validated device problem; otherwise kNotSupported naming what it supports (the
/// dispatcher then tries the prefill kernel, unless the cache is paged).
Status select_decode_kernel(const detail::Problem& problem, const AttentionParams& params,
                            detail::KernelChoice* choice);

/// \brief Launches the split-KV kernel and the LSE merge on params.stream. With splits, the
/// partials go to `workspace` (detail::workspace_bytes(problem, choice) bytes, 16-byte
/// aligned, the caller's); nothing is allocated, nothing synchronises.
Status run_decode(const detail::Problem& problem, const AttentionParams& params,
                  const detail::KernelChoice& choice, void* workspace);

/// \brief Stream-ordered device workspace for forward()'s one-shot path (plan / run callers
/// bring their own).
Status allocate_workspace(size_t bytes, void* stream, void** workspace);
Status free_workspace(void* workspace, void* stream);

}  // namespace attnkit::cuda_backend
