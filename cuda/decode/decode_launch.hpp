// Host-side interface of the CUDA split-KV decode kernel (SPEC 9): few query rows per
// sequence against a long contiguous or paged KV cache. host/dispatch.cpp is the caller.
#pragma once

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

/// \brief Launches the split-KV kernel and the LSE merge on params.stream.
Status run_decode(const detail::Problem& problem, const AttentionParams& params,
                  const detail::KernelChoice& choice);

}  // namespace attnkit::cuda_backend
