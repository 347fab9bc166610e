// SPEC 3 head-specific temperature: the per-head multiplier tau_h folds into the one
// log2-domain scale every logit is multiplied by.
#pragma once

#include "cuda/attention/fwd_params.hpp"
#include "cuda/core/math.cuh"

namespace attnkit::cuda_backend {

/// \brief scale * tau_h * log2(e): turns q.k into a base-2 logit, so the softmax can use
/// exp2 directly (one multiply per element, no exp(x) = exp2(x * log2e) later).
__device__ __forceinline__ float softmax_scale_log2(const FwdParams& p, int h) {
  const float tau = p.maybe_head_scale != nullptr ? p.maybe_head_scale[h * p.head_scale_stride] : 1.0f;
  return p.scale * tau * cuda_core::kLog2e;
}

}  // namespace attnkit::cuda_backend
