// The Hopper family's part of select_kernel and run_forward (cuda/attention/launch.cu): which
// calls it takes on an sm_90 device, and the launch through its TMA maps. Everything it
// refuses runs on the mma.sync family, and explain() says why.
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>
#include <string>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "common/kernel_choice.hpp"
#include "common/problem.hpp"
#include "cuda/attention/launch_common.hpp"
#include "cuda/hopper/hopper_launch.hpp"
#include "cuda/hopper/hopper_maps.hpp"
#include "cuda/hopper/hopper_traits.cuh"
#include "cuda/variant/key_tiles.cuh"
#include "cuda/variant/make_fwd_params.hpp"

namespace attnkit::cuda_backend {

/// \brief Fills *choice with the Hopper family for this call and returns "", or returns why
/// the family does not take it (the caller falls back to the mma.sync family).
inline std::string select_hopper(const detail::Problem& problem, const AttentionParams& params,
                                 const detail::DeviceInfo& device, detail::KernelChoice* choice) {
  if (device.major != 9 || device.minor != 0) return "";  // not an sm_90 device: nothing to say
  if (const char* family = std::getenv("ATTNKIT_PREFILL_FAMILY"); family != nullptr && std::string(family) == "mma_sync") {
    return "ATTNKIT_PREFILL_FAMILY=mma_sync";
  }
  const HopperTileConfig config = hopper_tile_config(static_cast<int>(problem.d));
  if (config.head_dim == 0) return "head dim " + std::to_string(problem.d) + " has no Hopper tile row";
  if (problem.kv_fp8) return "FP8 K / V caches run on the mma.sync family";
  if (problem.has_block_mask && !supports_block_mask(64, config.block_n, params.block_mask.block_q,
                                                     params.block_mask.block_k)) {
    return "block mask " + std::to_string(params.block_mask.block_q) + "x" + std::to_string(params.block_mask.block_k) +
           ": the Hopper tiles (64 rows per warpgroup x " + std::to_string(config.block_n) +
           " keys) need block_q a multiple of 64 and block_k a multiple of " + std::to_string(config.block_n);
  }
  const FwdParams p = build_fwd_params(problem, params);
  if (std::string why = hopper_maps_unsupported(problem, p, config.block_m, config.block_n); !why.empty()) {
    return "TMA cannot describe " + why;
  }
  int smem = 0;
  cudaError_t image = cudaSuccess;
  Status s = switch_dtype(problem.dtype, "Hopper kernel", [&](auto is_bf16) {
    return switch_head_dim(problem.d, "Hopper kernel", [&](auto head_dim) {
      constexpr int kD = decltype(head_dim)::value;
      constexpr bool kBf16 = decltype(is_bf16)::value;
      cudaFuncAttributes attributes{};
      image = hopper_kernel_attributes<kD, kBf16>(&attributes);
      smem = hopper_smem_bytes<kD, kBf16>();
      return Status::ok();
    });
  });
  if (!s) return s.message();
  if (image != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky-free error of the failed query
    return std::string("no sm_90a image of the Hopper kernel (") + cudaGetErrorString(image) + ")";
  }
  if (smem > device.smem_optin) {
    return "needs " + std::to_string(smem) + " bytes of shared memory; the device allows " +
           std::to_string(device.smem_optin);
  }
  *choice = detail::KernelChoice{};
  choice->backend = detail::Backend::kCuda;
  choice->family = detail::KernelFamily::kPrefill;
  choice->prefill = detail::PrefillFamily::kHopper;
  choice->kernel = std::string("fwd_sm90<") + dtype_tag(problem.dtype) + ",d" + std::to_string(problem.d) + ">";
  choice->head_dim = static_cast<int>(problem.d);
  choice->dtype = problem.dtype;
  choice->tile_q = config.block_m;
  choice->tile_k = config.block_n;
  choice->num_warps = 12;
  choice->smem_bytes = smem;
  choice->device = device;
  detail::size_grid(problem, choice);
  choice->why = "Hopper warp-specialized kernel (sm_90a family: TMA producer warpgroup, two wgmma consumer "
                "warpgroups) on " + sm_name(device) + " with " + std::to_string(device.sms) + " SMs: " +
                std::to_string(config.block_m) + " query rows x " + std::to_string(config.block_n) +
                " keys per stage, " + std::to_string(config.stages) + " K / V stages, " + std::to_string(smem / 1024) +
                " KB shared memory";
  if (problem.has_block_mask) {
    choice->why += "; block mask " + std::to_string(params.block_mask.block_q) + "x" +
                   std::to_string(params.block_mask.block_k) + " walked per warpgroup, only listed tiles loaded";
  }
  return "";
}

/// \brief Launches a Hopper choice: encodes the TMA maps of this call, then the instance.
inline Status run_hopper(const detail::Problem& problem, const FwdParams& p, const detail::KernelChoice& choice,
                         cudaStream_t stream) {
  HopperFwdParams hp;
  if (std::string why = make_hopper_params(problem, p, choice.tile_q, choice.tile_k, &hp); !why.empty()) {
    return Status(StatusCode::kInvalidArgument, "the Hopper kernel cannot run this call: " + why);
  }
  return switch_dtype(choice.dtype, "Hopper kernel", [&](auto is_bf16) {
    return switch_head_dim(choice.head_dim, "Hopper kernel", [&](auto head_dim) {
      return launch_hopper<decltype(head_dim)::value, decltype(is_bf16)::value>(hp, static_cast<int>(choice.grid_m),
                                                                               stream);
    });
  });
}

}  // namespace attnkit::cuda_backend
