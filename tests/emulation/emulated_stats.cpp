// Compiles the statistics, ACT and planner kernels (cuda/stats/*_kernels.cuh,
// cuda/planners/*_kernels.cuh) and their host logic (stats_pass.cu, stats_outputs.cu,
// act.cu, sparsed_plan.cu, rectified_plan.cu) with the host compiler. The CUDA runtime
// calls of the host logic go to emu_cuda_api.hpp; the launch functions of
// stats_kernel_launch.hpp and planner_kernel_launch.hpp, which hold the <<<>>> launches,
// are defined here on top of attnkit_emu::run_grid. Nothing under cuda/ is edited.
#include "emulated_stats.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "emu_runtime.hpp"
#include "emulated_forward.hpp"
#include "common/problem.hpp"
#include "host/validate.hpp"

// The device-only spellings the host headers of CUDA leave undefined for g++.
#define __launch_bounds__(...)
#define __expf(x) expf(x)  // the intrinsic's approximation error is not emulated (gate sigmoid)
using std::max;            // the kernels' unqualified min / max on int
using std::min;

// Own namespace, as in emulated_forward.cpp: never collides with the real (GPU) code.
#define cuda_backend cuda_backend_emu
#include "emu_cuda_api.hpp"  // after cuda_runtime.h, before the host logic
#include "cuda/planners/rectified_kernels.cuh"
#include "cuda/planners/sparsed_kernels.cuh"
#include "cuda/stats/act_kernels.cuh"
#include "cuda/stats/stats_kernels.cuh"
#include "cuda/stats/stats_output_kernels.cuh"
#include "cuda/stats/stats_pass.cu"
#include "cuda/stats/stats_outputs.cu"
#include "cuda/stats/act.cu"
#include "cuda/planners/sparsed_plan.cu"
#include "cuda/planners/rectified_plan.cu"

namespace attnkit::cuda_backend {

// What stats_shared_memory() declares as `extern __shared__ unsigned char stats_smem[]`:
// room for the statistics passes at head dim 256 (84 KB) and the planners' small rows.
constexpr size_t kStatsSharedCapacity = 96 * 1024;
alignas(128) unsigned char stats_smem[kStatsSharedCapacity];

namespace {

/// \brief Runs `body` as every thread of `grid` x `threads`, with `smem` bytes of stats_smem.
template <class Body>
Status emulate(const char* kernel, dim3 grid, int threads, size_t smem, Body&& body) {
  attnkit_emu::set_shared_memory(stats_smem, sizeof(stats_smem));
  attnkit_emu::LaunchConfig config;
  config.grid = grid;
  config.threads = threads;
  config.smem_bytes = smem;
  const std::string error = attnkit_emu::run_grid(config, body);
  if (!error.empty()) return Status(StatusCode::kInternal, std::string("emulated ") + kernel + ": " + error);
  return Status::ok();
}

}  // namespace

// ---- stats_kernel_launch.hpp --------------------------------------------------------------

Status launch_lse_kernel(const LaunchShape& shape, bool is_bf16, const FwdParams& p, int d, int restrict_from,
                         cudaStream_t) {
  return emulate("lse_kernel", shape.grid, kStatsThreads, shape.smem_bytes, [&] {
    is_bf16 ? lse_kernel<true>(p, d, restrict_from) : lse_kernel<false>(p, d, restrict_from);
  });
}

Status launch_stats_kernel(const LaunchShape& shape, bool is_bf16, const FwdParams& p, const StatsArgs& a,
                           cudaStream_t) {
  return emulate("stats_kernel", shape.grid, kStatsThreads, shape.smem_bytes,
                 [&] { is_bf16 ? stats_kernel<true>(p, a) : stats_kernel<false>(p, a); });
}

Status launch_write_columns_kernel(dim3 grid, const FwdParams& p, const ColumnArgs& a, cudaStream_t) {
  return emulate("write_columns_kernel", grid, kOutputThreads, 0, [&] { write_columns_kernel(p, a); });
}

Status launch_write_blocks_kernel(dim3 grid, const FwdParams& p, const BlockArgs& a, cudaStream_t) {
  return emulate("write_blocks_kernel", grid, kOutputThreads, 0, [&] { write_blocks_kernel(p, a); });
}

Status launch_detect_kernel(dim3 grid, const FwdParams& p, const DetectArgs& a, cudaStream_t) {
  return emulate("detect_kernel", grid, kDetectThreads, sizeof(DetectSmem), [&] { detect_kernel(p, a); });
}

Status launch_calibrate_kernel(dim3 grid, bool is_bf16, const FwdParams& p, const CalibrateArgs& a, cudaStream_t) {
  return emulate("calibrate_kernel", grid, kCalibrateWarps * 32, 0,
                 [&] { is_bf16 ? calibrate_kernel<true>(p, a) : calibrate_kernel<false>(p, a); });
}

Status launch_forward_call(const AttentionParams& params) { return attnkit_emu::emulated_forward(params); }

// ---- planner_kernel_launch.hpp ------------------------------------------------------------

Status launch_sparsed_select_kernel(const LaunchShape& shape, const FwdParams& p, const SelectArgs& a, cudaStream_t) {
  return emulate("sparsed_select_kernel", shape.grid, kSelectThreads, shape.smem_bytes,
                 [&] { sparsed_select_kernel(p, a); });
}

Status launch_pool_kernel(dim3 grid, bool is_bf16, const FwdParams& p, const PlanArgs& a, cudaStream_t) {
  return emulate("pool_kernel", grid, kPoolThreads, 0, [&] {
    is_bf16 ? pool_kernel<true>(p, a.pooled, a.d, a.dv, a.sv, a.bn, a.nb)
            : pool_kernel<false>(p, a.pooled, a.d, a.dv, a.sv, a.bn, a.nb);
  });
}

Status launch_plan_kernel(const LaunchShape& shape, bool is_bf16, const FwdParams& p, const PlanArgs& a,
                          cudaStream_t) {
  return emulate("plan_kernel", shape.grid, kPlanThreads, shape.smem_bytes,
                 [&] { is_bf16 ? plan_kernel<true>(p, a) : plan_kernel<false>(p, a); });
}

}  // namespace attnkit::cuda_backend

namespace attnkit_emu {
namespace {

using attnkit::detail::CallKind;
namespace backend = attnkit::cuda_backend;

template <class Fn>
attnkit::Status validated(const attnkit::AttentionParams& params, CallKind kind, Fn&& fn) {
  attnkit::detail::Problem problem;
  if (attnkit::Status s = attnkit::detail::validate_attention(params, kind, &problem); !s) return s;
  return fn(problem);
}

}  // namespace

attnkit::Status emulated_attention_stats(const attnkit::AttentionParams& params, const attnkit::StatsOutputs& out) {
  return validated(params, CallKind::kStats,
                   [&](const auto& pr) { return backend::attention_stats_device(pr, params, out); });
}

attnkit::Status emulated_act_detect(const attnkit::AttentionParams& params, const attnkit::ActOptions& options,
                                    const attnkit::SinkSets& out) {
  return validated(params, CallKind::kStats,
                   [&](const auto& pr) { return backend::act_detect_device(pr, params, options, out); });
}

attnkit::Status emulated_act_forward(const attnkit::AttentionParams& params, const attnkit::ActOptions& options,
                                     const attnkit::SinkSets* detected, const attnkit::SinkSets* given_sets) {
  return validated(params, CallKind::kForward, [&](const auto& pr) {
    return backend::act_forward_device(pr, params, options, given_sets != nullptr ? nullptr : detected, given_sets);
  });
}

attnkit::Status emulated_sparsed_plan(const attnkit::AttentionParams& params, const attnkit::SparseDOptions& options,
                                      const attnkit::BlockMask& out) {
  return validated(params, CallKind::kPlanner,
                   [&](const auto& pr) { return backend::sparsed_plan_device(pr, params, options, out); });
}

attnkit::Status emulated_rectified_plan(const attnkit::AttentionParams& params, const attnkit::RectifiedOptions& options,
                                        const attnkit::RectifiedPlan& out) {
  return validated(params, CallKind::kPlanner,
                   [&](const auto& pr) { return backend::rectified_plan_device(pr, params, options, out); });
}

attnkit::Status emulated_rectified_attention(const attnkit::AttentionParams& params,
                                             const attnkit::RectifiedOptions& options,
                                             const attnkit::RectifiedPlan& workspace) {
  return validated(params, CallKind::kForward, [&](const auto& pr) {
    return backend::rectified_attention_device(pr, params, options, workspace);
  });
}

}  // namespace attnkit_emu

#undef cuda_backend
