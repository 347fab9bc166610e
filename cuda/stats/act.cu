// ACT on the GPU (SPEC 7): the calling sequence of act_detect and act_forward around the
// kernels of act_kernels.cuh (launched through stats_kernel_launch.hpp). act_forward runs
// the prefill kernel WITHOUT output transforms into a float32 scratch O (plus LSE), then
// the calibration kernel applies ACT, the rectification and the gate to every row and
// rounds once to O's dtype, as the CPU reference does (calibrating an O already rounded to
// bf16 / fp16 would multiply its rounding error by (1 - beta m) / (1 - m)).
#include <cuda_runtime.h>

#include "cuda/attention/launch.hpp"
#include "cuda/stats/stats_kernel_launch.hpp"
#include "cuda/stats/stats_launch.hpp"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {
namespace {

void set_head_mask(const ActOptions& options, const uint8_t** ptr, int64_t* stride) {
  *ptr = options.head_mask.present() ? static_cast<const uint8_t*>(options.head_mask.data) : nullptr;
  *stride = options.head_mask.present() ? options.head_mask.stride[0] : 0;
}

/// LSE + column statistics of the call (no restriction) into `col_sum` / `col_count`.
Status column_stats(const detail::Problem& pr, FwdParams* p, float* lse_or_null, DeviceScratch* lse,
                    DeviceScratch* col_sum, DeviceScratch* col_count, cudaStream_t stream) {
  const int64_t cols = pr.batch * pr.hq * pr.max_sk;
  if (Status s = col_sum->allocate(sizeof(float) * cols, false, "column sums"); !s) return s;
  if (Status s = col_count->allocate(sizeof(int32_t) * cols, false, "column counts"); !s) return s;
  if (lse_or_null == nullptr) {  // no LSE from a forward call: run the LSE pass
    if (Status s = lse->allocate(sizeof(float) * scratch_lse_elements(pr), false, "LSE"); !s) return s;
    set_scratch_lse(pr, lse->as<float>(), p);
    if (Status s = run_lse_pass(pr, *p, /*restrict_from=*/0, stream); !s) return s;
  }
  StatsPass pass;
  pass.col_sum = col_sum->as<float>();
  pass.col_count = col_count->as<int32_t>();
  return run_stats_pass(pr, *p, pass, stream);
}

Status run_detect(const detail::Problem& pr, const FwdParams& p, const ActOptions& options, const float* col_sum,
                  const int32_t* col_count, const SinkSets& out, cudaStream_t stream) {
  if (pr.batch == 0 || pr.hq == 0) return Status::ok();
  DetectArgs a{};
  a.col_sum = col_sum;
  a.col_count = col_count;
  a.max_sk = static_cast<int>(pr.max_sk);
  a.theta = options.theta;
  a.keep_first_sink = options.keep_first_sink;
  a.max_sinks = options.max_sinks;
  set_head_mask(options, &a.maybe_head_mask, &a.head_mask_stride);
  a.count = static_cast<int32_t*>(out.count.data);
  a.count_stride[0] = out.count.stride[0];
  a.count_stride[1] = out.count.stride[1];
  a.index = static_cast<int32_t*>(out.index.data);
  for (int d = 0; d < 3; ++d) a.index_stride[d] = out.index.stride[d];
  a.index_k = static_cast<int>(out.index.shape[2]);
  return launch_detect_kernel(dim3(static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch)), p, a, stream);
}

}  // namespace

Status act_detect_device(const detail::Problem& pr, const AttentionParams& params, const ActOptions& options,
                         const SinkSets& out) {
  if (Status s = check_stats_support(pr, params); !s) return s;
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  FwdParams p = make_stats_params(pr, params);
  DeviceScratch lse(stream), col_sum(stream), col_count(stream);
  if (Status s = column_stats(pr, &p, nullptr, &lse, &col_sum, &col_count, stream); !s) return s;
  return run_detect(pr, p, options, col_sum.as<float>(), col_count.as<int32_t>(), out, stream);
}

Status act_forward_device(const detail::Problem& pr, const AttentionParams& params, const ActOptions& options,
                          const SinkSets* detected, const SinkSets* given_sets) {
  if (Status s = check_stats_support(pr, params); !s) return s;
  // Always the prefill kernel, whatever Sq: the decode kernel has no float32 output mode.
  detail::KernelChoice choice;
  if (Status s = cuda_backend::select_kernel(pr, params, &choice); !s) {
    return Status(s.code(), "act_forward: the CUDA forward kernel cannot run this call: " + s.message());
  }
  if (pr.batch == 0 || pr.hq == 0 || pr.max_sq == 0) return Status::ok();  // nothing to write
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  FwdParams p = make_stats_params(pr, params);  // keeps rectify and gate for the calibration

  // The forward's O in float32, contiguous: batched [B, Sq, Hq, Dv], varlen [total_q, Hq, Dv].
  RowStrides o_float_stride;
  o_float_stride.head = pr.dv;
  o_float_stride.row = pr.hq * pr.dv;
  o_float_stride.batch = pr.varlen ? 0 : pr.max_sq * pr.hq * pr.dv;
  DeviceScratch o_float(stream), lse(stream), col_sum(stream), col_count(stream), sets_count(stream),
      sets_index(stream);
  if (Status s = o_float.allocate(sizeof(float) * pr.total_q * pr.hq * pr.dv, false, "float32 O"); !s) return s;
  if (!params.lse.present()) {  // the forward writes the LSE the calibration needs
    if (Status s = lse.allocate(sizeof(float) * scratch_lse_elements(pr), false, "LSE"); !s) return s;
    set_scratch_lse(pr, lse.as<float>(), &p);
  }
  SinkSets sets;
  if (given_sets != nullptr) {
    sets = *given_sets;
  } else if (detected != nullptr) {
    sets = *detected;
  } else {
    if (Status s = sets_count.allocate(sizeof(int32_t) * pr.batch * pr.hq, false, "sink counts"); !s) return s;
    if (Status s = sets_index.allocate(sizeof(int32_t) * pr.batch * pr.hq * options.max_sinks, false, "sink sets"); !s) {
      return s;
    }
    sets.count = TensorView::contiguous(sets_count.as<int32_t>(), DType::kInt32, {pr.batch, pr.hq});
    sets.index = TensorView::contiguous(sets_index.as<int32_t>(), DType::kInt32, {pr.batch, pr.hq, options.max_sinks});
  }

  // The forward without output transforms (ACT comes between SPEC 4 and SPEC 6), into the
  // float32 O and the LSE of p (the caller's or the scratch one).
  FwdParams fwd = p;
  fwd.maybe_rectify_r = nullptr;
  fwd.maybe_rectify_c = nullptr;
  fwd.maybe_gate = nullptr;
  fwd.o = o_float.as<float>();
  fwd.o_stride = o_float_stride;
  fwd.o_is_float32 = true;
  if (Status s = run_forward_params(pr, params, fwd, choice); !s) return s;
  if (given_sets == nullptr) {
    if (Status s = column_stats(pr, &p, p.maybe_lse, &lse, &col_sum, &col_count, stream); !s) return s;
    if (Status s = run_detect(pr, p, options, col_sum.as<float>(), col_count.as<int32_t>(), sets, stream); !s) return s;
  }

  CalibrateArgs a{};
  a.beta = options.beta;
  set_head_mask(options, &a.maybe_head_mask, &a.head_mask_stride);
  a.count = static_cast<const int32_t*>(sets.count.data);
  a.count_stride[0] = sets.count.stride[0];
  a.count_stride[1] = sets.count.stride[1];
  a.index = static_cast<const int32_t*>(sets.index.data);
  for (int d = 0; d < 3; ++d) a.index_stride[d] = sets.index.stride[d];
  a.index_k = static_cast<int>(sets.index.shape[2]);
  a.d = static_cast<int>(pr.d);
  a.dv = static_cast<int>(pr.dv);
  a.o_float = o_float.as<float>();
  a.o_float_stride = o_float_stride;
  const dim3 grid(static_cast<unsigned>((pr.max_sq + kCalibrateWarps - 1) / kCalibrateWarps),
                  static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch));
  return launch_calibrate_kernel(grid, pr.dtype == DType::kBFloat16, p, a, stream);
}

}  // namespace attnkit::cuda_backend
