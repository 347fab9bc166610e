// Shared-memory to register loads of 8x8 16-bit matrices (ldmatrix), sm_75 and newer.
#pragma once

#include <cstdint>

namespace attnkit::cuda_core {

/// \brief Shared-memory address of a generic pointer, as PTX's .shared instructions want.
__device__ __forceinline__ uint32_t smem_address(const void* ptr) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(ptr));
}

/// \brief Loads four 8x8 matrices; lanes 8*i .. 8*i+7 give the row addresses of matrix i,
/// and r[i] receives this lane's pair (row lane / 4, cols 2 * (lane % 4) + {0, 1}) of it.
__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], uint32_t smem_row_address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_row_address));
}

/// \brief Like ldmatrix_x4, transposed: r[i] receives (rows 2 * (lane % 4) + {0, 1},
/// col lane / 4) of matrix i. Used for the B operand of P * V (V stored key-major).
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], uint32_t smem_row_address) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_row_address));
}

}  // namespace attnkit::cuda_core
