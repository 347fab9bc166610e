// The argument block of the merge_states kernel (merge_kernel.cuh): every part's O and LSE
// as a pointer and (batch, row, head) strides, the output, the sink and the launch shape.
// Plain C++, so that the host logic (merge_device.cu) and the CPU emulation
// (tests/emulation) see exactly the layout the kernel reads.
#pragma once

#include <cstdint>

#include "attnkit/tensor.hpp"
#include "cuda/variant/fwd_params.hpp"

namespace attnkit::cuda_backend {

inline constexpr int kMergeThreads = 128;
inline constexpr int kMergeWarpSize = 32;
/// Columns one lane combines per step: 16 bytes of fp16 / bf16, one uint4 load.
inline constexpr int kMergeChunk = 8;
/// The two part capacities of the kernel: a small argument block for the usual two or
/// three parts (cascade attention, one ring step), a large one up to the most a call takes.
inline constexpr int kMergeFewParts = 4;
inline constexpr int kMergeMaxParts = 64;

/// One partial state. Batched: O [B, S, H, Dv] and LSE [B, H, S]; packed: O [N, H, Dv] and
/// LSE [H, N] with batch strides 0. Element (b, s, h) sits at b * batch + s * row + h * head.
struct MergePart {
  const void* o = nullptr;
  const float* lse = nullptr;
  RowStrides o_stride;
  RowStrides lse_stride;
  DType dtype = DType::kFloat32;
  bool vec = false;  // 16-byte aligned chunks: full chunks load as uint4 / float4
};

template <int kCapacity>
struct MergeArgs {
  MergePart parts[kCapacity];
  int num_parts = 0;

  void* o = nullptr;  // same layout as the parts
  RowStrides o_stride;
  DType o_dtype = DType::kFloat32;
  bool o_vec = false;
  float* maybe_lse = nullptr;
  RowStrides lse_stride;
  const float* maybe_sink = nullptr;  // float32 [H], natural log
  int64_t sink_stride = 0;

  int64_t batch = 0;
  int64_t seqlen = 0;
  int64_t heads = 0;
  int dv = 0;
  /// Lanes that share one (row, head): a power of two in [1, 32], ceil(Dv / kMergeChunk)
  /// rounded up, so one warp covers 32 / lanes_per_pair (row, head) pairs at once.
  int lanes_per_pair = 1;
};

// Kernel parameters are limited to 32764 bytes (CUDA 12.1+, sm_70+); the gate's FwdParams
// travels beside the largest block.
static_assert(sizeof(MergeArgs<kMergeMaxParts>) + sizeof(FwdParams) <= 32764, "kernel parameter space");

}  // namespace attnkit::cuda_backend
