// select_kernel and run_forward of the CUDA backend: the one place that turns a validated
// call into a FwdParams block and picks the (head dim, dtype) instance (run_forward_params
// also serves ACT's float32-output forward).
#include "cuda/attention/launch.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <type_traits>

#include "cuda/attention/fwd_launch.hpp"
#include "cuda/variant/fwd_params.hpp"
#include "cuda/attention/launch_common.hpp"
#include "cuda/attention/kernel_traits.cuh"
#include "cuda/variant/key_tiles.cuh"
#if defined(ATTNKIT_WITH_HOPPER)
#include "cuda/hopper/hopper_select.hpp"
#endif

namespace attnkit::cuda_backend {
namespace {

constexpr int64_t kMaxGridYZ = 65535;

/// \brief The tile row of the instance for (device, head dim): the one table every figure
/// of a choice comes from.
TileConfig tile_row(const detail::DeviceInfo& /*device*/, int64_t head_dim) {
  return tile_config(ArchClass::kSm80, static_cast<int>(head_dim));  // the only family (sm_80 and newer)
}

}  // namespace

Status select_kernel(const detail::Problem& problem, const AttentionParams& params, detail::KernelChoice* choice) {
  if (Status s = check_dtype_and_length(problem, "CUDA kernel"); !s) return s;
  if (Status s = check_mma_head_dims(problem, "CUDA kernel"); !s) return s;
  if (problem.batch > kMaxGridYZ || problem.hq > kMaxGridYZ) {
    return not_supported("batch = " + std::to_string(problem.batch) + ", Hq = " + std::to_string(problem.hq) +
                         ": the CUDA kernel supports at most 65535 of each");
  }
  for (const auto& [t, name] : {std::pair{&params.q, "q"}, std::pair{&params.k, "k"}, std::pair{&params.v, "v"},
                                std::pair{&params.o, "o"}}) {
    Status s = check_row_alignment(*t, name, "CUDA kernel");
    if (!s) return s;
  }
  if (Status s = check_contiguous_cu_seqlens(problem, params, "CUDA kernel"); !s) return s;

  detail::DeviceInfo device;
  if (Status s = current_device_info(&device); !s) return s;
  if (Status s = check_sm80(device, "CUDA kernel"); !s) return s;
  // sm_90 devices take the Hopper family for every call it supports; the rest, and every other
  // device, the mma.sync family (which says why the Hopper family did not run).
  std::string hopper_refusal;
#if defined(ATTNKIT_WITH_HOPPER)
  *choice = detail::KernelChoice{};
  hopper_refusal = select_hopper(problem, params, device, choice);
  if (hopper_refusal.empty() && choice->prefill == detail::PrefillFamily::kHopper) return Status::ok();
#else
  if (device.major == 9 && device.minor == 0) hopper_refusal = "this build has no Hopper family (ATTNKIT_HOPPER=OFF)";
#endif
  const TileConfig config = tile_row(device, problem.d);
  if (problem.has_block_mask &&
      !supports_block_mask(config.block_m, config.block_n, params.block_mask.block_q, params.block_mask.block_k)) {
    return not_supported("block_mask block sizes " + std::to_string(params.block_mask.block_q) + "x" +
                         std::to_string(params.block_mask.block_k) + ": the CUDA kernel's " +
                         std::to_string(config.block_m) + "x" + std::to_string(config.block_n) +
                         " tiles (head dim " + std::to_string(problem.d) +
                         ") need block_q a multiple of " + std::to_string(config.block_m) +
                         " and block_k a multiple of " + std::to_string(config.block_n) + " (64 and 128 work)");
  }

  int smem = 0;
  Status status = switch_instance(problem.dtype, problem.d, problem.kv_fp8, [&](auto head_dim, auto is_bf16, auto kv_fp8) -> Status {
      constexpr int kD = decltype(head_dim)::value;
      constexpr bool kBf16 = decltype(is_bf16)::value;
      constexpr bool kFp8 = decltype(kv_fp8)::value;
      cudaFuncAttributes attributes{};
      const cudaError_t e = fwd_kernel_attributes<kD, kBf16, kFp8>(&attributes);
      if (e != cudaSuccess) {
        return not_supported("no forward kernel image for " + sm_name(device) + " (" + cudaGetErrorString(e) +
                             "): rebuild attnkit with CMAKE_CUDA_ARCHITECTURES including " +
                             std::to_string(device.major) + std::to_string(device.minor));
      }
      smem = fwd_smem_bytes<kD, kBf16, kFp8>();
      return Status::ok();
  });
  if (!status) return status;
  if (smem > device.smem_optin) {
    return not_supported("head dim " + std::to_string(problem.d) + " needs " + std::to_string(smem) +
                         " bytes of shared memory per block; device " + std::to_string(device.ordinal) + " allows " +
                         std::to_string(device.smem_optin));
  }

  *choice = detail::KernelChoice{};
  choice->backend = detail::Backend::kCuda;
  choice->family = detail::KernelFamily::kPrefill;
  choice->kernel = std::string("fwd_sm80<") + dtype_tag(problem.dtype) + ",d" + std::to_string(problem.d) +
                   (problem.kv_fp8 ? std::string(",kv=") + dtype_name(problem.kv_dtype) : std::string()) + ">";
  choice->head_dim = static_cast<int>(problem.d);
  choice->dtype = problem.dtype;
  choice->tile_q = config.block_m;
  choice->tile_k = config.block_n;
  choice->num_warps = config.warps;
  choice->smem_bytes = smem;
  choice->device = device;
  detail::size_grid(problem, choice);
  choice->why = "FlashAttention-2 style mma.sync kernel (sm_80 family) on " + sm_name(device) + " with " +
                std::to_string(device.sms) + " SMs: " + std::to_string(config.block_m) + " query rows x " +
                std::to_string(config.block_n) + " keys per step, " + std::to_string(config.warps) + " warps, " +
                std::to_string(smem / 1024) + " KB shared memory";
  if (problem.kv_fp8) {
    choice->why += std::string("; ") + dtype_name(problem.kv_dtype) +
                   " K / V staged raw (half the bytes) and converted exactly to 16-bit in shared memory, scales "
                   "folded into the logits and the output";
  }
  if (problem.has_block_mask) {
    choice->why += "; block mask " + std::to_string(params.block_mask.block_q) + "x" +
                   std::to_string(params.block_mask.block_k) + " walked as " +
                   std::to_string(params.block_mask.block_k / config.block_n) + " kv tile(s) per listed block";
  }
  if (!hopper_refusal.empty()) choice->why += "; not the Hopper family: " + hopper_refusal;
  return Status::ok();
}

Status run_forward(const detail::Problem& problem, const AttentionParams& params, const detail::KernelChoice& choice) {
  return run_forward_params(problem, params, build_fwd_params(problem, params), choice);
}

Status run_forward_params(const detail::Problem& problem, const AttentionParams& params, const FwdParams& p,
                          const detail::KernelChoice& choice) {
  if (choice.backend != detail::Backend::kCuda || choice.family != detail::KernelFamily::kPrefill ||
      choice.head_dim != problem.d || choice.dtype != problem.dtype) {
    return Status(StatusCode::kInternal,
                  "cuda_backend::run_forward called with a kernel choice other than the CUDA prefill kernel for this call");
  }
  if (problem.batch == 0 || problem.hq == 0 || problem.max_sq == 0) return Status::ok();  // nothing to write
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  if (choice.prefill == detail::PrefillFamily::kHopper) {
#if defined(ATTNKIT_WITH_HOPPER)
    return run_hopper(problem, params, p, choice, stream);
#else
    return Status(StatusCode::kInternal, "a Hopper kernel choice in a build without the Hopper family");
#endif
  }
  return switch_instance(choice.dtype, choice.head_dim, p.kv_fp8, [&](auto head_dim, auto is_bf16, auto kv_fp8) {
    return launch_fwd<decltype(head_dim)::value, decltype(is_bf16)::value, decltype(kv_fp8)::value>(
        p, static_cast<int>(choice.grid_m), stream);
  });
}

}  // namespace attnkit::cuda_backend
