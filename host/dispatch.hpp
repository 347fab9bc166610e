// One select_kernel feeds forward, is_supported and explain, so they never disagree.
#pragma once

#include <string>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "common/kernel_choice.hpp"
#include "common/problem.hpp"

namespace attnkit::detail {

/// \brief Chooses the backend and kernel for a validated problem. Returns
/// kNotSupported naming what is supported when no kernel fits.
Status select_kernel(const Problem& problem, const AttentionParams& params, KernelChoice* choice);

/// \brief Runs `choice` (as returned by select_kernel, or fitted from a plan) with the
/// caller's workspace of workspace_bytes(problem, choice) bytes (null when 0). Allocates
/// nothing and never synchronises on the CUDA backend.
Status run_kernel(const Problem& problem, const AttentionParams& params, const KernelChoice& choice, void* workspace);

/// \brief run_kernel with a workspace of its own (forward()'s one-shot path): stream-ordered
/// allocation and release around the launch when the choice needs one.
Status run_kernel_with_own_workspace(const Problem& problem, const AttentionParams& params,
                                     const KernelChoice& choice);

/// \brief Human-readable description of a choice.
std::string describe(const Problem& problem, const KernelChoice& choice);

}  // namespace attnkit::detail
