// The real split-KV decode kernel, its merge and its launcher (cuda/decode), run on the
// CPU emulator.
#pragma once

#include <string>

#include "attnkit/params.hpp"
#include "attnkit/status.hpp"

namespace attnkit_emu {

/// What the decode launcher chose for one emulated call.
struct DecodeRun {
  std::string kernel;  // select_decode_kernel's name, e.g. "decode_sm80<bf16,d64>"
  int num_splits = 0;  // key splits that ran (> 1: the merge kernel ran too)
};

/// \brief Validates `params` (host tensors) as attnkit::forward would, then plans it with
/// the real select_decode_kernel (device queries answered by an emulated H100, see
/// emu_cuda_api.hpp) and runs cuda_backend::run_decode, unchanged, with every CTA of the
/// split and merge kernels emulated. `force_splits` > 0 overrides the planned split count,
/// as an explain()-reported choice would. Calls the dispatcher would not send to the
/// decode kernel (unpaged with Sq > 16) are kNotSupported; a violated CUDA rule comes back
/// as kInternal with the emulator's message.
attnkit::Status emulated_decode(const attnkit::AttentionParams& params, DecodeRun* run = nullptr, int force_splits = 0);

}  // namespace attnkit_emu
