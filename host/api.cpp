// Public forward entry points: validate, select, run. Nothing is written before the
// call has been validated and a kernel chosen.
#include <new>

#include "attnkit/attention.hpp"
#include "host/dispatch.hpp"
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
    return detail::run_kernel(pr, params, choice);
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

const char* version() { return ATTNKIT_VERSION_STRING; }

}  // namespace attnkit
