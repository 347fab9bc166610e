// SparseD's selection kernel (SPEC 8): one CTA per (b, h, query block) ranks the key
// blocks by blockmean (ties: lower kb), keeps the `keep` largest, with a generation start
// replaces the choice in the generation region by the restricted pass's, and writes the
// mask row ascending, -1 after. Launched by planner_kernel_launch.cu.
#pragma once

#include "cuda/variant/block_info.cuh"
#include "cuda/core/block_scan.cuh"
#include "cuda/planners/planner_params.hpp"
#include "cuda/stats/stats_device.cuh"

namespace attnkit::cuda_backend {

/// Blocks kept of `n` (SPEC 8; product in double as SparseD's Python code).
__device__ inline int keep_count(int n, double rho, bool at_least_one) {
  const int k = static_cast<int>(floor(static_cast<double>(n) * rho)) + 1;
  const int lower = at_least_one ? max(1, k) : k;
  return min(n, lower);
}

/// Marks flag[first + e] for the `keep` largest score[e], e < n (ties: lower e), by rank.
__device__ inline void mark_top(const double* score, int n, int keep, int first, int limit, uint8_t* flag) {
  for (int e = threadIdx.x; e < n; e += kSelectThreads) {
    const double s = score[e];
    int rank = 0;
    for (int o = 0; o < n; ++o) rank += (score[o] > s || (score[o] == s && o < e)) ? 1 : 0;
    if (rank < keep && first + e < limit) flag[first + e] = 1;
  }
}

/// Grid (NQB, Hq, B).
__global__ void __launch_bounds__(kSelectThreads) sparsed_select_kernel(const FwdParams p, const SelectArgs a) {
  SelectSmem& s = *reinterpret_cast<SelectSmem*>(stats_shared_memory());
  double* s_score = reinterpret_cast<double*>(&s + 1);            // (nkb)
  uint8_t* s_flag = reinterpret_cast<uint8_t*>(s_score + a.nkb);  // (nkb)
  const int qb = blockIdx.x, h = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
  const BlockInfo info(p, b);
  int32_t* row = a.index + b * a.index_stride[0] + h * a.index_stride[1] + qb * a.index_stride[2];
  const int nqb_b = (info.seqlen_q + a.bs - 1) / a.bs, nkb_b = (info.seqlen_k + a.bs - 1) / a.bs;
  const int n_rows = min(a.bs, info.seqlen_q - qb * a.bs);
  const int64_t base = ((static_cast<int64_t>(b) * p.hq + h) * a.nqb + qb) * a.nkb;
  auto blockmean = [&](const float* mass, int kb) {
    const int keys = min(a.bs, info.seqlen_k - kb * a.bs);
    return static_cast<double>(mass[base + kb]) / (static_cast<double>(n_rows) * static_cast<double>(keys));
  };
  int written = 0;
  if (qb < nqb_b) {
    const int gen_block = a.gen_start >= 0 ? a.gen_start / a.bs : nkb_b;
    const int nkb_gen = max(0, nkb_b - gen_block);
    for (int kb = tid; kb < nkb_b; kb += kSelectThreads) {
      s_score[kb] = blockmean(a.mass_full, kb);
      s_flag[kb] = 0;
    }
    __syncthreads();
    // With g, the first choice keeps only its columns before the generation region.
    mark_top(s_score, nkb_b, keep_count(nkb_b, a.rho, true), 0, gen_block, s_flag);
    __syncthreads();
    if (nkb_gen > 0) {
      for (int e = tid; e < nkb_gen; e += kSelectThreads) s_score[e] = blockmean(a.mass_gen, gen_block + e);
      __syncthreads();
      mark_top(s_score, nkb_gen, keep_count(nkb_gen, a.rho, false), gen_block, nkb_b, s_flag);
      __syncthreads();
    }
    for (int base_kb = 0; base_kb < nkb_b; base_kb += kSelectThreads) {
      const int kb = base_kb + tid;
      const int keep = kb < nkb_b && s_flag[kb] ? 1 : 0;
      int total = 0;
      const int pos = cuda_core::block_exclusive_sum(s.scan, keep, &total);
      if (keep) row[(written + pos) * a.index_stride[3]] = kb;
      written += total;
    }
  }
  for (int e = written + tid; e < a.index_width; e += kSelectThreads) row[e * a.index_stride[3]] = -1;
  if (tid == 0) a.count[b * a.count_stride[0] + h * a.count_stride[1] + qb * a.count_stride[2]] = written;
}

}  // namespace attnkit::cuda_backend
