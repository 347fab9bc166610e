// ACT on the GPU (SPEC 7): detect (one CTA per (b, h) over the column means) and calibrate
// (one warp per query row, reading only the |S| sink keys). act_forward runs the forward
// kernel WITHOUT output transforms into O (plus LSE), then the calibration kernel applies
// ACT, the rectification and the gate to every row and rounds once more to O's dtype.
#include <cuda_runtime.h>

#include <climits>
#include <cub/block/block_reduce.cuh>
#include <cub/block/block_scan.cuh>

#include "cuda/attention/variants/gate.cuh"
#include "cuda/attention/variants/rectify.cuh"
#include "cuda/stats/stats_device.cuh"
#include "cuda/stats/stats_launch.hpp"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {
namespace {

constexpr int kDetectThreads = 256;
constexpr int kCalibrateWarps = 8;  // query rows per CTA of the calibration kernel
constexpr int kMaxColsPerLane = 8;  // Dv <= 256 = 32 lanes x 8
constexpr float kMinOutsideMass = 1e-6f;  // SPEC 7: rows with 1 - m below this are unchanged

/// Reduction operator for the primary sink (CUB 3 dropped cub::Min).
struct MinOp {
  __device__ int operator()(int x, int y) const { return x < y ? x : y; }
};

struct DetectArgs {
  const float* col_sum;  // [B, Hq, max_sk]
  const int32_t* col_count;
  int max_sk;
  float theta;
  bool keep_first_sink;
  int max_sinks;
  const uint8_t* maybe_head_mask;
  int64_t head_mask_stride;
  int32_t* count;  // [B, Hq]
  int64_t count_stride[2];
  int32_t* index;  // [B, Hq, K]
  int64_t index_stride[3];
  int index_k;
};

/// Grid (Hq, B). S = { j : colmean_j > theta }, minus its smallest j when keep_first_sink,
/// then the max_sinks largest colmean (ties: lower j), written ascending. The cut is found
/// by a binary search on the float bits (colmean >= 0, so bits order like values): the
/// largest T with #{bits >= T} >= max_sinks; entries equal to T are taken lowest j first.
__global__ void __launch_bounds__(kDetectThreads) detect_kernel(const FwdParams p, const DetectArgs a) {
  using Reduce = cub::BlockReduce<int, kDetectThreads>;
  using Scan = cub::BlockScan<int, kDetectThreads>;
  __shared__ union {
    typename Reduce::TempStorage reduce;
    typename Scan::TempStorage scan;
  } tmp;
  __shared__ int s_value;
  const int h = blockIdx.x, b = blockIdx.y, tid = threadIdx.x;
  const BlockInfo info(p, b);
  const int sk = info.seqlen_k;
  const int64_t head = static_cast<int64_t>(b) * p.hq + h;
  const float* sum = a.col_sum + head * a.max_sk;
  const int32_t* cnt = a.col_count + head * a.max_sk;
  int32_t* index = a.index + b * a.index_stride[0] + h * a.index_stride[1];
  auto colmean = [&](int j) { return cnt[j] > 0 ? sum[j] / static_cast<float>(cnt[j]) : 0.0f; };
  auto block_sum = [&](int v) {
    const int total = Reduce(tmp.reduce).Sum(v);
    if (tid == 0) s_value = total;
    __syncthreads();
    const int result = s_value;
    __syncthreads();
    return result;
  };

  const bool enabled = a.maybe_head_mask == nullptr || a.maybe_head_mask[h * a.head_mask_stride] != 0;
  int first = -1;  // the primary sink, never scaled
  if (enabled && a.keep_first_sink) {
    int mine = INT_MAX;
    for (int j = tid; j < sk; j += kDetectThreads) {
      if (colmean(j) > a.theta) {
        mine = j;
        break;
      }
    }
    const int least = Reduce(tmp.reduce).Reduce(mine, MinOp{});
    if (tid == 0) s_value = least;
    __syncthreads();
    first = s_value;
    __syncthreads();
  }
  auto candidate = [&](int j) { return enabled && j != first && colmean(j) > a.theta; };
  auto count_if = [&](auto pred) {
    int mine = 0;
    for (int j = tid; j < sk; j += kDetectThreads) mine += candidate(j) && pred(__float_as_uint(colmean(j))) ? 1 : 0;
    return block_sum(mine);
  };
  const int n = count_if([](unsigned) { return true; });
  unsigned cut = 0;       // candidates with bits > cut are kept ...
  int need_equal = INT_MAX;  // ... and this many with bits == cut (lowest j first)
  if (n > a.max_sinks) {
    unsigned lo = 0, hi = 0x7f800001u;  // count_ge(lo) >= max_sinks > count_ge(hi)
    while (hi - lo > 1) {
      const unsigned mid = lo + (hi - lo) / 2;
      if (count_if([mid](unsigned bits) { return bits >= mid; }) >= a.max_sinks) {
        lo = mid;
      } else {
        hi = mid;
      }
    }
    cut = lo;
    need_equal = a.max_sinks - count_if([lo](unsigned bits) { return bits > lo; });
  }
  int equal_before = 0, written = 0;
  for (int base = 0; base < sk; base += kDetectThreads) {
    const int j = base + tid;
    const bool cand = j < sk && candidate(j);
    const unsigned bits = cand ? __float_as_uint(colmean(j)) : 0u;
    const int is_equal = cand && bits == cut ? 1 : 0;
    int equal_rank = 0, equal_total = 0;
    Scan(tmp.scan).ExclusiveSum(is_equal, equal_rank, equal_total);
    __syncthreads();
    const int keep = cand && (bits > cut || (is_equal && equal_before + equal_rank < need_equal)) ? 1 : 0;
    int pos = 0, kept = 0;
    Scan(tmp.scan).ExclusiveSum(keep, pos, kept);
    __syncthreads();
    if (keep) index[(written + pos) * a.index_stride[2]] = j;
    equal_before += equal_total;
    written += kept;
  }
  for (int e = written + tid; e < a.index_k; e += kDetectThreads) index[e * a.index_stride[2]] = -1;
  if (tid == 0) a.count[b * a.count_stride[0] + h * a.count_stride[1]] = written;
}

struct CalibrateArgs {
  float beta;
  const uint8_t* maybe_head_mask;
  int64_t head_mask_stride;
  const int32_t* count;  // [B, Hq]
  int64_t count_stride[2];
  const int32_t* index;  // [B, Hq, K]
  int64_t index_stride[3];
  int index_k;
  int d, dv;
};

/// Grid (rows / 8, Hq, B), one warp per query row: m = sum_S p_ij, u = sum_S p_ij v_j with
/// p_ij = exp(s_ij - LSE_i) over the visible sink keys, o' = beta u + (1 - beta m) / (1 - m)
/// (o - u), then rectify and gate, one rounding. Every row is written (transforms apply to
/// uncalibrated rows too). Device sets: counts clamped to [0, K], keys outside [0, Sk_b) skipped.
template <bool kIsBf16>
__global__ void __launch_bounds__(kCalibrateWarps * 32) calibrate_kernel(const FwdParams p, const CalibrateArgs a) {
  using Half = cuda_core::Half16<kIsBf16>;
  using Elem = typename Half::Scalar;
  const int b = blockIdx.z, h = blockIdx.y;
  const int lane = threadIdx.x % 32;
  const int i = blockIdx.x * kCalibrateWarps + threadIdx.x / 32;
  const BlockInfo info(p, b);
  if (i >= info.seqlen_q) return;
  Elem* o_row = static_cast<Elem*>(p.o) + info.q_offset(p.o_stride, b, i, h);
  float o[kMaxColsPerLane];
#pragma unroll
  for (int t = 0; t < kMaxColsPerLane; ++t) {
    const int col = lane + 32 * t;
    o[t] = col < a.dv ? Half::to_float(o_row[col]) : 0.0f;
  }
  const bool enabled = a.maybe_head_mask == nullptr || a.maybe_head_mask[h * a.head_mask_stride] != 0;
  const int count = a.count[b * a.count_stride[0] + h * a.count_stride[1]];
  const int n = count < 0 ? 0 : (count > a.index_k ? a.index_k : count);
  const float lse = p.maybe_lse[b * p.lse_batch_stride + h * p.lse_head_stride + (info.q_row_start + i) * p.lse_row_stride];
  if (enabled && n > 0 && lse != -INFINITY) {
    const HeadLogits hl(p, h);
    const VisibilityMask vis(p, info.seqlen_q, info.seqlen_k);
    const MaskRow mask = p.maybe_kv_count != nullptr ? MaskRow(p, b, h, i / p.mask_block_q) : MaskRow();
    const int kvh = h / p.group;
    const int64_t q_off = info.q_offset(p.q_stride, b, i, h);
    float q[kMaxColsPerLane];
#pragma unroll
    for (int t = 0; t < kMaxColsPerLane; ++t) {
      const int col = lane + 32 * t;
      q[t] = col < a.d ? load_half<kIsBf16>(p.q, q_off + col) : 0.0f;
    }
    float m = 0.0f, u[kMaxColsPerLane] = {};
    const int32_t* set = a.index + b * a.index_stride[0] + h * a.index_stride[1];
    for (int e = 0; e < n; ++e) {
      const int j = set[e * a.index_stride[2]];
      if (j < 0 || j >= info.seqlen_k || !vis.visible(i, j)) continue;
      if (mask.present() && !mask.lists(j / p.mask_block_k)) continue;
      const int64_t k_off = info.k_offset(p.k_stride, b, j, kvh);
      float dot = 0.0f;
#pragma unroll
      for (int t = 0; t < kMaxColsPerLane; ++t) {
        const int col = lane + 32 * t;
        if (col < a.d) dot += q[t] * load_half<kIsBf16>(p.k, k_off + col);
      }
#pragma unroll
      for (int offset = 16; offset > 0; offset /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, offset);
      const float pij = expf(hl.logit(dot, j) - lse);
      m += pij;
      const int64_t v_off = info.k_offset(p.v_stride, b, j, kvh);
#pragma unroll
      for (int t = 0; t < kMaxColsPerLane; ++t) {
        const int col = lane + 32 * t;
        if (col < a.dv) u[t] += pij * load_half<kIsBf16>(p.v, v_off + col);
      }
    }
    if (1.0f - m >= kMinOutsideMass) {
      const float rest = (1.0f - a.beta * m) / (1.0f - m);  // rescales the mass outside S
#pragma unroll
      for (int t = 0; t < kMaxColsPerLane; ++t) o[t] = a.beta * u[t] + rest * (o[t] - u[t]);
    }
  }
  const Rectify rectify(p, b, h, i);
  const OutputGate<kIsBf16> gate(p, p.maybe_gate != nullptr ? info.q_offset(p.gate_stride, b, i, h) : 0);
#pragma unroll
  for (int t = 0; t < kMaxColsPerLane; ++t) {
    const int col = lane + 32 * t;
    if (col < a.dv) o_row[col] = Half::from_float(gate.apply(col, rectify.apply(col, o[t])));
  }
}

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
  detect_kernel<<<dim3(static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch)), kDetectThreads, 0, stream>>>(p, a);
  return check_launch("detect_kernel");
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
  // The forward without output transforms (ACT comes between SPEC 4 and SPEC 6).
  AttentionParams plain = params;
  plain.rectify = Rectification{};
  plain.gate = Gate{};
  {
    std::string why;
    AttentionParams probe = plain;
    probe.lse = TensorView{};
    if (!is_supported(probe, &why)) {
      return Status(StatusCode::kNotSupported, "act_forward: the CUDA forward kernel cannot run this call: " + why);
    }
  }
  if (pr.batch == 0 || pr.hq == 0 || pr.max_sq == 0) return Status::ok();  // nothing to write
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  FwdParams p = make_stats_params(pr, params);  // keeps rectify and gate for the calibration

  DeviceScratch lse(stream), col_sum(stream), col_count(stream), sets_count(stream), sets_index(stream);
  if (!params.lse.present()) {  // the forward writes the LSE the calibration needs
    if (Status s = lse.allocate(sizeof(float) * scratch_lse_elements(pr), false, "LSE"); !s) return s;
    set_scratch_lse(pr, lse.as<float>(), &p);
    plain.lse = pr.varlen ? TensorView::contiguous(lse.as<float>(), DType::kFloat32, {pr.hq, pr.total_q}, DeviceKind::kCuda)
                          : TensorView::contiguous(lse.as<float>(), DType::kFloat32, {pr.batch, pr.hq, pr.max_sq}, DeviceKind::kCuda);
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

  if (Status s = forward(plain); !s) return s;
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
  const dim3 grid(static_cast<unsigned>((pr.max_sq + kCalibrateWarps - 1) / kCalibrateWarps),
                  static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch));
  if (pr.dtype == DType::kBFloat16) {
    calibrate_kernel<true><<<grid, kCalibrateWarps * 32, 0, stream>>>(p, a);
  } else {
    calibrate_kernel<false><<<grid, kCalibrateWarps * 32, 0, stream>>>(p, a);
  }
  return check_launch("calibrate_kernel");
}

}  // namespace attnkit::cuda_backend
