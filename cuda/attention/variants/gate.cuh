// SPEC 6.2 output gate (Gated Attention / MoH): y = o * act(g), headwise or elementwise,
// g in float32 or Q's dtype, read through its own strides (in place from a packed buffer).
#pragma once

#include <cstdint>

#include "cuda/attention/fwd_params.hpp"
#include "cuda/core/vec_types.cuh"

namespace attnkit::cuda_backend {

template <bool kIsBf16>
struct OutputGate {
  const unsigned char* maybe_row;  // g at (b, i, h), as bytes; nullptr when there is no gate
  int64_t col_stride_bytes;        // elementwise: bytes between columns; headwise: 0
  bool is_float32;
  bool sigmoid;
  float headwise_value;            // act(g) of a headwise gate (1 otherwise)

  __device__ OutputGate(const FwdParams& p, int64_t row_offset)
      : maybe_row(nullptr), col_stride_bytes(0), is_float32(p.gate_is_float32),
        sigmoid(p.gate_sigmoid), headwise_value(1.0f) {
    if (p.maybe_gate == nullptr) return;
    const int elem_bytes = is_float32 ? 4 : 2;
    maybe_row = static_cast<const unsigned char*>(p.maybe_gate) + row_offset * elem_bytes;
    if (p.gate_elementwise) {
      col_stride_bytes = p.gate_col_stride * elem_bytes;
    } else {
      headwise_value = activate(load(maybe_row));
      maybe_row = nullptr;  // the per-column path is not needed
    }
  }

  __device__ __forceinline__ float apply(int col, float o) const {
    if (maybe_row == nullptr) return o * headwise_value;
    return o * activate(load(maybe_row + col * col_stride_bytes));
  }

 private:
  __device__ __forceinline__ float load(const unsigned char* ptr) const {
    return is_float32 ? *reinterpret_cast<const float*>(ptr)
                      : cuda_core::half_bits_to_float<kIsBf16>(*reinterpret_cast<const uint16_t*>(ptr));
  }
  __device__ __forceinline__ float activate(float g) const {
    return sigmoid ? 1.0f / (1.0f + __expf(-g)) : g;
  }
};

}  // namespace attnkit::cuda_backend
