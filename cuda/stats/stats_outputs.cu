// attention_stats on device tensors: LSE pass, statistics pass into contiguous float32
// workspaces, then the output writers of stats_output_kernels.cuh (launched through
// stats_kernel_launch.hpp) write each requested output through its strides.
#include <cuda_runtime.h>

#include "cuda/stats/stats_kernel_launch.hpp"
#include "cuda/stats/stats_launch.hpp"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {
namespace {

OutView out_view(const TensorView& t) {
  OutView v;
  if (!t.present()) return v;
  v.maybe_data = t.data;
  for (int d = 0; d < t.rank && d < 4; ++d) v.stride[d] = t.stride[d];
  return v;
}

unsigned output_blocks_for(int64_t n) { return static_cast<unsigned>((n + kOutputThreads - 1) / kOutputThreads); }

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
    a.varlen = pr.varlen;
    if (heads > 0 && pr.max_sk > 0) {
      const dim3 grid(output_blocks_for(pr.max_sk), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch));
      if (Status s = launch_write_columns_kernel(grid, p, a, stream); !s) return s;
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
    const dim3 grid(output_blocks_for(nqb * nkb), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch));
    if (Status s = launch_write_blocks_kernel(grid, p, a, stream); !s) return s;
  }
  return Status::ok();
}

}  // namespace attnkit::cuda_backend
