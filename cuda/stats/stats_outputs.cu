// attention_stats on device tensors: LSE pass, statistics pass into contiguous float32
// workspaces, then small kernels that write each requested output through its strides
// (colmean = colsum / colcount, blockmean with the actual tail sizes, zeros for entries of
// no sequence) exactly as host/reference/stats.cpp defines them.
#include <cuda_runtime.h>

#include "cuda/attention/block_info.cuh"
#include "cuda/stats/stats_launch.hpp"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {
namespace {

constexpr int kThreads = 256;

/// One optional strided output: batched [B, Hq, X] / varlen [Hq, total] or [B, Hq, NQB, NKB].
struct OutView {
  void* maybe_data = nullptr;
  int64_t stride[4] = {0, 0, 0, 0};
};

OutView out_view(const TensorView& t) {
  OutView v;
  if (!t.present()) return v;
  v.maybe_data = t.data;
  for (int d = 0; d < t.rank && d < 4; ++d) v.stride[d] = t.stride[d];
  return v;
}

struct ColumnArgs {
  OutView sum, count, mean;
  const float* ws_sum;
  const int32_t* ws_count;
  int max_sk;
  int64_t total_k;  // varlen rows of K
  bool varlen;
};

__device__ __forceinline__ void store_column(const ColumnArgs& a, int64_t off_sum, int64_t off_count,
                                             int64_t off_mean, float sum, int count) {
  if (a.sum.maybe_data) static_cast<float*>(a.sum.maybe_data)[off_sum] = sum;
  if (a.count.maybe_data) static_cast<int32_t*>(a.count.maybe_data)[off_count] = count;
  if (a.mean.maybe_data) {
    static_cast<float*>(a.mean.maybe_data)[off_mean] = count > 0 ? sum / static_cast<float>(count) : 0.0f;
  }
}

__device__ __forceinline__ int64_t column_offset(const OutView& v, bool varlen, int b, int h, int64_t row) {
  return varlen ? h * v.stride[0] + row * v.stride[1] : b * v.stride[0] + h * v.stride[1] + row * v.stride[2];
}

/// Grid (key chunks, Hq, B): keys of sequence b.
__global__ void write_columns_kernel(const FwdParams p, const ColumnArgs a) {
  const int b = blockIdx.z, h = blockIdx.y;
  const int j = blockIdx.x * kThreads + threadIdx.x;
  const BlockInfo info(p, b);
  if (j >= info.seqlen_k) return;
  const int64_t ws = (static_cast<int64_t>(b) * p.hq + h) * a.max_sk + j;
  const int64_t row = a.varlen ? info.k_row_start + j : j;
  store_column(a, column_offset(a.sum, a.varlen, b, h, row), column_offset(a.count, a.varlen, b, h, row),
               column_offset(a.mean, a.varlen, b, h, row), a.ws_sum[ws], a.ws_count[ws]);
}

/// Grid (row chunks, Hq): varlen key rows past cu_seqlens_k[B] belong to no sequence.
__global__ void zero_column_tail_kernel(const FwdParams p, const ColumnArgs a) {
  const int h = blockIdx.y;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (r >= a.total_k || r < p.maybe_cu_seqlens_k[p.batch]) return;
  store_column(a, column_offset(a.sum, true, 0, h, r), column_offset(a.count, true, 0, h, r),
               column_offset(a.mean, true, 0, h, r), 0.0f, 0);
}

struct BlockArgs {
  OutView mass, mean;
  const float* ws_mass;
  int block_q, block_k, nqb, nkb;
};

/// Grid (entry chunks, Hq, B) over [NQB, NKB]: entries past a shorter sequence's blocks are 0.
__global__ void write_blocks_kernel(const FwdParams p, const BlockArgs a) {
  const int b = blockIdx.z, h = blockIdx.y;
  const int64_t e = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  if (e >= static_cast<int64_t>(a.nqb) * a.nkb) return;
  const int qb = static_cast<int>(e / a.nkb), kb = static_cast<int>(e % a.nkb);
  const BlockInfo info(p, b);
  const int rows = min(a.block_q, info.seqlen_q - qb * a.block_q);
  const int keys = min(a.block_k, info.seqlen_k - kb * a.block_k);
  const bool inside = rows > 0 && keys > 0;
  const float mass = inside ? a.ws_mass[(static_cast<int64_t>(b) * p.hq + h) * a.nqb * a.nkb + e] : 0.0f;
  if (a.mass.maybe_data) {
    static_cast<float*>(a.mass.maybe_data)[b * a.mass.stride[0] + h * a.mass.stride[1] + qb * a.mass.stride[2] +
                                           kb * a.mass.stride[3]] = mass;
  }
  if (a.mean.maybe_data) {
    const float mean = inside ? static_cast<float>(static_cast<double>(mass) /
                                                   (static_cast<double>(rows) * static_cast<double>(keys)))
                              : 0.0f;
    static_cast<float*>(a.mean.maybe_data)[b * a.mean.stride[0] + h * a.mean.stride[1] + qb * a.mean.stride[2] +
                                           kb * a.mean.stride[3]] = mean;
  }
}

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

}  // namespace

Status attention_stats_device(const detail::Problem& pr, const AttentionParams& params, const StatsOutputs& out) {
  if (Status s = check_stats_support(pr, params); !s) return s;
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  const bool want_cols = out.colsum.present() || out.colcount.present() || out.colmean.present();
  const bool want_blocks = out.blockmass.present() || out.blockmean.present();
  FwdParams p = make_stats_params(pr, params);

  DeviceScratch lse(stream), col_sum(stream), col_count(stream), block_mass(stream);
  const int64_t heads = pr.batch * pr.hq;
  const int64_t nqb = want_blocks ? (pr.max_sq + out.block_q - 1) / out.block_q : 0;
  const int64_t nkb = want_blocks ? (pr.max_sk + out.block_k - 1) / out.block_k : 0;
  if (Status s = lse.allocate(sizeof(float) * scratch_lse_elements(pr), false, "LSE"); !s) return s;
  if (want_cols) {
    if (Status s = col_sum.allocate(sizeof(float) * heads * pr.max_sk, false, "column sums"); !s) return s;
    if (Status s = col_count.allocate(sizeof(int32_t) * heads * pr.max_sk, false, "column counts"); !s) return s;
  }
  if (want_blocks) {
    if (Status s = block_mass.allocate(sizeof(float) * heads * nqb * nkb, true, "block masses"); !s) return s;
  }
  set_scratch_lse(pr, lse.as<float>(), &p);
  if (Status s = run_lse_pass(pr, p, /*restrict_from=*/0, stream); !s) return s;
  StatsPass pass;
  pass.col_sum = want_cols ? col_sum.as<float>() : nullptr;
  pass.col_count = want_cols ? col_count.as<int32_t>() : nullptr;
  if (want_blocks) {
    pass.block_q = out.block_q;
    pass.block_k = out.block_k;
    pass.block_mass = block_mass.as<float>();
  }
  if (Status s = run_stats_pass(pr, p, pass, stream); !s) return s;

  if (want_cols) {
    ColumnArgs a{};
    a.sum = out_view(out.colsum);
    a.count = out_view(out.colcount);
    a.mean = out_view(out.colmean);
    a.ws_sum = col_sum.as<float>();
    a.ws_count = col_count.as<int32_t>();
    a.max_sk = static_cast<int>(pr.max_sk);
    a.total_k = pr.total_k;
    a.varlen = pr.varlen;
    if (heads > 0 && pr.max_sk > 0) {
      write_columns_kernel<<<dim3(blocks_for(pr.max_sk), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch)),
                             kThreads, 0, stream>>>(p, a);
      if (Status s = check_launch("write_columns_kernel"); !s) return s;
    }
    if (pr.varlen && pr.hq > 0 && pr.total_k > 0) {
      zero_column_tail_kernel<<<dim3(blocks_for(pr.total_k), static_cast<unsigned>(pr.hq)), kThreads, 0, stream>>>(p, a);
      if (Status s = check_launch("zero_column_tail_kernel"); !s) return s;
    }
  }
  if (want_blocks && heads > 0 && nqb * nkb > 0) {
    BlockArgs a{};
    a.mass = out_view(out.blockmass);
    a.mean = out_view(out.blockmean);
    a.ws_mass = block_mass.as<float>();
    a.block_q = out.block_q;
    a.block_k = out.block_k;
    a.nqb = static_cast<int>(nqb);
    a.nkb = static_cast<int>(nkb);
    write_blocks_kernel<<<dim3(blocks_for(nqb * nkb), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch)),
                          kThreads, 0, stream>>>(p, a);
    if (Status s = check_launch("write_blocks_kernel"); !s) return s;
  }
  return Status::ok();
}

}  // namespace attnkit::cuda_backend
