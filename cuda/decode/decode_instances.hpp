// Host-side declarations of the per-(head dim, dtype, KV format) decode instances; each is
// defined in one file of cuda/decode/instances/ (kKvFp8: K / V are an FP8 cache).
#pragma once

#include <cuda_runtime.h>

#include "attnkit/status.hpp"
#include "cuda/decode/decode_params.hpp"

namespace attnkit::cuda_backend {

/// \brief Launches the split-KV kernel over num_splits * Hkv * row_chunks * B CTAs and,
/// when num_splits > 1, the merge (the workspace pointers must be set), on `stream`;
/// checks each launch.
template <int kHeadDim, bool kIsBf16, bool kKvFp8>
Status launch_decode(const DecodeParams& params, cudaStream_t stream);

/// \brief Attributes of the split kernel on the current device (fails when the library
/// holds no code the device can run).
template <int kHeadDim, bool kIsBf16, bool kKvFp8>
cudaError_t decode_kernel_attributes(cudaFuncAttributes* attributes);

/// \brief Dynamic shared memory of the split kernel, in bytes.
template <int kHeadDim, bool kIsBf16, bool kKvFp8>
int decode_smem_bytes();

/// \brief Packed (query row, query head) rows one CTA serves.
template <int kHeadDim, bool kIsBf16, bool kKvFp8>
int decode_rows_per_cta();

}  // namespace attnkit::cuda_backend
