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

/// \brief The internal float32-output mode of the same kernel (what act_forward runs):
/// validates `params`, picks the prefill kernel with cuda_backend::select_kernel (device
/// queries answered as the emulated H100) and runs cuda_backend::run_forward_params with O
/// redirected to `o`, float32 and contiguous: batched [B, Sq, Hq, Dv], varlen [total_q, Hq, Dv].
/// params.o is not written; the LSE and the output transforms are the call's.
attnkit::Status emulated_forward_float32(const attnkit::AttentionParams& params, float* o);

}  // namespace attnkit_emu
