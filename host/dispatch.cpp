// select_kernel: the one place that decides what runs. forward(), is_supported() and
// explain() all go through it.
#include "host/dispatch.hpp"

#include <sstream>

#include "host/dispatch_rule.hpp"
#include "host/reference/forward.hpp"
#ifdef ATTNKIT_WITH_CUDA
#include "cuda/attention/launch.hpp"
#include "cuda/decode/decode_launch.hpp"
#endif

namespace attnkit::detail {

#ifdef ATTNKIT_WITH_CUDA
namespace {
/// The CUDA backend's launchers, for the dispatch rule of host/dispatch_rule.hpp.
struct CudaBackend {
  static Status select_decode_kernel(const Problem& pr, const AttentionParams& p, KernelChoice* c) {
    return cuda_backend::select_decode_kernel(pr, p, c);
  }
  static Status select_prefill_kernel(const Problem& pr, const AttentionParams& p, KernelChoice* c) {
    return cuda_backend::select_kernel(pr, p, c);
  }
  static Status run_decode(const Problem& pr, const AttentionParams& p, const KernelChoice& c, void* workspace) {
    return cuda_backend::run_decode(pr, p, c, workspace);
  }
  static Status run_forward(const Problem& pr, const AttentionParams& p, const KernelChoice& c) {
    return cuda_backend::run_forward(pr, p, c);
  }
};
}  // namespace
#endif

Status select_kernel(const Problem& pr, const AttentionParams& p, KernelChoice* choice) {
  if (pr.device == DeviceKind::kHost) {
    *choice = KernelChoice{};
    choice->backend = Backend::kCpu;
    choice->kernel = "cpu_reference";
    choice->why = "the tensors live in host memory, so the CPU reference backend runs (double accumulation, "
                  "parallel over (batch, head))";
    return Status::ok();
  }
#ifdef ATTNKIT_WITH_CUDA
  return select_cuda_kernel<CudaBackend>(pr, p, choice);
#else
  (void)p;
  return Status(StatusCode::kNotSupported,
                "q: lives in CUDA memory, but this attnkit was built without the CUDA backend "
                "(ATTNKIT_CUDA=OFF or no nvcc at build time); pass host tensors or rebuild with CUDA");
#endif
}

Status run_kernel(const Problem& pr, const AttentionParams& p, const KernelChoice& choice, void* workspace) {
  if (choice.backend == Backend::kCpu) return reference::forward(pr, p);
#ifdef ATTNKIT_WITH_CUDA
  return run_cuda_kernel<CudaBackend>(pr, p, choice, workspace);
#else
  (void)workspace;
  return Status(StatusCode::kInternal, "a CUDA kernel was chosen in a build without CUDA");
#endif
}

Status run_kernel_with_own_workspace(const Problem& pr, const AttentionParams& p, const KernelChoice& choice) {
  const size_t bytes = workspace_bytes(pr, choice);
  if (bytes == 0) return run_kernel(pr, p, choice, nullptr);
#ifdef ATTNKIT_WITH_CUDA
  void* workspace = nullptr;
  if (Status s = cuda_backend::allocate_workspace(bytes, p.stream, &workspace); !s) return s;
  const Status status = run_kernel(pr, p, choice, workspace);
  const Status freed = cuda_backend::free_workspace(workspace, p.stream);
  return status.is_ok() ? freed : status;
#else
  return Status(StatusCode::kInternal, "a CUDA workspace was asked for in a build without CUDA");
#endif
}

std::string describe(const Problem& pr, const KernelChoice& c) {
  std::ostringstream s;
  s << "backend=" << (c.backend == Backend::kCpu ? "cpu" : "cuda") << " kernel=" << c.kernel;
  if (c.tile_q > 0) s << " tile=" << c.tile_q << "x" << c.tile_k << " warps=" << c.num_warps;
  if (c.num_splits > 0) s << " splits=" << c.num_splits;
  s << " | B=" << pr.batch << " Hq=" << pr.hq << " Hkv=" << pr.hkv << " Sq=" << pr.max_sq << " Sk=" << pr.max_sk
    << " D=" << pr.d << " Dv=" << pr.dv << " dtype=" << dtype_name(pr.dtype);
  if (pr.kv_fp8) {
    s << " kv=" << dtype_name(pr.kv_dtype) << (pr.kv_scale_per_head ? "(scale per kv head)" : "(scale per tensor)");
  }
  s << (pr.varlen ? " varlen" : "")
    << (pr.paged ? " paged_kv(page_size=" + std::to_string(pr.page_size) + ")" : std::string());
  const char* features[] = {pr.has_lse ? "lse" : nullptr,        pr.has_head_scale ? "head_scale" : nullptr,
                            pr.has_bias ? "key_bias" : nullptr,   pr.has_sink ? "sink_logit" : nullptr,
                            pr.has_block_mask ? "block_mask" : nullptr, pr.has_rectify ? "rectify" : nullptr,
                            pr.has_gate ? (pr.gate_elementwise ? "gate_elementwise" : "gate_headwise") : nullptr};
  bool first = true;
  for (const char* f : features) {
    if (!f) continue;
    s << (first ? " features=" : ",") << f;
    first = false;
  }
  s << " | why: " << c.why;
  return s.str();
}

}  // namespace attnkit::detail
