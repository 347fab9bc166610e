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

/// \brief Runs `params` (host tensors) through the same dispatch as emulated_forward, and
/// requires the decode kernel to be chosen (kNotSupported naming the chosen kernel
/// otherwise). Device queries are answered by an emulated H100 (emu_cuda_api.hpp), so the
/// split count is what an H100 would get; `force_splits` > 0 overrides it, as an
/// explain()-reported choice would.
attnkit::Status emulated_decode(const attnkit::AttentionParams& params, DecodeRun* run = nullptr, int force_splits = 0);

}  // namespace attnkit_emu
