// The Hopper family's argument block for one call: FwdParams plus TMA maps of Q, K and V as
// 4-d tensors (head dim, row, head, batch) with boxes of (64, block rows, 1, 1). Varlen calls
// use one batch of global rows: a tile that runs past its sequence reads the next
// sequence's rows (masked by the variant), past the tensor TMA fills zeros. Header-only, so
// that the emulation compiles it with its tensor-map twin.
#pragma once

#include <cstdint>
#include <string>

#include "attnkit/params.hpp"
#include "common/problem.hpp"
#include "cuda/core/tensor_map.hpp"
#include "cuda/hopper/hopper_params.hpp"
#include "cuda/variant/fwd_params.hpp"
#include "cuda/variant/make_fwd_params.hpp"  // row_strides

namespace attnkit::cuda_backend {

/// \brief The TMA map spec of a query- or key-side tensor with `rows` rows per batch entry.
inline cuda_core::TensorMapSpec hopper_map_spec(const void* base, const RowStrides& s, bool is_bf16, int64_t head_dim,
                                                int64_t rows, int64_t heads, int64_t batch, bool varlen,
                                                int box_rows) {
  cuda_core::TensorMapSpec spec;
  spec.base = base;
  spec.is_bf16 = is_bf16;
  spec.dims[0] = static_cast<uint64_t>(head_dim);
  spec.dims[1] = static_cast<uint64_t>(rows);
  spec.dims[2] = static_cast<uint64_t>(heads);
  spec.dims[3] = static_cast<uint64_t>(varlen ? 1 : batch);
  // The stride of an extent-1 dimension (one head, one batch entry, a varlen call's batch) is
  // never used: 16 bytes, the smallest the driver takes, so that it cannot exclude the call.
  const int64_t strides[3] = {s.row, s.head, varlen ? 0 : s.batch};
  for (int i = 0; i < 3; ++i) {
    spec.strides[i] = spec.dims[i + 1] == 1 ? 16 : static_cast<uint64_t>(strides[i]) * 2;
  }
  spec.box[0] = 64;
  spec.box[1] = static_cast<uint32_t>(box_rows);
  spec.box[2] = 1;
  spec.box[3] = 1;
  return spec;
}

/// \brief The three specs of a validated call (Q, K, V), from its own tensors: select_kernel
/// checks them without building FwdParams, and the launch encodes them.
inline void hopper_map_specs(const detail::Problem& problem, const AttentionParams& a, int block_m, int block_n,
                             cuda_core::TensorMapSpec (&specs)[3]) {
  const bool bf16 = problem.dtype == DType::kBFloat16;
  const bool varlen = problem.varlen;
  const int64_t q_rows = varlen ? problem.total_q : problem.max_sq;
  const int64_t k_rows = varlen ? problem.total_k : problem.max_sk;
  specs[0] = hopper_map_spec(a.q.data, row_strides(a.q, varlen), bf16, problem.d, q_rows, problem.hq, problem.batch,
                             varlen, block_m);
  specs[1] = hopper_map_spec(a.k.data, row_strides(a.k, varlen), bf16, problem.d, k_rows, problem.hkv, problem.batch,
                             varlen, block_n);
  specs[2] = hopper_map_spec(a.v.data, row_strides(a.v, varlen), bf16, problem.dv, k_rows, problem.hkv, problem.batch,
                             varlen, block_n);
}

/// \brief "" when TMA can describe Q, K and V of this call, else the reason (named tensor).
inline std::string hopper_maps_unsupported(const detail::Problem& problem, const AttentionParams& a, int block_m,
                                           int block_n) {
  cuda_core::TensorMapSpec specs[3];
  hopper_map_specs(problem, a, block_m, block_n, specs);
  const char* names[3] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i) {
    const std::string why = cuda_core::tensor_map_unsupported(specs[i]);
    if (!why.empty()) return std::string(names[i]) + ": " + why;
  }
  return "";
}

/// \brief `p` (built from `a`, its O perhaps redirected: ACT) plus the encoded maps of a's Q, K
/// and V; "" or the driver's refusal.
inline std::string make_hopper_params(const detail::Problem& problem, const AttentionParams& a, const FwdParams& p,
                                      int block_m, int block_n, HopperFwdParams* out) {
  cuda_core::TensorMapSpec specs[3];
  hopper_map_specs(problem, a, block_m, block_n, specs);
  CUtensorMap* maps[3] = {&out->tma_q, &out->tma_k, &out->tma_v};
  const char* names[3] = {"q", "k", "v"};
  for (int i = 0; i < 3; ++i) {
    std::string why = cuda_core::tensor_map_unsupported(specs[i]);
    if (why.empty() && cuda_core::encode_tensor_map(specs[i], maps[i], &why) == cudaSuccess) continue;
    return std::string("TMA map of ") + names[i] + ": " + why;
  }
  out->p = p;
  return "";
}

}  // namespace attnkit::cuda_backend
