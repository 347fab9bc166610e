// SparseD on the GPU (SPEC 8): importance = blockmean of the statistics pass, the `keep`
// largest per row (ties: lower kb), and with a generation start g a second statistics
// pass restricted to keys >= g whose generation blocks replace the first choice there.
// The mask is written directly on the device, rows ascending, unused entries -1.
#include <cuda_runtime.h>

#include <cub/block/block_scan.cuh>

#include "cuda/attention/block_info.cuh"
#include "cuda/planners/planners_launch.hpp"
#include "cuda/stats/stats_pass.hpp"
#include "host/planners/sparsed.hpp"

namespace attnkit::cuda_backend {
namespace {

constexpr int kThreads = 256;

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

/// Blocks kept of `n` (SPEC 8; product in double as SparseD's Python code).
__device__ int keep_count(int n, double rho, bool at_least_one) {
  const int k = static_cast<int>(floor(static_cast<double>(n) * rho)) + 1;
  const int lower = at_least_one ? max(1, k) : k;
  return min(n, lower);
}

/// Marks flag[first + e] for the `keep` largest score[e], e < n (ties: lower e), by rank.
__device__ void mark_top(const double* score, int n, int keep, int first, int limit, uint8_t* flag) {
  for (int e = threadIdx.x; e < n; e += kThreads) {
    const double s = score[e];
    int rank = 0;
    for (int o = 0; o < n; ++o) rank += (score[o] > s || (score[o] == s && o < e)) ? 1 : 0;
    if (rank < keep && first + e < limit) flag[first + e] = 1;
  }
}

/// Grid (NQB, Hq, B).
__global__ void __launch_bounds__(kThreads) sparsed_select_kernel(const FwdParams p, const SelectArgs a) {
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage scan;
  extern __shared__ double s_score[];  // (nkb) doubles, then (nkb) flags
  uint8_t* s_flag = reinterpret_cast<uint8_t*>(s_score + a.nkb);
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
    for (int kb = tid; kb < nkb_b; kb += kThreads) {
      s_score[kb] = blockmean(a.mass_full, kb);
      s_flag[kb] = 0;
    }
    __syncthreads();
    // With g, the first choice keeps only its columns before the generation region.
    mark_top(s_score, nkb_b, keep_count(nkb_b, a.rho, true), 0, gen_block, s_flag);
    __syncthreads();
    if (nkb_gen > 0) {
      for (int e = tid; e < nkb_gen; e += kThreads) s_score[e] = blockmean(a.mass_gen, gen_block + e);
      __syncthreads();
      mark_top(s_score, nkb_gen, keep_count(nkb_gen, a.rho, false), gen_block, nkb_b, s_flag);
      __syncthreads();
    }
    for (int base_kb = 0; base_kb < nkb_b; base_kb += kThreads) {
      const int kb = base_kb + tid;
      const int keep = kb < nkb_b && s_flag[kb] ? 1 : 0;
      int pos = 0, total = 0;
      Scan(scan).ExclusiveSum(keep, pos, total);
      __syncthreads();
      if (keep) row[(written + pos) * a.index_stride[3]] = kb;
      written += total;
    }
  }
  for (int e = written + tid; e < a.index_width; e += kThreads) row[e * a.index_stride[3]] = -1;
  if (tid == 0) a.count[b * a.count_stride[0] + h * a.count_stride[1] + qb * a.count_stride[2]] = written;
}

}  // namespace

Status sparsed_plan_device(const detail::Problem& pr, const AttentionParams& params, const SparseDOptions& options,
                           const BlockMask& out) {
  if (Status s = check_stats_support(pr, params); !s) return s;
  const int64_t bs = options.block_size;
  const int64_t nqb = (pr.max_sq + bs - 1) / bs, nkb = (pr.max_sk + bs - 1) / bs;
  const size_t smem = static_cast<size_t>(nkb) * (sizeof(double) + 1);
  int device = 0, smem_optin = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (err != cudaSuccess) return stats_cuda_error("cudaDeviceGetAttribute", err);
  if (smem + 1024 > static_cast<size_t>(smem_optin)) {
    return Status(StatusCode::kNotSupported, "sparsed_plan: " + std::to_string(nkb) +
                                                 " key blocks per row exceed the CUDA planner's shared memory");
  }
  if (pr.batch == 0 || pr.hq == 0 || nqb == 0) return Status::ok();
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  FwdParams p = make_stats_params(pr, params);
  const int64_t g = options.generation_start;
  const size_t mass_bytes = sizeof(float) * pr.batch * pr.hq * nqb * nkb;
  DeviceScratch lse(stream), mass_full(stream), mass_gen(stream);
  if (Status s = lse.allocate(sizeof(float) * scratch_lse_elements(pr), false, "LSE"); !s) return s;
  if (Status s = mass_full.allocate(mass_bytes, true, "block masses"); !s) return s;
  if (g >= 0) {
    if (Status s = mass_gen.allocate(mass_bytes, true, "generation block masses"); !s) return s;
  }
  set_scratch_lse(pr, lse.as<float>(), &p);
  StatsPass pass;
  pass.block_q = static_cast<int>(bs);
  pass.block_k = static_cast<int>(bs);
  pass.block_mass = mass_full.as<float>();
  if (Status s = run_lse_pass(pr, p, 0, stream); !s) return s;
  if (Status s = run_stats_pass(pr, p, pass, stream); !s) return s;
  if (g >= 0) {  // the softmax restricted to the generation keys j >= g
    pass.restrict_from = g;
    pass.block_mass = mass_gen.as<float>();
    if (Status s = run_lse_pass(pr, p, g, stream); !s) return s;
    if (Status s = run_stats_pass(pr, p, pass, stream); !s) return s;
  }

  SelectArgs a{};
  a.mass_full = mass_full.as<float>();
  a.mass_gen = g >= 0 ? mass_gen.as<float>() : nullptr;
  a.bs = static_cast<int>(bs);
  a.nqb = static_cast<int>(nqb);
  a.nkb = static_cast<int>(nkb);
  a.gen_start = static_cast<int>(g);
  a.rho = planners::decimal_value(options.rho);
  a.count = static_cast<int32_t*>(out.kv_count.data);
  for (int d = 0; d < 3; ++d) a.count_stride[d] = out.kv_count.stride[d];
  a.index = static_cast<int32_t*>(out.kv_index.data);
  for (int d = 0; d < 4; ++d) a.index_stride[d] = out.kv_index.stride[d];
  a.index_width = static_cast<int>(out.kv_index.shape[3]);
  if ((err = cudaFuncSetAttribute(sparsed_select_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                  static_cast<int>(smem))) != cudaSuccess) {
    return stats_cuda_error("cudaFuncSetAttribute (sparsed_select_kernel)", err);
  }
  sparsed_select_kernel<<<dim3(static_cast<unsigned>(nqb), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch)),
                          kThreads, smem, stream>>>(p, a);
  return check_launch("sparsed_select_kernel");
}

}  // namespace attnkit::cuda_backend
