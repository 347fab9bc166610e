// The real forward kernel and launcher (cuda/attention), run on the CPU emulator.
#pragma once

#include <string>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"

namespace attnkit_emu {

/// \brief Validates `params` (host tensors) as attnkit::forward would, then runs it through
/// the prefill launcher cuda_backend::run_forward and fwd_kernel, unchanged, with every CTA
/// emulated. The public dispatcher is bypassed on purpose: it may route small Sq to the
/// decode kernel, which is not emulated. The status is the launcher's; a violated CUDA
/// rule (shared memory out of range, cp.async never waited for, deadlock) comes back as
/// kInternal with the emulator's message.
attnkit::Status emulated_forward(const attnkit::AttentionParams& params);

}  // namespace attnkit_emu
