// When a call fits a plan (plan / run, include/attnkit/attention.hpp), and the choice that
// runs it: header-only, shared by host/plan.cpp and the CPU emulation of the kernels.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"
#include "common/kernel_choice.hpp"
#include "common/problem.hpp"

namespace attnkit::detail {

/// What a plan was made for: the options that decided its kernel, and the largest shape
/// its workspace and split count were sized for.
struct PlanShape {
  DeviceKind device = DeviceKind::kHost;
  DType dtype = DType::kFloat32;
  DType kv_dtype = DType::kFloat32;  // an FP8 cache needs its own kernel instance
  int64_t d = 0, dv = 0, hq = 0, hkv = 0;
  bool varlen = false;
  bool paged = false;
  int64_t page_size = 0;
  bool has_block_mask = false;
  int block_q = 0, block_k = 0;
  int64_t batch = 0, max_sq = 0, max_sk = 0;
};

inline PlanShape plan_shape(const Problem& pr, const AttentionParams& p) {
  PlanShape s;
  s.device = pr.device;
  s.dtype = pr.dtype;
  s.kv_dtype = pr.kv_dtype;
  s.d = pr.d;
  s.dv = pr.dv;
  s.hq = pr.hq;
  s.hkv = pr.hkv;
  s.varlen = pr.varlen;
  s.paged = pr.paged;
  s.page_size = pr.page_size;
  s.has_block_mask = pr.has_block_mask;
  s.block_q = pr.has_block_mask ? p.block_mask.block_q : 0;
  s.block_k = pr.has_block_mask ? p.block_mask.block_k : 0;
  s.batch = pr.batch;
  s.max_sq = pr.max_sq;
  s.max_sk = pr.max_sk;
  return s;
}

/// \brief Checks that `call` fits the plan (same kernel-deciding options, no dimension above
/// the planned one) and writes the choice that runs it: the plan's kernel, tile row and
/// split count, with the grid recomputed for the call's shape (host arithmetic only).
inline Status fit_plan(const PlanShape& planned, const KernelChoice& plan_choice, const Problem& call,
                       const AttentionParams& p, KernelChoice* out) {
  const PlanShape c = plan_shape(call, p);
  auto refuse = [](const std::string& what) {
    return Status(StatusCode::kInvalidArgument,
                  "params: the call does not fit its plan: " + what + " (make the plan for the largest call it serves)");
  };
  auto same = [&](int64_t got, int64_t want, const char* name) -> Status {
    if (got == want) return Status::ok();
    return refuse(std::string(name) + " = " + std::to_string(got) + ", planned " + std::to_string(want));
  };
  auto at_most = [&](int64_t got, int64_t bound, const char* name) -> Status {
    if (got <= bound) return Status::ok();
    return refuse(std::string(name) + " = " + std::to_string(got) + " > " + std::to_string(bound) + " planned");
  };
  if (c.device != planned.device) return refuse("q lives on another side (host / CUDA) than planned");
  if (c.dtype != planned.dtype) {
    return refuse(std::string("dtype ") + dtype_name(c.dtype) + ", planned " + dtype_name(planned.dtype));
  }
  if (c.kv_dtype != planned.kv_dtype) {
    return refuse(std::string("K/V dtype ") + dtype_name(c.kv_dtype) + ", planned " + dtype_name(planned.kv_dtype));
  }
  for (Status s : {same(c.d, planned.d, "D"), same(c.dv, planned.dv, "Dv"), same(c.hq, planned.hq, "Hq"),
                   same(c.hkv, planned.hkv, "Hkv"), same(c.varlen, planned.varlen, "varlen"),
                   same(c.paged, planned.paged, "paged_kv"), same(c.page_size, planned.page_size, "page_size"),
                   same(c.has_block_mask, planned.has_block_mask, "block_mask present"),
                   same(c.block_q, planned.block_q, "block_mask.block_q"),
                   same(c.block_k, planned.block_k, "block_mask.block_k"), at_most(c.batch, planned.batch, "batch"),
                   at_most(c.max_sq, planned.max_sq, "max Sq"), at_most(c.max_sk, planned.max_sk, "max Sk")}) {
    if (!s) return s;
  }
  *out = plan_choice;
  size_grid(call, out);
  return Status::ok();
}

/// \brief attnkit::run's steps after validation (`call` is the validated call): fit the plan,
/// check the caller's workspace, then `launch(call, params, choice, workspace)` -- the
/// library's run_kernel, or the emulated launchers in tests/emulation.
template <class Launch>
Status run_planned(const PlanShape& planned, const KernelChoice& plan_choice, size_t plan_workspace,
                   const Problem& call, const AttentionParams& params, void* workspace, size_t workspace_size,
                   Launch&& launch) {
  KernelChoice choice;
  if (Status s = fit_plan(planned, plan_choice, call, params, &choice); !s) return s;
  const size_t need = workspace_bytes(call, choice);
  if (need > 0 && (workspace == nullptr || workspace_size < need)) {
    return Status(StatusCode::kInvalidArgument,
                  "workspace_bytes = " + std::to_string(workspace == nullptr ? 0 : workspace_size) +
                      ": this call needs at least " + std::to_string(need) +
                      " bytes of device workspace (AttentionPlan::workspace_bytes() = " + std::to_string(plan_workspace) +
                      ")");
  }
  if (need > 0 && reinterpret_cast<uintptr_t>(workspace) % 16 != 0) {
    return Status(StatusCode::kInvalidArgument, "workspace: expected a 16-byte aligned pointer");
  }
  if (call.batch == 0 || call.max_sq == 0) return Status::ok();  // nothing to write
  return launch(call, params, choice, need > 0 ? workspace : nullptr);
}

}  // namespace attnkit::detail
