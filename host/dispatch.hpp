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

/// \brief Runs `choice` (as returned by select_kernel).
Status run_kernel(const Problem& problem, const AttentionParams& params, const KernelChoice& choice);

/// \brief Human-readable description of a choice.
std::string describe(const Problem& problem, const KernelChoice& choice);

}  // namespace attnkit::detail
