// SPEC 7 statistics on the GPU: the LSE pass and the statistics pass (CUDA cores, float
// accumulation), plus the host glue they share with ACT and SparseD. The LSE comes from a
// dedicated pass rather than a forward call: it needs no O scratch, skips P.V, and takes a
// key range (SparseD's generation pass restricts the softmax to keys j >= g, which the
// forward kernel cannot express). Both passes recompute logits tile by tile; the attention
// matrix is never stored.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "cuda/attention/launch_common.hpp"
#include "cuda/stats/stats_device.cuh"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {
namespace {

constexpr int kThreads = 256;
constexpr int kLseRows = 64;    // query rows per CTA of the LSE pass (one mask query block)
constexpr int kKeyChunk = 16;   // keys staged in shared memory per LSE step
constexpr int kTileKeys = 64;   // keys per CTA of the statistics pass (one mask key block)
constexpr int kRowChunk = 16;   // query rows staged per statistics step
constexpr int kGroups = kThreads / 64;  // thread groups splitting keys (LSE) or rows (stats)
static_assert(kLseRows == 64 && kTileKeys == 64, "threads map to (row | key) = tid % 64");
constexpr int kMaxHeadDim = 256;
constexpr int64_t kMaxGrid = 65535;
constexpr int64_t kMaxSeqLen = int64_t{1} << 30;

// Dynamic shared memory of both passes: (d, 64) transposed tile + (16, d) staged tile, float.
size_t pass_smem_bytes(int64_t d) { return static_cast<size_t>((kLseRows + kKeyChunk) * d) * sizeof(float); }

// ---------------------------------------------------------------------------------------
// LSE pass: one CTA per (64 query rows, h, b). Thread (r, g) = (tid % 64, tid / 64) keeps an
// online (max, sum) of row r over keys g, g + 4, ... of every staged chunk; the four
// partial states are merged with the learned sink at the end.
// ---------------------------------------------------------------------------------------
template <bool kIsBf16>
__global__ void __launch_bounds__(kThreads) lse_kernel(const FwdParams p, int d, int restrict_from) {
  const int b = blockIdx.z, h = blockIdx.y, m0 = blockIdx.x * kLseRows;
  const BlockInfo info(p, b);
  if (m0 >= info.seqlen_q) return;
  extern __shared__ float smem[];
  float* s_qt = smem;                   // (d, kLseRows): transposed, lanes read consecutive rows
  float* s_k = smem + d * kLseRows;     // (kKeyChunk, d): one key per thread group, broadcast
  __shared__ float s_m[kGroups][kLseRows];
  __shared__ float s_l[kGroups][kLseRows];
  const int tid = threadIdx.x, r = tid % kLseRows, grp = tid / kLseRows;
  const int kvh = h / p.group;
  const int m_last = min(m0 + kLseRows, info.seqlen_q) - 1;
  for (int e = tid; e < kLseRows * d; e += kThreads) {
    const int row = e / d, x = e % d, i = m0 + row;
    s_qt[x * kLseRows + row] = i <= m_last ? load_half<kIsBf16>(p.q, info.q_offset(p.q_stride, b, i, h) + x) : 0.0f;
  }
  const HeadLogits hl(p, h);
  const VisibilityMask vis(p, info.seqlen_q, info.seqlen_k);
  const MaskRow mask = p.maybe_kv_count != nullptr ? MaskRow(p, b, h, m0 / p.mask_block_q) : MaskRow();
  const int i = m0 + r;
  float m = -INFINITY, l = 0.0f;
  for_each_key_range(vis, mask, p.mask_block_k, m0, m_last, restrict_from, [&](int a, int e) {
    for (int j0 = a; j0 < e; j0 += kKeyChunk) {
      __syncthreads();
      for (int idx = tid; idx < kKeyChunk * d; idx += kThreads) {
        const int jj = idx / d, x = idx % d, j = j0 + jj;
        s_k[idx] = j < e ? load_half<kIsBf16>(p.k, info.k_offset(p.k_stride, b, j, kvh) + x) : 0.0f;
      }
      __syncthreads();
      for (int jj = grp; jj < kKeyChunk; jj += kGroups) {
        const int j = j0 + jj;
        if (j >= e || i > m_last || !vis.visible(i, j)) continue;
        float dot = 0.0f;
        for (int x = 0; x < d; ++x) dot += s_qt[x * kLseRows + r] * s_k[jj * d + x];
        const float s = hl.logit(dot, j);
        if (s == -INFINITY) continue;
        const float m_new = fmaxf(m, s);
        l = l * expf(m - m_new) + expf(s - m_new);
        m = m_new;
      }
    }
  });
  s_m[grp][r] = m;
  s_l[grp][r] = l;
  __syncthreads();
  if (grp != 0 || i > m_last) return;
  // SPEC 4: m_i = max(sigma_h, max s) before exponentiating; the sink adds exp(sigma - m).
  float m_all = hl.sink;
  for (int g = 0; g < kGroups; ++g) m_all = fmaxf(m_all, s_m[g][r]);
  float lse = -INFINITY;
  if (m_all != -INFINITY) {
    float l_all = hl.sink != -INFINITY ? expf(hl.sink - m_all) : 0.0f;
    for (int g = 0; g < kGroups; ++g) {
      if (s_m[g][r] != -INFINITY) l_all += s_l[g][r] * expf(s_m[g][r] - m_all);
    }
    lse = m_all + logf(l_all);
  }
  p.maybe_lse[b * p.lse_batch_stride + h * p.lse_head_stride + (info.q_row_start + i) * p.lse_row_stride] = lse;
}

// ---------------------------------------------------------------------------------------
// Statistics pass: one CTA per (64 keys, h, b) walks every query row that may see its
// keys, 16 rows at a time. Thread (key, group) = (tid % 64, tid / 64) handles rows group,
// group + 4, ... of each chunk; a CTA owns its columns, so they need no atomics.
// ---------------------------------------------------------------------------------------
struct StatsArgs {
  int d;
  int restrict_from;
  int max_sk;
  float* col_sum;
  int32_t* col_count;
  int block_q, block_k, nqb, nkb;
  float* block_mass;
};

template <bool kIsBf16>
__global__ void __launch_bounds__(kThreads) stats_kernel(const FwdParams p, const StatsArgs a) {
  const int b = blockIdx.z, h = blockIdx.y, j0 = blockIdx.x * kTileKeys;
  const BlockInfo info(p, b);
  if (j0 >= info.seqlen_k) return;  // no key of this sequence: its workspace columns are unused
  const int d = a.d;
  extern __shared__ float smem[];
  float* s_kt = smem;                  // (d, kTileKeys): transposed, lanes read consecutive keys
  float* s_q = smem + d * kTileKeys;   // (kRowChunk, d): one row per thread group, broadcast
  __shared__ float s_lse[kRowChunk];
  __shared__ float s_sum[kGroups][kTileKeys];
  __shared__ int s_cnt[kGroups][kTileKeys];
  const int tid = threadIdx.x, jj = tid % kTileKeys, grp = tid / kTileKeys;
  const int kvh = h / p.group;
  const int j = j0 + jj;
  const int j_last = min(j0 + kTileKeys, info.seqlen_k) - 1;
  for (int e = tid; e < kTileKeys * d; e += kThreads) {
    const int key = e / d, x = e % d, jk = j0 + key;
    s_kt[x * kTileKeys + key] = jk <= j_last ? load_half<kIsBf16>(p.k, info.k_offset(p.k_stride, b, jk, kvh) + x) : 0.0f;
  }
  const HeadLogits hl(p, h);
  const VisibilityMask vis(p, info.seqlen_q, info.seqlen_k);

  // Rows that may see a key of the tile (SPEC 2): causal / window_right bound them below,
  // window_left above (unless the tile holds sink tokens).
  int i_lo = 0, i_hi = info.seqlen_q;
  if (p.causal || p.window_right >= 0) {
    const int reach = p.causal ? (p.window_right >= 0 ? min(0, p.window_right) : 0) : p.window_right;
    i_lo = max(0, j0 - reach - vis.offset);
  }
  if (p.window_left >= 0 && j0 >= p.sink_tokens) i_hi = min(i_hi, j_last + p.window_left - vis.offset + 1);
  if (j_last < a.restrict_from) i_hi = 0;
  i_lo = i_lo / kRowChunk * kRowChunk;  // chunks never straddle a mask query block (64 or 128)

  const int64_t head = static_cast<int64_t>(b) * p.hq + h;
  float colsum = 0.0f;
  int colcount = 0;
  int cur_qb = -1;
  float mass = 0.0f;
  auto flush = [&]() {
    if (a.block_mass != nullptr && cur_qb >= 0 && mass != 0.0f) {
      atomicAdd(a.block_mass + (head * a.nqb + cur_qb) * a.nkb + j / a.block_k, mass);
    }
  };
  int mask_qb = -1;
  bool listed = true;
  for (int c0 = i_lo; c0 < i_hi; c0 += kRowChunk) {
    if (p.maybe_kv_count != nullptr && c0 / p.mask_block_q != mask_qb) {
      mask_qb = c0 / p.mask_block_q;
      listed = MaskRow(p, b, h, mask_qb).lists(j0 / p.mask_block_k);
    }
    if (!listed) continue;
    __syncthreads();
    for (int e = tid; e < kRowChunk * d; e += kThreads) {
      const int row = e / d, x = e % d, i = c0 + row;
      s_q[e] = i < i_hi ? load_half<kIsBf16>(p.q, info.q_offset(p.q_stride, b, i, h) + x) : 0.0f;
    }
    if (tid < kRowChunk && c0 + tid < i_hi) {
      s_lse[tid] = p.maybe_lse[b * p.lse_batch_stride + h * p.lse_head_stride +
                               (info.q_row_start + c0 + tid) * p.lse_row_stride];
    }
    __syncthreads();
    for (int rr = grp; rr < kRowChunk; rr += kGroups) {
      const int i = c0 + rr;
      if (i >= i_hi || j > j_last || j < a.restrict_from || !vis.visible(i, j)) continue;
      float dot = 0.0f;
      for (int x = 0; x < d; ++x) dot += s_q[rr * d + x] * s_kt[x * kTileKeys + jj];
      const float lse = s_lse[rr];
      // A visible key with a -inf logit is still seen (p = 0); a row without keys has p = 0.
      const float pij = lse == -INFINITY ? 0.0f : expf(hl.logit(dot, j) - lse);
      colsum += pij;
      ++colcount;
      if (a.block_mass != nullptr) {
        const int qb = i / a.block_q;
        if (qb != cur_qb) {
          flush();
          cur_qb = qb;
          mass = 0.0f;
        }
        mass += pij;
      }
    }
  }
  flush();
  s_sum[grp][jj] = colsum;
  s_cnt[grp][jj] = colcount;
  __syncthreads();
  if (grp != 0 || j > j_last) return;
  float sum = 0.0f;
  int cnt = 0;
  for (int g = 0; g < kGroups; ++g) {  // fixed order: the columns are deterministic
    sum += s_sum[g][jj];
    cnt += s_cnt[g][jj];
  }
  if (a.col_sum != nullptr) a.col_sum[head * a.max_sk + j] = sum;
  if (a.col_count != nullptr) a.col_count[head * a.max_sk + j] = cnt;
}

template <class Kernel>
Status prepare_kernel(Kernel kernel, size_t smem) {
  const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  return err == cudaSuccess ? Status::ok() : stats_cuda_error("cudaFuncSetAttribute (statistics kernels)", err);
}

}  // namespace

Status stats_cuda_error(const std::string& what, cudaError_t err) {
  return Status(StatusCode::kCudaError, what + ": " + cudaGetErrorString(err));
}

Status check_launch(const char* kernel) {
  const cudaError_t err = cudaGetLastError();
  return err == cudaSuccess ? Status::ok() : stats_cuda_error(std::string("launch of ") + kernel, err);
}

Status DeviceScratch::allocate(size_t bytes, bool zero, const char* what) {
  if (ptr_ != nullptr) cudaFreeAsync(ptr_, stream_);
  ptr_ = nullptr;
  cudaError_t err = cudaMallocAsync(&ptr_, bytes > 0 ? bytes : 1, stream_);
  if (err != cudaSuccess) {
    ptr_ = nullptr;
    return stats_cuda_error(std::string("cudaMallocAsync (") + what + ", " + std::to_string(bytes) + " bytes)", err);
  }
  if (zero && bytes > 0 && (err = cudaMemsetAsync(ptr_, 0, bytes, stream_)) != cudaSuccess) {
    return stats_cuda_error(std::string("cudaMemsetAsync (") + what + ")", err);
  }
  return Status::ok();
}

Status check_stats_support(const detail::Problem& pr, const AttentionParams& params) {
  auto not_supported = [](const std::string& m) { return Status(StatusCode::kNotSupported, m); };
  if (pr.dtype != DType::kFloat16 && pr.dtype != DType::kBFloat16) {
    return not_supported(std::string("dtype ") + dtype_name(pr.dtype) +
                         ": the CUDA statistics kernels support float16 and bfloat16 Q/K/V");
  }
  if (pr.paged) return not_supported("paged_kv: the CUDA statistics kernels need contiguous K/V (no page table)");
  if (pr.d > kMaxHeadDim || pr.dv > kMaxHeadDim) {
    return not_supported("D = " + std::to_string(pr.d) + ", Dv = " + std::to_string(pr.dv) +
                         ": the CUDA statistics kernels support head dims up to 256");
  }
  if (pr.batch > kMaxGrid || pr.hq > kMaxGrid) {
    return not_supported("batch = " + std::to_string(pr.batch) + ", Hq = " + std::to_string(pr.hq) +
                         ": the CUDA statistics kernels support at most 65535 of each");
  }
  if (pr.max_sq >= kMaxSeqLen || pr.max_sk >= kMaxSeqLen) {
    return not_supported("sequence length " + std::to_string(std::max(pr.max_sq, pr.max_sk)) +
                         ": the CUDA statistics kernels support sequences shorter than 2^30");
  }
  if (pr.has_block_mask) {
    const BlockMask& m = params.block_mask;
    const auto ok = [](int s) { return s == 64 || s == 128; };
    if (!ok(m.block_q) || !ok(m.block_k)) {
      return not_supported("block_mask block sizes " + std::to_string(m.block_q) + "x" + std::to_string(m.block_k) +
                           ": the CUDA statistics kernels support block_q and block_k in {64, 128}");
    }
  }
  if (pr.varlen && (params.cu_seqlens_q.stride[0] != 1 || params.cu_seqlens_k.stride[0] != 1)) {
    return Status(StatusCode::kInvalidArgument,
                  "cu_seqlens_q / cu_seqlens_k: the CUDA kernels need contiguous cu_seqlens (stride 1)");
  }
  int device = 0, major = 0, smem_optin = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return stats_cuda_error("no CUDA device is available", err);
  if ((err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device)) != cudaSuccess ||
      (err = cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device)) != cudaSuccess) {
    return stats_cuda_error("cudaDeviceGetAttribute failed on device " + std::to_string(device), err);
  }
  if (major < 8) return not_supported("the CUDA statistics kernels need sm_80 or newer");
  const size_t smem = pass_smem_bytes(pr.d) + 4096;  // + the static arrays
  if (smem > static_cast<size_t>(smem_optin)) {
    return not_supported("head dim " + std::to_string(pr.d) + " needs " + std::to_string(smem) +
                         " bytes of shared memory per block; the device allows " + std::to_string(smem_optin));
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
  const dim3 grid(static_cast<unsigned>((pr.max_sq + kLseRows - 1) / kLseRows), static_cast<unsigned>(pr.hq),
                  static_cast<unsigned>(pr.batch));
  const size_t smem = pass_smem_bytes(pr.d);
  const int from = clamp_int(restrict_from, 0, pr.max_sk);
  if (pr.dtype == DType::kBFloat16) {
    if (Status s = prepare_kernel(lse_kernel<true>, smem); !s) return s;
    lse_kernel<true><<<grid, kThreads, smem, stream>>>(p, static_cast<int>(pr.d), from);
  } else {
    if (Status s = prepare_kernel(lse_kernel<false>, smem); !s) return s;
    lse_kernel<false><<<grid, kThreads, smem, stream>>>(p, static_cast<int>(pr.d), from);
  }
  return check_launch("lse_kernel");
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
  const dim3 grid(static_cast<unsigned>((pr.max_sk + kTileKeys - 1) / kTileKeys), static_cast<unsigned>(pr.hq),
                  static_cast<unsigned>(pr.batch));
  const size_t smem = pass_smem_bytes(pr.d);
  if (pr.dtype == DType::kBFloat16) {
    if (Status s = prepare_kernel(stats_kernel<true>, smem); !s) return s;
    stats_kernel<true><<<grid, kThreads, smem, stream>>>(p, a);
  } else {
    if (Status s = prepare_kernel(stats_kernel<false>, smem); !s) return s;
    stats_kernel<false><<<grid, kThreads, smem, stream>>>(p, a);
  }
  return check_launch("stats_kernel");
}

}  // namespace attnkit::cuda_backend
