// The shape summary of a validated merge_states call, shared by the CPU reference and the
// CUDA merge path (neither includes the other's headers). Built only by validate_merge().
#pragma once

#include <cstdint>

#include "attnkit/tensor.hpp"

namespace attnkit::detail {

struct MergeProblem {
  DeviceKind device = DeviceKind::kHost;
  DType part_dtype = DType::kFloat32;  // every o_parts[i]
  DType out_dtype = DType::kFloat32;   // o
  int num_parts = 0;

  /// Packed / varlen layout: O [N, H, Dv], LSE [H, N] (then batch = 1, seqlen = N).
  bool packed = false;
  int64_t batch = 0;   // B
  int64_t seqlen = 0;  // S (N when packed)
  int64_t heads = 0;   // H
  int64_t dv = 0;

  bool has_lse = false;
  bool has_sink = false;
  bool has_gate = false;
  bool gate_elementwise = false;

  int64_t rows() const { return batch * seqlen; }

  /// \brief Element offset of (b, s, h) in an O-side tensor ([B, S, H, X] or [N, H, X]).
  int64_t o_row(const TensorView& t, int64_t b, int64_t s, int64_t h) const {
    return packed ? s * t.stride[0] + h * t.stride[1] : b * t.stride[0] + s * t.stride[1] + h * t.stride[2];
  }
  /// \brief Element offset of (b, s, h) in an LSE tensor ([B, H, S] or [H, N]).
  int64_t lse_at(const TensorView& t, int64_t b, int64_t s, int64_t h) const {
    return packed ? h * t.stride[0] + s * t.stride[1] : b * t.stride[0] + h * t.stride[1] + s * t.stride[2];
  }
};

}  // namespace attnkit::detail
