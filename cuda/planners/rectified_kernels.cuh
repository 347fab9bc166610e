// Rectified SpaAttn's planner kernels (SPEC 8). Pooling is float32 in the reference's
// order (one thread per feature, rows summed sequentially), so the pooled values match the
// CPU planner bit for bit; every later quantity is double with non-contracted products
// (__dmul_rn / __dadd_rn) and the reference's summation order where it decides a selection
// (the softmax sums and the cumulative sum of the sorted Phat), so selections agree.
// Launched by planner_kernel_launch.cu.
#pragma once

#include "cuda/planners/planner_params.hpp"
#include "cuda/stats/stats_device.cuh"

namespace attnkit::cuda_backend {

/// Means of rows [r0, r1) of column x, and the mean |row - mean| when `dev` is non-null.
template <bool kIsBf16>
__device__ inline void pool_column(const void* base, int64_t first_row, int64_t row_stride, int x, int r0, int r1, float* mean,
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
__device__ inline double dot_rn(const A* a, const B* b, int n) {
  double s = 0.0;
  for (int x = 0; x < n; ++x) s = __dadd_rn(s, __dmul_rn(static_cast<double>(a[x]), static_cast<double>(b[x])));
  return s;
}

/// Grid (NQB, Hq, B): one query block's mask row, R and c.
template <bool kIsBf16>
__global__ void __launch_bounds__(kPlanThreads) plan_kernel(const FwdParams p, const PlanArgs a) {
  PlanSmem& s = *reinterpret_cast<PlanSmem*>(stats_shared_memory());
  double* s_phat = reinterpret_cast<double*>(&s + 1);  // (NB + 1): vision blocks, then the text entry
  double* s_txt = s_phat + a.nb + 1;                    // (St)
  int* s_rank = reinterpret_cast<int*>(s_txt + a.st);
  int* s_order = s_rank + a.nb + 1;
  uint8_t* s_in_m = reinterpret_cast<uint8_t*>(s_order + a.nb + 1);
  uint8_t* s_in_r = s_in_m + a.nb;
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
  if (tid == 0) {
    double m = -INFINITY;
    for (int j = 0; j < nb; ++j) m = fmax(m, s_phat[j]);
    for (int t = 0; t < st; ++t) m = fmax(m, s_txt[t]);
    s.max_score = m;
  }
  __syncthreads();
  for (int j = tid; j < nb; j += kPlanThreads) s_phat[j] = exp(s_phat[j] - s.max_score);
  for (int t = tid; t < st; t += kPlanThreads) s_txt[t] = exp(s_txt[t] - s.max_score);
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
    s.n_sel = min(entries, max(a.top_k, 1 + within_tau));
  }
  __syncthreads();
  // Step 4: forced blocks and GAPR.
  const float* dq = a.pooled.dq + (head * nb + i) * d;
  const float* dk = a.pooled.dk + head * nb * d;
  for (int j = tid; j < nb; j += kPlanThreads) {
    bool in_m = s_rank[j] < s.n_sel;
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

}  // namespace attnkit::cuda_backend
