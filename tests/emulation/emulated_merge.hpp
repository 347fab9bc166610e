// The real merge_states path (cuda/merge: host logic and kernel) on the CPU emulator over
// host tensors.
#pragma once

#include "attnkit/merge.hpp"

namespace attnkit_emu {

/// \brief Validates `params` as merge_states does, then runs the cuda_backend function the
/// public call would reach on a GPU, unchanged (its device checks see the emulated H100);
/// the kernel launch is emulated. A violated CUDA rule comes back as kInternal with the
/// emulator's message.
attnkit::Status emulated_merge_states(const attnkit::MergeStatesParams& params);

}  // namespace attnkit_emu
