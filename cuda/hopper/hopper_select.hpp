// The Hopper family's part of select_kernel and run_forward (cuda/attention/launch.cu): which
// calls it takes on an sm_90 device, and the launch through its TMA maps. Everything it
// refuses runs on the mma.sync family, and explain() says why.
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>
#include <string>
#include <type_traits>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "common/kernel_choice.hpp"
#include "common/problem.hpp"
#include "cuda/attention/launch_common.hpp"
#include "cuda/hopper/hopper_launch.hpp"
#include "cuda/hopper/hopper_maps.hpp"
#include "cuda/hopper/hopper_traits.cuh"
#include "cuda/variant/key_tiles.cuh"

namespace attnkit::cuda_backend {

/// \brief Runtime (dtype, head dim, keys per stage) -> the instance's template arguments,
/// fn(head_dim, is_bf16, block_n) as integral constants; a combination without a tile table
/// row is kInternal (select_hopper never picks one).
template <class Fn>
Status switch_hopper_instance(DType dtype, int64_t head_dim, int block_n, Fn&& fn) {
  return switch_dtype(dtype, "Hopper kernel", [&](auto is_bf16) {
    return switch_head_dim(head_dim, "Hopper kernel", [&](auto d) -> Status {
      constexpr int kD = decltype(d)::value;
      if (block_n == 64 && hopper_tile_config(kD, 64).head_dim == kD) {
        return fn(d, is_bf16, std::integral_constant<int, 64>{});
      }
      if constexpr (hopper_tile_config(kD, 128).head_dim == kD) {
        if (block_n == 128) return fn(d, is_bf16, std::integral_constant<int, 128>{});
      }
      return Status(StatusCode::kInternal, "no Hopper instance with " + std::to_string(block_n) + "-key stages at head dim " +
                                               std::to_string(kD));
    });
  });
}

/// \brief The tile row for this call: the head dim's preferred row, or another row of the head
/// dim when the call's block mask has blocks the preferred one cannot walk; head_dim 0: none.
inline HopperTileConfig hopper_row_for(const detail::Problem& problem, const AttentionParams& params) {
  const int d = static_cast<int>(problem.d);
  const HopperTileConfig preferred = hopper_tile_config(d);
  auto walks = [&](const HopperTileConfig& c) {
    return !problem.has_block_mask ||
           supports_block_mask(64, c.block_n, params.block_mask.block_q, params.block_mask.block_k);
  };
  if (preferred.head_dim == 0 || walks(preferred)) return preferred;
  for (const HopperTileConfig& c : kHopperTileTable) {
    if (c.head_dim == d && walks(c)) return c;
  }
  return preferred;  // none can: the caller says why
}

/// \brief Fills *choice with the Hopper family for this call and returns "", or returns why
/// the family does not take it (the caller falls back to the mma.sync family).
inline std::string select_hopper(const detail::Problem& problem, const AttentionParams& params,
                                 const detail::DeviceInfo& device, detail::KernelChoice* choice) {
  if (device.major != 9 || device.minor != 0) return "";  // not an sm_90 device: nothing to say
  if (const char* family = std::getenv("ATTNKIT_PREFILL_FAMILY"); family != nullptr && std::string(family) == "mma_sync") {
    return "ATTNKIT_PREFILL_FAMILY=mma_sync";
  }
  const HopperTileConfig config = hopper_row_for(problem, params);
  if (config.head_dim == 0) return "head dim " + std::to_string(problem.d) + " has no Hopper tile row";
  if (problem.kv_fp8) return "FP8 K / V caches run on the mma.sync family";
  if (problem.has_block_mask && !supports_block_mask(64, config.block_n, params.block_mask.block_q,
                                                     params.block_mask.block_k)) {
    return "block mask " + std::to_string(params.block_mask.block_q) + "x" + std::to_string(params.block_mask.block_k) +
           ": the Hopper tiles (64 rows per warpgroup x " + std::to_string(config.block_n) +
           " keys or fewer) need block_q a multiple of 64 and block_k a multiple of 64";
  }
  if (std::string why = hopper_maps_unsupported(problem, params, config.block_m, config.block_n); !why.empty()) {
    return "TMA cannot describe " + why;
  }
  int smem = 0;
  cudaError_t image = cudaSuccess;
  Status s = switch_hopper_instance(problem.dtype, problem.d, config.block_n, [&](auto d, auto is_bf16, auto n) {
    constexpr int kD = decltype(d)::value;
    constexpr bool kBf16 = decltype(is_bf16)::value;
    constexpr int kN = decltype(n)::value;
    cudaFuncAttributes attributes{};
    image = hopper_kernel_attributes<kD, kBf16, kN>(&attributes);
    smem = hopper_smem_bytes<kD, kBf16, kN>();
    return Status::ok();
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
  choice->kernel = std::string("fwd_sm90<") + dtype_tag(problem.dtype) + ",d" + std::to_string(problem.d) +
                   (config.preferred ? std::string() : ",n" + std::to_string(config.block_n)) + ">";
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
inline Status run_hopper(const detail::Problem& problem, const AttentionParams& params, const FwdParams& p,
                         const detail::KernelChoice& choice, cudaStream_t stream) {
  HopperFwdParams hp;
  if (std::string why = make_hopper_params(problem, params, p, choice.tile_q, choice.tile_k, &hp); !why.empty()) {
    return Status(StatusCode::kInvalidArgument, "the Hopper kernel cannot run this call: " + why);
  }
  return switch_hopper_instance(choice.dtype, choice.head_dim, choice.tile_k, [&](auto d, auto is_bf16, auto n) {
    return launch_hopper<decltype(d)::value, decltype(is_bf16)::value, decltype(n)::value>(
        hp, static_cast<int>(choice.grid_m), stream);
  });
}

}  // namespace attnkit::cuda_backend
