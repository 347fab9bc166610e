// Public entry point merge_states: validate, then the CPU reference for host tensors or the
// CUDA merge kernel for device tensors. Nothing is written before the call is validated.
#include <new>

#include "attnkit/merge.hpp"
#include "common/merge_problem.hpp"
#include "host/reference/merge.hpp"
#include "host/validate_merge.hpp"

#ifdef ATTNKIT_WITH_CUDA
#include "cuda/merge/merge_device.hpp"
#endif

namespace attnkit {

Status merge_states(const MergeStatesParams& params) {
  try {
    detail::MergeProblem pr;
    if (Status s = detail::validate_merge(params, &pr); !s) return s;
    if (pr.device != DeviceKind::kHost) {
#ifdef ATTNKIT_WITH_CUDA
      return cuda_backend::merge_states_device(pr, params);
#else
      return Status(StatusCode::kNotSupported,
                    "o_parts[0]: lives in CUDA memory, but this attnkit was built without the CUDA backend "
                    "(ATTNKIT_CUDA=OFF or no nvcc at build time); pass host tensors or rebuild with CUDA");
#endif
    }
    return reference::merge_states(pr, params);
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::kInternal, "merge_states: out of host memory");
  } catch (...) {
    return Status(StatusCode::kInternal, "merge_states: unexpected exception");
  }
}

}  // namespace attnkit
