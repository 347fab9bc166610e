// Argument blocks, thread counts and shared memory layouts of the planner kernels (SPEC 8):
// what sparsed_plan.cu / rectified_plan.cu fill in, planner_kernel_launch.hpp passes on and
// sparsed_kernels.cuh / rectified_kernels.cuh read. Plain C++, shared with the CPU
// emulation (tests/emulation).
#pragma once

#include <cstddef>
#include <cstdint>

#include "cuda/core/block_scan.cuh"

namespace attnkit::cuda_backend {

// ---- SparseD (sparsed_kernels.cuh) ------------------------------------------------------
inline constexpr int kSelectThreads = 256;

struct SelectArgs {
  const float* mass_full;  // [B, Hq, nqb, nkb]
  const float* mass_gen;   // same, keys >= g only (nullptr without g)
  int bs, nqb, nkb;        // nqb / nkb of the longest sequence
  int gen_start;           // g, or -1
  double rho;              // the decimal value of options.rho
  int32_t* count;          // [B, Hq, NQB]
  int64_t count_stride[3];
  int32_t* index;          // [B, Hq, NQB, NKB]
  int64_t index_stride[4];
  int index_width;
};

/// Shared memory of one select CTA: the block scan's scratch, followed by (nkb) scores as
/// double and (nkb) flags as bytes.
struct SelectSmem {
  cuda_core::BlockScanScratch<kSelectThreads> scan;
};
static_assert(sizeof(SelectSmem) % alignof(double) == 0, "the scores after it stay aligned");

/// \brief Dynamic shared memory of the select kernel for `nkb` key blocks.
inline size_t sparsed_select_smem_bytes(int64_t nkb) {
  return sizeof(SelectSmem) + static_cast<size_t>(nkb) * (sizeof(double) + 1);
}

// ---- Rectified SpaAttn (rectified_kernels.cuh) ------------------------------------------
inline constexpr int kPoolThreads = 128;
inline constexpr int kPlanThreads = 256;

struct Pooled {
  float* qbar;  // [B, Hq, NB, D]
  float* dq;
  float* kbar;
  float* dk;
  float* vbar;  // [B, Hq, NB, Dv]
};

struct PlanArgs {
  Pooled pooled;
  int d, dv, sv, st, bn, nb, nqb;
  double scale;
  int top_k;
  double tau;
  bool gapr;
  const uint8_t* maybe_forced;  // [Bm, Hm, NB, NB]
  int64_t forced_stride[4];
  int forced_batch, forced_group;
  int32_t* count;
  int64_t count_stride[3];
  int32_t* index;
  int64_t index_stride[4];
  int index_width;
  float* r;
  int64_t r_stride[3];
  float* c;
  int64_t c_stride[4];
};

/// Shared memory of one plan CTA: the two block-wide scalars, followed by phat (NB + 1)
/// and the text scores (St) as double, rank and order (NB + 1) as int, in_m and in_r (NB)
/// as bytes.
struct PlanSmem {
  double max_score;  // the softmax's max over vision blocks and text tokens
  int n_sel;         // blocks selected by top-k / tau
};
static_assert(sizeof(PlanSmem) % alignof(double) == 0, "the doubles after it stay aligned");

/// \brief Dynamic shared memory of the plan kernel for `nb` vision blocks and `st` text tokens.
inline size_t plan_smem_bytes(int64_t nb, int64_t st) {
  return sizeof(PlanSmem) + static_cast<size_t>(nb + 1 + st) * sizeof(double) +
         static_cast<size_t>(nb + 1) * 2 * sizeof(int) + static_cast<size_t>(nb) * 2;
}

}  // namespace attnkit::cuda_backend
