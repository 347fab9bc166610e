// The argument block of the Hopper family: the common FwdParams (every feature) plus the TMA
// descriptors of Q, K and V, encoded on the host per call (cuda/hopper/hopper_launch.cu).
#pragma once

#include <cuda.h>  // CUtensorMap (a 64-byte aligned, 128-byte opaque type)

#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

/// TMA maps are 4-d (head dim, row, head, batch); varlen calls have one batch and global
/// rows. Passed as a __grid_constant__ kernel parameter, so the maps' addresses are valid
/// TMA operands.
struct HopperFwdParams {
  CUtensorMap tma_q;
  CUtensorMap tma_k;
  CUtensorMap tma_v;
  FwdParams p;
};

}  // namespace attnkit::cuda_backend
