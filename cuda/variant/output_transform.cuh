// SPEC 6 output transforms, applied to a finished row after normalisation and before the
// one rounding to O's dtype: rectification (Rectified SpaAttn) o <- r * o + c, then the
// output gate (Gated Attention / MoH) y = o * act(g). Every kernel family's epilogue
// (prefill, decode, ACT's calibration) calls OutputTransform; neither is key-separable.
#pragma once

#include <cstdint>

#include "cuda/core/vec_types.cuh"
#include "cuda/variant/fwd_params.hpp"

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


/// Both transforms of one row (b, i, h): rectification, then the gate.
template <bool kIsBf16>
struct OutputTransform {
  Rectify rectify;
  OutputGate<kIsBf16> gate;

  /// `gate_row_offset`: element offset of g at (b, i, h) (the caller's sequence layout).
  __device__ OutputTransform(const FwdParams& p, int b, int h, int i, int64_t gate_row_offset)
      : rectify(p, b, h, i), gate(p, p.maybe_gate != nullptr ? gate_row_offset : 0) {}

  __device__ __forceinline__ float apply(int col, float o) const { return gate.apply(col, rectify.apply(col, o)); }
};

}  // namespace attnkit::cuda_backend
