// The real statistics, ACT and planner paths (cuda/stats, cuda/planners: host logic and
// kernels) run on the CPU emulator over host tensors.
#pragma once

#include "attnkit/attention.hpp"

namespace attnkit_emu {

// Each validates `params` as the public call does (validate_attention; the option and
// output checks of the public API are left to the CPU reference run on the same arguments,
// which the tests make first), then runs the cuda_backend function the public call would
// reach on a GPU, unchanged: its support checks see the emulated H100 (emu_cuda_api.hpp),
// its scratch is host memory filled with NaN, and every kernel launch is emulated. The
// forward call inside act_forward and rectified_attention runs the emulated forward
// kernel. A violated CUDA rule comes back as kInternal with the emulator's message.

attnkit::Status emulated_attention_stats(const attnkit::AttentionParams& params, const attnkit::StatsOutputs& out);
attnkit::Status emulated_act_detect(const attnkit::AttentionParams& params, const attnkit::ActOptions& options,
                                    const attnkit::SinkSets& out);
/// \brief act_forward (given_sets == nullptr, detected sets written to `detected` when
/// non-null) or act_forward_with_sets (given_sets).
attnkit::Status emulated_act_forward(const attnkit::AttentionParams& params, const attnkit::ActOptions& options,
                                     const attnkit::SinkSets* detected, const attnkit::SinkSets* given_sets = nullptr);
attnkit::Status emulated_sparsed_plan(const attnkit::AttentionParams& params, const attnkit::SparseDOptions& options,
                                      const attnkit::BlockMask& out);
attnkit::Status emulated_rectified_plan(const attnkit::AttentionParams& params, const attnkit::RectifiedOptions& options,
                                        const attnkit::RectifiedPlan& out);
attnkit::Status emulated_rectified_attention(const attnkit::AttentionParams& params,
                                             const attnkit::RectifiedOptions& options,
                                             const attnkit::RectifiedPlan& workspace);

}  // namespace attnkit_emu
