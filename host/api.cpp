// Public forward entry points: validate, select, run. Nothing is written before the
// call has been validated and a kernel chosen.
#include <cstdint>
#include <memory>
#include <new>
#include <string>

#include "attnkit/attention.hpp"
#include "host/dispatch.hpp"
#include "host/plan_rule.hpp"
#include "host/validate.hpp"

namespace attnkit {

namespace {

Status prepare(const AttentionParams& params, detail::Problem* pr, detail::KernelChoice* choice) {
  if (Status s = detail::validate_attention(params, detail::CallKind::kForward, pr); !s) return s;
  return detail::select_kernel(*pr, params, choice);
}

}  // namespace

Status forward(const AttentionParams& params) {
  try {
    detail::Problem pr;
    detail::KernelChoice choice;
    if (Status s = prepare(params, &pr, &choice); !s) return s;
    if (pr.batch == 0 || pr.max_sq == 0) return Status::ok();  // nothing to write
    return detail::run_kernel_with_own_workspace(pr, params, choice);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kInternal, "forward: out of host memory");
  } catch (...) {
    return Status(StatusCode::kInternal, "forward: unexpected exception");
  }
}

bool is_supported(const AttentionParams& params, std::string* why) {
  try {
    detail::Problem pr;
    detail::KernelChoice choice;
    Status s = prepare(params, &pr, &choice);
    if (why) *why = s ? std::string() : s.message();
    return s.is_ok();
  } catch (...) {
    if (why) *why = "is_supported: unexpected exception";
    return false;
  }
}

Status explain(const AttentionParams& params, std::string* description) {
  if (description == nullptr) return Status(StatusCode::kInvalidArgument, "description: expected a non-null pointer");
  try {
    detail::Problem pr;
    detail::KernelChoice choice;
    if (Status s = prepare(params, &pr, &choice); !s) return s;
    *description = detail::describe(pr, choice);
    return Status::ok();
  } catch (...) {
    return Status(StatusCode::kInternal, "explain: unexpected exception");
  }
}

// ---- plan / run ------------------------------------------------------------

struct AttentionPlan::Impl {
  detail::PlanShape shape;
  detail::KernelChoice choice;
  size_t workspace = 0;
  std::string description;
};

size_t AttentionPlan::workspace_bytes() const { return impl_ != nullptr ? impl_->workspace : 0; }
const std::string& AttentionPlan::description() const {
  static const std::string kEmpty = "empty plan";
  return impl_ != nullptr ? impl_->description : kEmpty;
}

Status plan(const AttentionParams& params, AttentionPlan* out) {
  if (out == nullptr) return Status(StatusCode::kInvalidArgument, "out: expected a non-null AttentionPlan pointer");
  try {
    detail::Problem pr;
    detail::KernelChoice choice;
    if (Status s = prepare(params, &pr, &choice); !s) return s;
    auto made = std::make_shared<AttentionPlan::Impl>();  // immutable once made: copies share it
    made->shape = detail::plan_shape(pr, params);
    made->choice = choice;
    made->workspace = detail::workspace_bytes(pr, choice);
    made->description = detail::describe(pr, choice);
    out->impl_ = std::move(made);
    return Status::ok();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kInternal, "plan: out of host memory");
  } catch (...) {
    return Status(StatusCode::kInternal, "plan: unexpected exception");
  }
}

Status run(const AttentionPlan& plan, const AttentionParams& params, void* workspace, size_t workspace_bytes) {
  const AttentionPlan::Impl* impl = plan.impl_.get();
  if (impl == nullptr) return Status(StatusCode::kInvalidArgument, "plan: expected a plan made by attnkit::plan (it is empty)");
  try {
    detail::Problem pr;
    if (Status s = detail::validate_attention(params, detail::CallKind::kForward, &pr); !s) return s;
    return detail::run_planned(impl->shape, impl->choice, impl->workspace, pr, params, workspace, workspace_bytes,
                               detail::run_kernel);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kInternal, "run: out of host memory");
  } catch (...) {
    return Status(StatusCode::kInternal, "run: unexpected exception");
  }
}

const char* version() { return ATTNKIT_VERSION_STRING; }

}  // namespace attnkit
