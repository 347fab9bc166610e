// SPEC 6.1 rectification (Rectified SpaAttn): o <- r[b, h, i / block_q] * o + c[b, h, i / block_q, :].
#pragma once

#include <cstdint>

#include "cuda/attention/fwd_params.hpp"

namespace attnkit::cuda_backend {

struct Rectify {
  const float* maybe_c_row;  // c[b, h, i / block_q, :] or nullptr when rectification is off
  int64_t c_col_stride;
  float r;

  __device__ Rectify(const FwdParams& p, int b, int h, int i) : maybe_c_row(nullptr), c_col_stride(0), r(1.0f) {
    if (p.maybe_rectify_r == nullptr) return;
    const int qb = i / p.rectify_block_q;
    if (qb >= p.rectify_nqb) return;  // validated shapes make this unreachable
    r = p.maybe_rectify_r[b * p.rectify_r_stride[0] + h * p.rectify_r_stride[1] + qb * p.rectify_r_stride[2]];
    maybe_c_row = p.maybe_rectify_c + b * p.rectify_c_stride[0] + h * p.rectify_c_stride[1] +
                  qb * p.rectify_c_stride[2];
    c_col_stride = p.rectify_c_stride[3];
  }

  __device__ __forceinline__ float apply(int col, float o) const {
    return maybe_c_row != nullptr ? r * o + maybe_c_row[col * c_col_stride] : o;
  }
};

}  // namespace attnkit::cuda_backend
