// The public dispatcher's path, emulated: a call is validated as attnkit::forward validates
// it, then routed by host/dispatch_rule.hpp -- the rule host/dispatch.cpp runs -- to the
// emulated prefill launcher (emulated_forward.cpp) or decode launcher (emulated_decode.cpp),
// so a call the library would refuse is refused here too, with the same message.
#include "emulated_decode.hpp"
#include "emulated_forward.hpp"

#include "common/kernel_choice.hpp"
#include "common/problem.hpp"
#include <limits>
#include <vector>

#include "host/dispatch_rule.hpp"
#include "host/plan_rule.hpp"
#include "host/validate.hpp"

// The emulated launchers live in namespace cuda_backend_emu (emulated_forward.cpp,
// emulated_decode.cpp): declare them under that name.
#define cuda_backend cuda_backend_emu
#include "cuda/attention/launch.hpp"
#include "cuda/decode/decode_launch.hpp"
#undef cuda_backend

namespace attnkit_emu {
namespace {

namespace detail = attnkit::detail;
namespace emu = attnkit::cuda_backend_emu;
using attnkit::AttentionParams;
using attnkit::Status;

/// The emulated backend, for the dispatch rule.
struct EmulatedCuda {
  static Status select_decode_kernel(const detail::Problem& pr, const AttentionParams& p, detail::KernelChoice* c) {
    return emu::select_decode_kernel(pr, p, c);
  }
  static Status select_prefill_kernel(const detail::Problem& pr, const AttentionParams& p, detail::KernelChoice* c) {
    return emu::select_kernel(pr, p, c);
  }
  static Status run_decode(const detail::Problem& pr, const AttentionParams& p, const detail::KernelChoice& c,
                           void* workspace) {
    return emu::run_decode(pr, p, c, workspace);
  }
  static Status run_forward(const detail::Problem& pr, const AttentionParams& p, const detail::KernelChoice& c) {
    return emu::run_forward(pr, p, c);
  }
};

/// \brief Validates and chooses as attnkit::forward does on a device call.
Status choose(const AttentionParams& params, detail::Problem* problem, detail::KernelChoice* choice) {
  if (Status s = detail::validate_attention(params, detail::CallKind::kForward, problem); !s) return s;
  return detail::select_cuda_kernel<EmulatedCuda>(*problem, params, choice);
}

/// \brief Runs a choice with a workspace of its own: NaN-filled host memory, so a merge that
/// reads a slot no split wrote fails the comparison.
Status run_with_workspace(const detail::Problem& problem, const AttentionParams& params,
                          const detail::KernelChoice& choice) {
  const size_t bytes = detail::workspace_bytes(problem, choice);
  std::vector<float> workspace((bytes + sizeof(float) - 1) / sizeof(float), std::numeric_limits<float>::quiet_NaN());
  return detail::run_cuda_kernel<EmulatedCuda>(problem, params, choice, bytes > 0 ? workspace.data() : nullptr);
}

}  // namespace

Status emulated_forward(const AttentionParams& params) { return emulated_forward_via(params, nullptr); }

Status emulated_forward_via(const AttentionParams& params, std::string* kernel) {
  detail::Problem problem;
  detail::KernelChoice choice;
  if (Status s = choose(params, &problem, &choice); !s) return s;
  if (kernel != nullptr) *kernel = choice.kernel;
  return run_with_workspace(problem, params, choice);
}

Status emulated_decode(const AttentionParams& params, DecodeRun* run, int force_splits) {
  detail::Problem problem;
  detail::KernelChoice choice;
  if (Status s = choose(params, &problem, &choice); !s) return s;
  if (choice.family != detail::KernelFamily::kDecode) {
    return Status(attnkit::StatusCode::kNotSupported, "the dispatcher sends this call to " + choice.kernel);
  }
  if (force_splits > 0) choice.num_splits = force_splits;
  if (run != nullptr) {
    run->kernel = choice.kernel;
    run->num_splits = choice.num_splits;
  }
  return run_with_workspace(problem, params, choice);
}

Status emulated_plan(const AttentionParams& params, EmulatedPlan* plan) {
  detail::Problem problem;
  detail::KernelChoice choice;
  if (Status s = choose(params, &problem, &choice); !s) return s;
  plan->shape = detail::plan_shape(problem, params);
  plan->choice = choice;
  plan->workspace_bytes = detail::workspace_bytes(problem, choice);
  return Status::ok();
}

Status emulated_run(const EmulatedPlan& plan, const AttentionParams& params, void* workspace, size_t workspace_bytes) {
  // The steps of attnkit::run (host/api.cpp), over the emulated launchers.
  detail::Problem problem;
  if (Status s = detail::validate_attention(params, detail::CallKind::kForward, &problem); !s) return s;
  return detail::run_planned(plan.shape, plan.choice, plan.workspace_bytes, problem, params, workspace, workspace_bytes,
                             detail::run_cuda_kernel<EmulatedCuda>);
}

}  // namespace attnkit_emu
