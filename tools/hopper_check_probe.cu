// A deliberately bad sm_90a kernel for tools/hopper-check.sh --self-test: its wgmma is issued on
// one data-dependent path and waited for on another, the pattern ptxas serializes (C7520,
// "wgmma.mma_async instructions are serialized"). The check must flag it; never built into the
// library.
#include <cstdint>

#include "cuda/core/wgmma.cuh"

__global__ void hopper_check_probe(float* out, uint64_t a_desc, uint64_t b_desc, int n) {
  float d[8][4];
  for (int i = 0; i < 8; ++i) d[i][0] = d[i][1] = d[i][2] = d[i][3] = 0.0f;
  for (int it = 0; it < n; ++it) {
    if (it % 3 == 1) {
      attnkit::cuda_core::wgmma_fence();
      attnkit::cuda_core::wgmma_ss<64, true>(d, a_desc + it, b_desc, 1);
      attnkit::cuda_core::wgmma_commit();
    }
    if (it % 5 == 2) {
      attnkit::cuda_core::wgmma_wait<0>();
      d[0][0] += 1.0f;
    }
  }
  attnkit::cuda_core::wgmma_wait<0>();
  for (int i = 0; i < 8; ++i) out[threadIdx.x * 8 + i] = d[i][0] + d[i][3];
}
