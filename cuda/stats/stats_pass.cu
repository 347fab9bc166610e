// The host side of the statistics passes (SPEC 7) shared by attention_stats, ACT and
// SparseD: what the CUDA statistics kernels support, the FwdParams of a call, scratch
// memory, and the grids of the LSE pass and the statistics pass (stats_kernels.cuh,
// launched through stats_kernel_launch.hpp).
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "cuda/attention/launch_common.hpp"
#include "cuda/stats/stats_kernel_launch.hpp"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {
namespace {

constexpr int kMaxHeadDim = 256;
constexpr int64_t kMaxGrid = 65535;

}  // namespace

Status check_launch(const char* kernel) {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? Status::ok() : cuda_error(std::string("launch of ") + kernel, err);
}

Status DeviceScratch::allocate(size_t bytes, bool zero, const char* what) {
  if (ptr_ != nullptr) cudaFreeAsync(ptr_, stream_);
  ptr_ = nullptr;
  cudaError_t err = cudaMallocAsync(&ptr_, bytes > 0 ? bytes : 1, stream_);
  if (err != cudaSuccess) {
    ptr_ = nullptr;
    return cuda_error(std::string("cudaMallocAsync (") + what + ", " + std::to_string(bytes) + " bytes)", err);
  }
  if (zero && bytes > 0 && (err = cudaMemsetAsync(ptr_, 0, bytes, stream_)) != cudaSuccess) {
    return cuda_error(std::string("cudaMemsetAsync (") + what + ")", err);
  }
  return Status::ok();
}

Status check_stats_support(const detail::Problem& pr, const AttentionParams& params) {
  if (Status s = check_dtype_and_length(pr, "CUDA statistics kernels"); !s) return s;
  if (pr.paged) return not_supported("paged_kv: the CUDA statistics kernels need contiguous K/V (no page table)");
  if (pr.d > kMaxHeadDim || pr.dv > kMaxHeadDim) {
    return not_supported("D = " + std::to_string(pr.d) + ", Dv = " + std::to_string(pr.dv) +
                         ": the CUDA statistics kernels support head dims up to 256");
  }
  if (pr.batch > kMaxGrid || pr.hq > kMaxGrid) {
    return not_supported("batch = " + std::to_string(pr.batch) + ", Hq = " + std::to_string(pr.hq) +
                         ": the CUDA statistics kernels support at most 65535 of each");
  }
  if (pr.has_block_mask) {
    const BlockMask& m = params.block_mask;
    const auto ok = [](int s) { return s == 64 || s == 128; };
    if (!ok(m.block_q) || !ok(m.block_k)) {
      return not_supported("block_mask block sizes " + std::to_string(m.block_q) + "x" + std::to_string(m.block_k) +
                           ": the CUDA statistics kernels support block_q and block_k in {64, 128}");
    }
  }
  if (Status s = check_contiguous_cu_seqlens(pr, params, "CUDA statistics kernels"); !s) return s;
  detail::DeviceInfo device;
  if (Status s = current_device_info(&device); !s) return s;
  if (Status s = check_sm80(device, "CUDA statistics kernels"); !s) return s;
  const size_t smem = std::max(lse_smem_bytes(pr.d), stats_smem_bytes(pr.d));
  if (smem > static_cast<size_t>(device.smem_optin)) {
    return not_supported("head dim " + std::to_string(pr.d) + " needs " + std::to_string(smem) +
                         " bytes of shared memory per block; the device allows " + std::to_string(device.smem_optin));
  }
  return Status::ok();
}

FwdParams make_stats_params(const detail::Problem& problem, const AttentionParams& a) {
  // V and O may be absent in a statistics call: absent views have zero strides and null data.
  return build_fwd_params(problem, a);
}

int64_t scratch_lse_elements(const detail::Problem& pr) {
  return pr.varlen ? pr.hq * pr.total_q : pr.batch * pr.hq * pr.max_sq;
}

void set_scratch_lse(const detail::Problem& pr, float* lse, FwdParams* p) {
  p->maybe_lse = lse;
  if (pr.varlen) {  // [Hq, total_q]
    p->lse_batch_stride = 0;
    p->lse_head_stride = pr.total_q;
    p->lse_row_stride = 1;
  } else {  // [B, Hq, Sq]
    p->lse_batch_stride = pr.hq * pr.max_sq;
    p->lse_head_stride = pr.max_sq;
    p->lse_row_stride = 1;
  }
}

Status run_lse_pass(const detail::Problem& pr, const FwdParams& p, int64_t restrict_from, cudaStream_t stream) {
  if (pr.batch == 0 || pr.hq == 0 || pr.max_sq == 0) return Status::ok();
  LaunchShape shape;
  shape.grid = dim3(static_cast<unsigned>((pr.max_sq + kLseRows - 1) / kLseRows), static_cast<unsigned>(pr.hq),
                    static_cast<unsigned>(pr.batch));
  shape.smem_bytes = lse_smem_bytes(pr.d);
  const int from = clamp_int(restrict_from, 0, pr.max_sk);
  return launch_lse_kernel(shape, pr.dtype == DType::kBFloat16, p, static_cast<int>(pr.d), from, stream);
}

Status run_stats_pass(const detail::Problem& pr, const FwdParams& p, const StatsPass& pass, cudaStream_t stream) {
  if (pr.batch == 0 || pr.hq == 0 || pr.max_sk == 0) return Status::ok();
  StatsArgs a{};
  a.d = static_cast<int>(pr.d);
  a.restrict_from = clamp_int(pass.restrict_from, 0, pr.max_sk);
  a.max_sk = static_cast<int>(pr.max_sk);
  a.col_sum = pass.col_sum;
  a.col_count = pass.col_count;
  a.block_q = pass.block_q > 0 ? pass.block_q : 1;
  a.block_k = pass.block_k > 0 ? pass.block_k : 1;
  a.block_mass = pass.block_q > 0 ? pass.block_mass : nullptr;
  a.nqb = static_cast<int>((pr.max_sq + a.block_q - 1) / a.block_q);
  a.nkb = static_cast<int>((pr.max_sk + a.block_k - 1) / a.block_k);
  LaunchShape shape;
  shape.grid = dim3(static_cast<unsigned>((pr.max_sk + kTileKeys - 1) / kTileKeys), static_cast<unsigned>(pr.hq),
                    static_cast<unsigned>(pr.batch));
  shape.smem_bytes = stats_smem_bytes(pr.d);
  return launch_stats_kernel(shape, pr.dtype == DType::kBFloat16, p, a, stream);
}

}  // namespace attnkit::cuda_backend
