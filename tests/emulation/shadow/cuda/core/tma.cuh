// Emulated twin of cuda/core/tma.cuh (tests/emulation): the tensor map is the one the shadow
// tensor_map.hpp encoded, decoded here and handed to attnkit_emu::tma_load, which places the
// box with the 128-byte swizzle, fills out-of-bounds elements with zeros, completes the
// box's bytes on the barrier at once and lands the data only when a thread's mbarrier_wait
// sees the phase complete (the destination is "in flight", and any access to it an error,
// until then).
#pragma once

#include <cstdint>
#include <string>

#include "cuda/core/tensor_map.hpp"  // the shadow twin: TensorMapSpec in the map's opaque bytes
#include "emu_runtime.hpp"

namespace attnkit::cuda_core {
namespace emu_detail {

inline bool tma_tensor(const void* tensor_map, const char* what, attnkit_emu::TmaTensor* out) {
  TensorMapSpec spec;
  if (tensor_map == nullptr || !decode_tensor_map(tensor_map, &spec)) {
    attnkit_emu::report_error(std::string(what) + " of a tensor map encode_tensor_map did not write");
    return false;
  }
  out->base = spec.base;
  for (int i = 0; i < kTensorMapRank; ++i) {
    out->dims[i] = spec.dims[i];
    out->box[i] = spec.box[i];
  }
  for (int i = 0; i < kTensorMapRank - 1; ++i) out->strides[i] = spec.strides[i];
  return true;
}

}  // namespace emu_detail

/// \brief Loads the box at coordinates (c0 innermost .. c3) of the 4-d map `tensor_map` into
/// `smem` and completes its bytes on `bar`.
__device__ __forceinline__ void tma_load_4d(uint32_t smem, const void* tensor_map, uint32_t bar, int c0, int c1,
                                            int c2, int c3) {
  attnkit_emu::TmaTensor tensor;
  if (!emu_detail::tma_tensor(tensor_map, "tma_load_4d", &tensor)) return;
  attnkit_emu::tma_load(smem, tensor, bar, c0, c1, c2, c3);
}

/// \brief prefetch.tensormap: checks the map only.
__device__ __forceinline__ void tma_prefetch_descriptor(const void* tensor_map) {
  attnkit_emu::TmaTensor tensor;
  emu_detail::tma_tensor(tensor_map, "tma_prefetch_descriptor", &tensor);
}

}  // namespace attnkit::cuda_core
