// The real forward kernel and launcher (cuda/attention), run on the CPU emulator.
#pragma once

#include <string>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "host/plan_rule.hpp"

namespace attnkit_emu {

/// \brief Whether the emulated library holds the Hopper family's sm_90a image (test switch,
/// default off): on, sm_90 calls the family supports run cuda/hopper's kernel; off, they run
/// the mma.sync family as a build without the family would.
inline bool g_sm90a_image = false;

/// \brief Runs `params` (host tensors) as attnkit::forward runs a device call: validation,
/// then the dispatcher's rule (host/dispatch_rule.hpp) over the emulated launchers -- the
/// prefill kernel, or the decode kernel for few query rows -- with every CTA emulated.
/// A call the dispatcher refuses is refused with its status; a violated CUDA rule (shared
/// memory out of range or raced, cp.async never waited for, deadlock) comes back as
/// kInternal with the emulator's message.
attnkit::Status emulated_forward(const attnkit::AttentionParams& params);

/// \brief emulated_forward, also naming the kernel the dispatcher chose.
attnkit::Status emulated_forward_via(const attnkit::AttentionParams& params, std::string* kernel);

/// A plan made over the emulated launchers (attnkit::plan's steps; see emulated_run).
struct EmulatedPlan {
  attnkit::detail::PlanShape shape;
  attnkit::detail::KernelChoice choice;
  size_t workspace_bytes = 0;
};

/// \brief attnkit::plan over the emulated backend (an emulated H100 answers the device queries).
attnkit::Status emulated_plan(const attnkit::AttentionParams& params, EmulatedPlan* plan);

/// \brief attnkit::run's steps (validate, fit the plan, check the workspace, launch) over the
/// emulated launchers; `workspace` is host memory here.
attnkit::Status emulated_run(const EmulatedPlan& plan, const attnkit::AttentionParams& params, void* workspace,
                             size_t workspace_bytes);

/// \brief The internal float32-output mode of the same kernel (what act_forward runs):
/// validates `params`, picks the prefill kernel with cuda_backend::select_kernel (device
/// queries answered as the emulated H100) and runs cuda_backend::run_forward_params with O
/// redirected to `o`, float32 and contiguous: batched [B, Sq, Hq, Dv], varlen [total_q, Hq, Dv].
/// params.o is not written; the LSE and the output transforms are the call's.
attnkit::Status emulated_forward_float32(const attnkit::AttentionParams& params, float* o);

}  // namespace attnkit_emu
