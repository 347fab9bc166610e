// Host side of TMA: a 4-d tiled tensor map of 16-bit elements with the 128-byte swizzle
// (cuda/core/tensor_map_spec.hpp), encoded by the driver's cuTensorMapEncodeTiled (reached through the runtime's
// cudaGetDriverEntryPointByVersion, so libattnkit does not link libcuda itself). The
// emulator (tests/emulation/shadow) replaces this header with a twin that keeps the spec in
// the map's 128 opaque bytes for its TMA twin to decode.
#pragma once

#include <cuda.h>  // CUtensorMap and its enums (types only)
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "cuda/core/tensor_map_spec.hpp"

namespace attnkit::cuda_core {

/// \brief Encodes `spec` into *out; cudaErrorInvalidValue when the driver refuses it (or
/// cannot be reached), with the reason in *why.
inline cudaError_t encode_tensor_map(const TensorMapSpec& spec, CUtensorMap* out, std::string* why) {
  using EncodeFn = CUresult (*)(CUtensorMap*, CUtensorMapDataType, cuuint32_t, void*, const cuuint64_t*,
                                const cuuint64_t*, const cuuint32_t*, const cuuint32_t*, CUtensorMapInterleave,
                                CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
  static EncodeFn encode = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) !=
            cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      fn = nullptr;
    }
    return reinterpret_cast<EncodeFn>(fn);
  }();
  if (encode == nullptr) {
    *why = "the driver has no cuTensorMapEncodeTiled";
    return cudaErrorInvalidValue;
  }
  const cuuint32_t element_strides[kTensorMapRank] = {1, 1, 1, 1};
  const CUresult r = encode(out, spec.is_bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
                            kTensorMapRank, const_cast<void*>(spec.base), spec.dims, spec.strides, spec.box,
                            element_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                            CU_TENSOR_MAP_L2_PROMOTION_L2_128B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) {
    *why = "cuTensorMapEncodeTiled returned " + std::to_string(static_cast<int>(r));
    return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

}  // namespace attnkit::cuda_core
