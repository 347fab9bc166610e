// Placeholder until the split-KV decode kernel lands: the dispatcher falls back to the
// prefill kernel, and paged caches on the device are reported as unsupported.
#include "cuda/decode/decode_launch.hpp"

namespace attnkit::cuda_backend {

Status select_decode_kernel(const detail::Problem&, const AttentionParams&, detail::KernelChoice*) {
  return Status(StatusCode::kNotSupported, "paged_kv: the CUDA decode kernel is not built yet; host tensors run on the CPU backend");
}

Status run_decode(const detail::Problem&, const AttentionParams&, const detail::KernelChoice&) {
  return Status(StatusCode::kInternal, "run_decode: no decode kernel in this build");
}

}  // namespace attnkit::cuda_backend
