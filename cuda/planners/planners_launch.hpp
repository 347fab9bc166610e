// Host-side interface of the CUDA planners (SPEC 8), called by host/api_planners.cpp under
// ATTNKIT_WITH_CUDA with a fully validated call. Each checks what the CUDA path supports
// before launching anything (kNotSupported otherwise) and emits the plan on the device.
#pragma once

#include "attnkit/attention.hpp"
#include "common/problem.hpp"

namespace attnkit::cuda_backend {

/// \brief SparseD's mask on the device: block statistics (LSE pass + statistics pass, and a
/// second pair restricted to keys >= g with a generation start), then one CTA per
/// (b, h, query block) ranks the blocks (ties: lower kb) and writes the row ascending, -1 after.
Status sparsed_plan_device(const detail::Problem& problem, const AttentionParams& params,
                           const SparseDOptions& options, const BlockMask& out);

/// \brief Rectified SpaAttn's plan on the device: a pooling kernel (float32 means and mean
/// absolute deviations, in the reference's summation order), then one CTA per (b, h, query
/// block) for scores, Phat, the stable selection, forced blocks, GAPR, R and c (double).
Status rectified_plan_device(const detail::Problem& problem, const AttentionParams& params,
                             const RectifiedOptions& options, const RectifiedPlan& out);

/// \brief rectified_attention on the device: checks that the forward kernel can run the
/// planned call, plans into `workspace`, then runs the block-sparse forward with the plan's
/// mask and rectification (and the call's gate).
Status rectified_attention_device(const detail::Problem& problem, const AttentionParams& params,
                                  const RectifiedOptions& options, const RectifiedPlan& workspace);

}  // namespace attnkit::cuda_backend
