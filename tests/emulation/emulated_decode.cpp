// Compiles cuda/decode/decode_kernel.cuh (split and merge kernels) and
// cuda/decode/decode_launch.cu (select_decode_kernel, run_decode, the split heuristics and
// the workspace) with the host compiler. The CUDA runtime calls of the launcher go to
// emu_cuda_api.hpp; the four functions of decode_launch_template.cuh, whose launch_decode
// holds the two <<<>>> launches, are defined here on top of attnkit_emu::run_grid. Nothing
// under cuda/ is edited.
#include "emulated_decode.hpp"

#include <algorithm>
#include <cmath>

#include "common/kernel_choice.hpp"
#include "common/problem.hpp"
#include "emu_runtime.hpp"

// The device-only spellings the host headers of CUDA leave undefined for g++.
#define __launch_bounds__(...)
#define __expf(x) expf(x)  // the intrinsic's approximation error is not emulated (gate sigmoid)
using std::max;  // the kernel's unqualified min / max on int
using std::min;

// Own namespace, as in emulated_forward.cpp: never collides with the real (GPU) launcher.
#define cuda_backend cuda_backend_emu
#include "cuda/decode/decode_kernel.cuh"
#include "emu_cuda_api.hpp"  // after cuda_runtime.h, before the launcher
#include "cuda/decode/decode_launch.cu"

namespace attnkit::cuda_backend {

// What decode_split_kernel declares as `extern __shared__ unsigned char smem[]`: room for
// the largest instance (d256: 144 KB).
constexpr size_t kDecodeSharedCapacity = 160 * 1024;
alignas(128) unsigned char smem[kDecodeSharedCapacity];

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
Status launch_decode(const DecodeParams& params, cudaStream_t) {
  using Traits = DecodeTraits<kHeadDim, kIsBf16, kKvFp8>;
  static_assert(Traits::kSmemBytes <= kDecodeSharedCapacity, "the emulated shared memory holds every instance");
  attnkit_emu::set_shared_memory(smem, sizeof(smem));
  attnkit_emu::LaunchConfig split;
  const int64_t ctas = static_cast<int64_t>(params.num_splits) * params.hkv * params.row_chunks * params.fwd.batch;
  split.grid = dim3(static_cast<unsigned>(ctas), 1, 1);
  split.threads = Traits::kNumThreads;
  split.smem_bytes = Traits::kSmemBytes;
  std::string error = attnkit_emu::run_grid(split, [&params] { decode_split_kernel<Traits>(params); });
  if (!error.empty()) return Status(StatusCode::kInternal, "emulated decode_split_kernel: " + error);
  if (params.num_splits == 1) return Status::ok();

  constexpr int kMergeThreads = 256;  // as decode_launch_template.cuh
  const int64_t items = static_cast<int64_t>(params.fwd.batch) * params.max_seqlen_q * params.fwd.hq * Traits::kChunks;
  attnkit_emu::LaunchConfig merge;
  merge.grid = dim3(static_cast<unsigned>((items + kMergeThreads - 1) / kMergeThreads), 1, 1);
  merge.threads = kMergeThreads;
  merge.smem_bytes = 0;
  error = attnkit_emu::run_grid(merge, [&params] { decode_merge_kernel<Traits>(params); });
  if (!error.empty()) return Status(StatusCode::kInternal, "emulated decode_merge_kernel: " + error);
  return Status::ok();
}

template <int kHeadDim, bool kIsBf16, bool kKvFp8>
cudaError_t decode_kernel_attributes(cudaFuncAttributes*) {
  return cudaSuccess;
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

#undef cuda_backend
