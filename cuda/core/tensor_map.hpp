// Host side of TMA: a 4-d tiled tensor map of 16-bit elements with the 128-byte swizzle,
// encoded by the driver's cuTensorMapEncodeTiled (reached through the runtime's
// cudaGetDriverEntryPointByVersion, so libattnkit does not link libcuda itself). The
// emulator (tests/emulation/shadow) replaces this header with a twin that keeps the spec in
// the map's 128 opaque bytes for its TMA twin to decode.
#pragma once

#include <cuda.h>  // CUtensorMap and its enums (types only)
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace attnkit::cuda_core {

inline constexpr int kTensorMapRank = 4;

/// What cuTensorMapEncodeTiled is given. Innermost dimension first; strides in bytes of
/// dimensions 1..3 (dimension 0 is contiguous); the box's inner extent is 64 elements (128
/// bytes, the swizzle span); elements outside dims read as zeros.
struct TensorMapSpec {
  const void* base = nullptr;
  bool is_bf16 = true;
  uint64_t dims[kTensorMapRank] = {1, 1, 1, 1};
  uint64_t strides[kTensorMapRank - 1] = {0, 0, 0};
  uint32_t box[kTensorMapRank] = {1, 1, 1, 1};
};

/// \brief "" when TMA can describe `spec` (16-byte aligned base and strides, strides below
/// 2^40, dims below 2^32, box extents 1-256, inner box 128 bytes), else why not.
inline std::string tensor_map_unsupported(const TensorMapSpec& s) {
  if (reinterpret_cast<uintptr_t>(s.base) % 16 != 0) return "the base address is not 16-byte aligned";
  for (int i = 0; i < kTensorMapRank - 1; ++i) {
    if (s.strides[i] % 16 != 0) return "a stride is not a multiple of 16 bytes";
    if (s.strides[i] >= (uint64_t{1} << 40)) return "a stride is 2^40 bytes or more";
  }
  for (int i = 0; i < kTensorMapRank; ++i) {
    if (s.dims[i] == 0 || s.dims[i] > 0xffffffffull) return "an extent is 0 or 2^32 or more";
    if (s.box[i] == 0 || s.box[i] > 256) return "a box extent is outside 1-256";
  }
  if (s.box[0] * 2 != 128) return "the inner box is not 128 bytes";
  return "";
}

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
