// One select_kernel feeds forward, is_supported and explain, so they never disagree.
#pragma once

#include <string>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "host/problem.hpp"

namespace attnkit::detail {

enum class Backend : int { kCpu = 0, kCuda = 1 };

/// Which kernel family runs a CUDA call: the prefill kernel (tiles of query rows) or the
/// split-KV decode kernel (few query rows per sequence, contiguous or paged KV).
enum class KernelFamily : int { kReference = 0, kPrefill = 1, kDecode = 2 };

/// Calls with at most this many query rows per sequence go to the decode kernel (SPEC 9).
inline constexpr int64_t kDecodeMaxQueryRows = 16;

/// What will run for a validated call, and why.
struct KernelChoice {
  Backend backend = Backend::kCpu;
  KernelFamily family = KernelFamily::kReference;
  std::string kernel;  // e.g. "cpu_reference", "fwd_sm80<bf16,128>"
  int tile_q = 0;      // rows of Q per CTA (0 on the CPU)
  int tile_k = 0;      // keys per main-loop step
  int num_warps = 0;
  int num_splits = 0;  // decode: key splits per sequence (0 elsewhere)
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
