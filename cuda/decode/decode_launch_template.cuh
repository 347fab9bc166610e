// Definitions behind decode_instances.hpp; included only by the instance files.
#pragma once

#include <string>

#include "cuda/decode/decode_instances.hpp"
#include "cuda/decode/decode_kernel.cuh"
#include "cuda/decode/decode_traits.cuh"

namespace attnkit::cuda_backend {

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
Status launch_decode(const DecodeParams& params, cudaStream_t stream) {
  using Traits = DecodeTraits<kHeadDim, kIsBf16, kKvFp8>;
  const auto kernel = &decode_split_kernel<Traits>;
  constexpr int kSmem = Traits::kSmemBytes;
  if constexpr (kSmem > 48 * 1024) {
    const cudaError_t err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
    if (err != cudaSuccess) {
      return Status(StatusCode::kCudaError, std::string("cudaFuncSetAttribute(MaxDynamicSharedMemorySize = ") +
                                                std::to_string(kSmem) + ") failed: " + cudaGetErrorString(err));
    }
  }
  const int64_t ctas = static_cast<int64_t>(params.num_splits) * params.hkv * params.row_chunks * params.fwd.batch;
  kernel<<<static_cast<unsigned>(ctas), Traits::kNumThreads, kSmem, stream>>>(params);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    return Status(StatusCode::kCudaError, std::string("decode split kernel launch failed: ") + cudaGetErrorString(err));
  }
  if (params.num_splits == 1) return Status::ok();
  constexpr int kMergeThreads = 256;
  const int64_t items = static_cast<int64_t>(params.fwd.batch) * params.max_seqlen_q * params.fwd.hq * Traits::kChunks;
  decode_merge_kernel<Traits><<<static_cast<unsigned>((items + kMergeThreads - 1) / kMergeThreads), kMergeThreads, 0,
                                stream>>>(params);
  err = cudaGetLastError();
  if (err != cudaSuccess) {
    return Status(StatusCode::kCudaError, std::string("decode merge kernel launch failed: ") + cudaGetErrorString(err));
  }
  return Status::ok();
}

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
cudaError_t decode_kernel_attributes(cudaFuncAttributes* attributes) {
  return cudaFuncGetAttributes(attributes, &decode_split_kernel<DecodeTraits<kHeadDim, kIsBf16, kKvFp8>>);
}

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
int decode_smem_bytes() {
  return DecodeTraits<kHeadDim, kIsBf16, kKvFp8>::kSmemBytes;
}

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
int decode_rows_per_cta() {
  return DecodeTraits<kHeadDim, kIsBf16, kKvFp8>::kRowsPerCta;
}

}  // namespace attnkit::cuda_backend

/// Explicit instantiation of one (head dim, dtype, KV format) instance.
#define ATTNKIT_INSTANTIATE_DECODE(kHeadDim, kIsBf16, kKvFp8)                                              \
  template attnkit::Status attnkit::cuda_backend::launch_decode<kHeadDim, kIsBf16, kKvFp8>(                \
      const attnkit::cuda_backend::DecodeParams&, cudaStream_t);                                           \
  template cudaError_t attnkit::cuda_backend::decode_kernel_attributes<kHeadDim, kIsBf16, kKvFp8>(         \
      cudaFuncAttributes*);                                                                                \
  template int attnkit::cuda_backend::decode_smem_bytes<kHeadDim, kIsBf16, kKvFp8>();                      \
  template int attnkit::cuda_backend::decode_rows_per_cta<kHeadDim, kIsBf16, kKvFp8>();
