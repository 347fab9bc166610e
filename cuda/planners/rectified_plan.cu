// Rectified SpaAttn on the GPU (SPEC 8). Pooling is float32 in the reference's order (one
// thread per feature, rows summed sequentially), so the pooled values match the CPU
// planner bit for bit; every later quantity is double with non-contracted products
// (__dmul_rn / __dadd_rn) and the reference's summation order where it decides a selection
// (the softmax sums and the cumulative sum of the sorted Phat), so selections agree.
#include <cuda_runtime.h>

#include "cuda/planners/planners_launch.hpp"
#include "cuda/stats/stats_device.cuh"
#include "cuda/stats/stats_pass.hpp"

namespace attnkit::cuda_backend {
namespace {

constexpr int kPoolThreads = 128;
constexpr int kPlanThreads = 256;

struct Pooled {
  float* qbar;  // [B, Hq, NB, D]
  float* dq;
  float* kbar;
  float* dk;
  float* vbar;  // [B, Hq, NB, Dv]
};

/// Means of rows [r0, r1) of column x, and the mean |row - mean| when `dev` is non-null.
template <bool kIsBf16>
__device__ void pool_column(const void* base, int64_t first_row, int64_t row_stride, int x, int r0, int r1, float* mean,
                            float* dev) {
  const float count = static_cast<float>(r1 - r0);
  float sum = 0.0f;
  for (int r = r0; r < r1; ++r) sum = __fadd_rn(sum, load_half<kIsBf16>(base, first_row + r * row_stride + x));
  const float m = __fdiv_rn(sum, count);
  *mean = m;
  if (dev == nullptr) return;
  float s = 0.0f;
  for (int r = r0; r < r1; ++r) s = __fadd_rn(s, fabsf(__fsub_rn(load_half<kIsBf16>(base, first_row + r * row_stride + x), m)));
  *dev = __fdiv_rn(s, count);
}

/// Grid (NB, Hq, B): pools vision block j of query head h (K and V from its kv head).
template <bool kIsBf16>
__global__ void __launch_bounds__(kPoolThreads) pool_kernel(const FwdParams p, const Pooled out, int d, int dv, int sv,
                                                            int bn, int nb) {
  const int j = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
  const int kvh = h / p.group;
  const int r0 = j * bn, r1 = min(sv, r0 + bn);
  const int64_t head = (static_cast<int64_t>(b) * p.hq + h) * nb + j;
  const int64_t q0 = static_cast<int64_t>(b) * p.q_stride.batch + static_cast<int64_t>(h) * p.q_stride.head;
  const int64_t k0 = static_cast<int64_t>(b) * p.k_stride.batch + static_cast<int64_t>(kvh) * p.k_stride.head;
  const int64_t v0 = static_cast<int64_t>(b) * p.v_stride.batch + static_cast<int64_t>(kvh) * p.v_stride.head;
  for (int x = threadIdx.x; x < d; x += kPoolThreads) {
    pool_column<kIsBf16>(p.q, q0, p.q_stride.row, x, r0, r1, out.qbar + head * d + x, out.dq + head * d + x);
    pool_column<kIsBf16>(p.k, k0, p.k_stride.row, x, r0, r1, out.kbar + head * d + x, out.dk + head * d + x);
  }
  for (int x = threadIdx.x; x < dv; x += kPoolThreads) {
    pool_column<kIsBf16>(p.v, v0, p.v_stride.row, x, r0, r1, out.vbar + head * dv + x, nullptr);
  }
}

template <class A, class B>
__device__ double dot_rn(const A* a, const B* b, int n) {
  double s = 0.0;
  for (int x = 0; x < n; ++x) s = __dadd_rn(s, __dmul_rn(static_cast<double>(a[x]), static_cast<double>(b[x])));
  return s;
}

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

/// Shared memory of one plan CTA: phat (NB + 1) and text scores (St) as double, rank and
/// order (NB + 1) as int, in_m and in_r (NB) as bytes.
size_t plan_smem_bytes(int64_t nb, int64_t st) {
  return static_cast<size_t>(nb + 1 + st) * sizeof(double) + static_cast<size_t>(nb + 1) * 2 * sizeof(int) +
         static_cast<size_t>(nb) * 2;
}

/// Grid (NQB, Hq, B): one query block's mask row, R and c.
template <bool kIsBf16>
__global__ void __launch_bounds__(kPlanThreads) plan_kernel(const FwdParams p, const PlanArgs a) {
  extern __shared__ double s_phat[];
  double* s_txt = s_phat + a.nb + 1;
  int* s_rank = reinterpret_cast<int*>(s_txt + a.st);
  int* s_order = s_rank + a.nb + 1;
  uint8_t* s_in_m = reinterpret_cast<uint8_t*>(s_order + a.nb + 1);
  uint8_t* s_in_r = s_in_m + a.nb;
  __shared__ int s_n_sel;
  const int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z, tid = threadIdx.x;
  const int nb = a.nb, d = a.d, st = a.st;
  const int64_t head = static_cast<int64_t>(b) * p.hq + h;
  int32_t* row = a.index + b * a.index_stride[0] + h * a.index_stride[1] + i * a.index_stride[2];
  float* c_out = a.c + b * a.c_stride[0] + h * a.c_stride[1] + i * a.c_stride[2];
  float* r_out = a.r + b * a.r_stride[0] + h * a.r_stride[1] + i * a.r_stride[2];
  int32_t* count_out = a.count + b * a.count_stride[0] + h * a.count_stride[1] + i * a.count_stride[2];
  if (i >= nb) {  // text query block: dense, r = 1, c = 0
    for (int e = tid; e < a.index_width; e += kPlanThreads) row[e * a.index_stride[3]] = e < a.nqb ? e : -1;
    for (int x = tid; x < a.dv; x += kPlanThreads) c_out[x * a.c_stride[3]] = 0.0f;
    if (tid == 0) {
      *r_out = 1.0f;
      *count_out = a.nqb;
    }
    return;
  }
  const float* qbar = a.pooled.qbar + (head * nb + i) * d;
  const float* kbar = a.pooled.kbar + head * nb * d;
  const int kvh = h / p.group;
  // Step 2: pooled scores (only `scale`), one softmax over vision blocks and text tokens.
  for (int j = tid; j < nb; j += kPlanThreads) s_phat[j] = __dmul_rn(a.scale, dot_rn(qbar, kbar + j * d, d));
  for (int t = tid; t < st; t += kPlanThreads) {
    const int64_t k_off = b * p.k_stride.batch + static_cast<int64_t>(a.sv + t) * p.k_stride.row + kvh * p.k_stride.head;
    double s = 0.0;
    for (int x = 0; x < d; ++x) {
      s = __dadd_rn(s, __dmul_rn(static_cast<double>(qbar[x]), static_cast<double>(load_half<kIsBf16>(p.k, k_off + x))));
    }
    s_txt[t] = __dmul_rn(a.scale, s);
  }
  __syncthreads();
  __shared__ double s_max;
  if (tid == 0) {
    double m = -INFINITY;
    for (int j = 0; j < nb; ++j) m = fmax(m, s_phat[j]);
    for (int t = 0; t < st; ++t) m = fmax(m, s_txt[t]);
    s_max = m;
  }
  __syncthreads();
  for (int j = tid; j < nb; j += kPlanThreads) s_phat[j] = exp(s_phat[j] - s_max);
  for (int t = tid; t < st; t += kPlanThreads) s_txt[t] = exp(s_txt[t] - s_max);
  __syncthreads();
  if (tid == 0) {  // the reference's order: vision then text, sequentially
    double l = 0.0;
    for (int j = 0; j < nb; ++j) l = __dadd_rn(l, s_phat[j]);
    for (int t = 0; t < st; ++t) l = __dadd_rn(l, s_txt[t]);
    double z = 0.0, text_mass = 0.0;
    for (int j = 0; j < nb; ++j) {
      const int n_j = min(a.bn, a.sv - j * a.bn);
      z = __dadd_rn(z, __dmul_rn(static_cast<double>(n_j), __ddiv_rn(s_phat[j], l)));
    }
    for (int t = 0; t < st; ++t) text_mass = __dadd_rn(text_mass, __ddiv_rn(s_txt[t], l));
    z = __dadd_rn(z, text_mass);
    for (int j = 0; j < nb; ++j) {
      const int n_j = min(a.bn, a.sv - j * a.bn);
      s_phat[j] = __ddiv_rn(__dmul_rn(static_cast<double>(n_j), __ddiv_rn(s_phat[j], l)), z);
    }
    if (st > 0) s_phat[nb] = __ddiv_rn(text_mass, z);
  }
  __syncthreads();
  // Step 3: stable descending order by rank (ties: lower index first).
  const int entries = nb + (st > 0 ? 1 : 0);
  for (int e = tid; e < entries; e += kPlanThreads) {
    const double v = s_phat[e];
    int rank = 0;
    for (int o = 0; o < entries; ++o) rank += (s_phat[o] > v || (s_phat[o] == v && o < e)) ? 1 : 0;
    s_rank[e] = rank;
    s_order[rank] = e;
  }
  __syncthreads();
  if (tid == 0) {
    double cumsum = 0.0;
    int within_tau = 0;
    for (int r = 0; r < entries; ++r) {
      cumsum = __dadd_rn(cumsum, s_phat[s_order[r]]);
      if (cumsum <= a.tau) ++within_tau;
    }
    s_n_sel = min(entries, max(a.top_k, 1 + within_tau));
  }
  __syncthreads();
  // Step 4: forced blocks and GAPR.
  const float* dq = a.pooled.dq + (head * nb + i) * d;
  const float* dk = a.pooled.dk + head * nb * d;
  for (int j = tid; j < nb; j += kPlanThreads) {
    bool in_m = s_rank[j] < s_n_sel;
    if (a.maybe_forced != nullptr) {
      const int mb = a.forced_batch == 1 ? 0 : b, mh = h / a.forced_group;
      in_m = in_m || a.maybe_forced[mb * a.forced_stride[0] + mh * a.forced_stride[1] + i * a.forced_stride[2] +
                                    j * a.forced_stride[3]] != 0;
    }
    bool in_r = in_m;
    if (!in_r && a.gapr) {
      const float* kb = kbar + j * d;
      in_r = fabs(dot_rn(qbar, kb, d)) <= __dadd_rn(fabs(dot_rn(dq, kb, d)), fabs(dot_rn(qbar, dk + j * d, d)));
    }
    s_in_m[j] = in_m ? 1 : 0;
    s_in_r[j] = in_r ? 1 : 0;
  }
  __syncthreads();
  // Step 5: R (text entry always counts) and c with pooled values.
  const float* vbar = a.pooled.vbar + head * nb * a.dv;
  for (int x = tid; x < a.dv; x += kPlanThreads) {
    double c = 0.0;
    for (int j = 0; j < nb; ++j) {
      if (!s_in_r[j]) c = __dadd_rn(c, __dmul_rn(s_phat[j], static_cast<double>(vbar[j * a.dv + x])));
    }
    c_out[x * a.c_stride[3]] = static_cast<float>(c);
  }
  if (tid == 0) {
    double r = st > 0 ? s_phat[nb] : 0.0;
    for (int j = 0; j < nb; ++j) {
      if (s_in_r[j]) r = __dadd_rn(r, s_phat[j]);
    }
    *r_out = static_cast<float>(r);
    // Mask row: the vision blocks of M_i ascending, then every key block holding text.
    int n = 0;
    for (int j = 0; j < nb; ++j) {
      if (s_in_m[j]) row[(n++) * a.index_stride[3]] = j;
    }
    for (int kb = nb; kb < a.nqb; ++kb) row[(n++) * a.index_stride[3]] = kb;
    for (int e = n; e < a.index_width; ++e) row[e * a.index_stride[3]] = -1;
    *count_out = n;
  }
}

}  // namespace

Status rectified_plan_device(const detail::Problem& pr, const AttentionParams& params, const RectifiedOptions& options,
                             const RectifiedPlan& out) {
  if (Status s = check_stats_support(pr, params); !s) return s;
  const int64_t bn = options.block_size, s_len = pr.max_sq, st = options.text_tokens, sv = s_len - st;
  const int64_t nb = (sv + bn - 1) / bn, nqb = (s_len + bn - 1) / bn;
  const size_t smem = plan_smem_bytes(nb, st);
  int device = 0, smem_optin = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  if (err != cudaSuccess) return stats_cuda_error("cudaDeviceGetAttribute", err);
  if (smem + 1024 > static_cast<size_t>(smem_optin)) {
    return Status(StatusCode::kNotSupported, "rectified_plan: " + std::to_string(nb) + " vision blocks and " +
                                                 std::to_string(st) +
                                                 " text tokens exceed the CUDA planner's shared memory");
  }
  if (pr.batch == 0 || pr.hq == 0 || nqb == 0) return Status::ok();
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  const FwdParams p = make_stats_params(pr, params);
  const int64_t heads = pr.batch * pr.hq;
  DeviceScratch pooled(stream);
  const int64_t qk = heads * nb * pr.d, v = heads * nb * pr.dv;
  if (Status s = pooled.allocate(sizeof(float) * (4 * qk + v), false, "pooled blocks"); !s) return s;
  PlanArgs a{};
  a.pooled.qbar = pooled.as<float>();
  a.pooled.dq = a.pooled.qbar + qk;
  a.pooled.kbar = a.pooled.dq + qk;
  a.pooled.dk = a.pooled.kbar + qk;
  a.pooled.vbar = a.pooled.dk + qk;
  a.d = static_cast<int>(pr.d);
  a.dv = static_cast<int>(pr.dv);
  a.sv = static_cast<int>(sv);
  a.st = static_cast<int>(st);
  a.bn = static_cast<int>(bn);
  a.nb = static_cast<int>(nb);
  a.nqb = static_cast<int>(nqb);
  a.scale = pr.scale;
  a.top_k = options.top_k;
  a.tau = options.tau;
  a.gapr = options.gapr;
  if (options.forced.present()) {
    const TensorView& f = options.forced;
    a.maybe_forced = static_cast<const uint8_t*>(f.data);
    for (int d = 0; d < 4; ++d) a.forced_stride[d] = f.stride[d];
    a.forced_batch = static_cast<int>(f.shape[0]);
    a.forced_group = static_cast<int>(pr.hq / f.shape[1]);
  }
  a.count = static_cast<int32_t*>(out.mask.kv_count.data);
  for (int d = 0; d < 3; ++d) a.count_stride[d] = out.mask.kv_count.stride[d];
  a.index = static_cast<int32_t*>(out.mask.kv_index.data);
  for (int d = 0; d < 4; ++d) a.index_stride[d] = out.mask.kv_index.stride[d];
  a.index_width = static_cast<int>(out.mask.kv_index.shape[3]);
  a.r = static_cast<float*>(out.rectify.r.data);
  for (int d = 0; d < 3; ++d) a.r_stride[d] = out.rectify.r.stride[d];
  a.c = static_cast<float*>(out.rectify.c.data);
  for (int d = 0; d < 4; ++d) a.c_stride[d] = out.rectify.c.stride[d];

  const dim3 pool_grid(static_cast<unsigned>(nb), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch));
  const dim3 plan_grid(static_cast<unsigned>(nqb), static_cast<unsigned>(pr.hq), static_cast<unsigned>(pr.batch));
  auto launch = [&](auto pool, auto plan) -> Status {
    if (nb > 0) {
      pool<<<pool_grid, kPoolThreads, 0, stream>>>(p, a.pooled, a.d, a.dv, a.sv, a.bn, a.nb);
      if (Status s = check_launch("pool_kernel"); !s) return s;
    }
    if ((err = cudaFuncSetAttribute(plan, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem))) !=
        cudaSuccess) {
      return stats_cuda_error("cudaFuncSetAttribute (plan_kernel)", err);
    }
    plan<<<plan_grid, kPlanThreads, smem, stream>>>(p, a);
    return check_launch("plan_kernel");
  };
  return pr.dtype == DType::kBFloat16 ? launch(pool_kernel<true>, plan_kernel<true>)
                                      : launch(pool_kernel<false>, plan_kernel<false>);
}

Status rectified_attention_device(const detail::Problem& pr, const AttentionParams& params,
                                  const RectifiedOptions& options, const RectifiedPlan& workspace) {
  // Step 6's call, checked before anything is planned: validate fully, then launch.
  AttentionParams sparse = params;
  sparse.block_mask = workspace.mask;
  sparse.rectify = workspace.rectify;
  std::string why;
  if (!is_supported(sparse, &why)) {
    return Status(StatusCode::kNotSupported, "rectified_attention: the CUDA forward kernel cannot run the planned call: " + why);
  }
  if (Status s = rectified_plan_device(pr, params, options, workspace); !s) return s;
  return forward(sparse);
}

}  // namespace attnkit::cuda_backend
