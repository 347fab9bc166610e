// One select_kernel feeds forward, is_supported and explain, so they never disagree.
#pragma once

#include <string>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "host/problem.hpp"

namespace attnkit::detail {

enum class Backend : int { kCpu = 0, kCuda = 1 };

/// What will run for a validated call, and why.
struct KernelChoice {
  Backend backend = Backend::kCpu;
  std::string kernel;  // e.g. "cpu_reference", "fwd_sm80<bf16,128>"
  int tile_q = 0;      // rows of Q per CTA (0 on the CPU)
  int tile_k = 0;      // keys per main-loop step
  int num_warps = 0;
  std::string why;     // one sentence for explain()
};

/// \brief Chooses the backend and kernel for a validated problem. Returns
/// kNotSupported naming what is supported when no kernel fits.
Status select_kernel(const Problem& problem, const AttentionParams& params, KernelChoice* choice);

/// \brief Runs `choice` (as returned by select_kernel).
Status run_kernel(const Problem& problem, const AttentionParams& params, const KernelChoice& choice);

/// \brief Human-readable description of a choice.
std::string describe(const Problem& problem, const KernelChoice& choice);

}  // namespace attnkit::detail
