// CPU reference for ACT, the Attention Calibration Technique (SPEC 7): detect each head's
// attention sinks from column means, then calibrate every row between SPEC 4's output and
// SPEC 6's transforms (through reference::forward's RowHook).
#pragma once

#include <cstdint>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/problem.hpp"
#include "host/reference/stats.hpp"

namespace attnkit::reference {

/// Sink sets of every (b, h): sets[b * Hq + h] holds ascending key positions within
/// sequence b. Heads disabled by the head mask have empty sets.
using SinkSetList = std::vector<std::vector<int64_t>>;

/// \brief True when head h is calibrated (no head mask, or head_mask[h] != 0).
bool act_head_enabled(const ActOptions& options, int64_t h);

/// \brief SPEC 7 detect for one head: { j : colmean_j > theta }, minus its smallest j when
/// keep_first_sink, truncated to the max_sinks largest colmean (ties: lower j). Ascending.
std::vector<int64_t> detect_sinks(const HeadStats& stats, const ActOptions& options);

/// \brief Detects the sets of every (b, h) of a validated host problem.
SinkSetList act_detect(const detail::Problem& pr, const AttentionParams& p, const ActOptions& options);

/// \brief Writes `sets` to out.count [B, Hq] and out.index [B, Hq, K]; unused index
/// entries are -1. Every set must fit in K (detect guarantees it for K = max_sinks).
void write_sink_sets(const detail::Problem& pr, const SinkSetList& sets, const SinkSets& out);

/// \brief Reads validated host sets; heads disabled by the head mask get empty sets.
SinkSetList read_sink_sets(const detail::Problem& pr, const ActOptions& options, const SinkSets& in);

/// \brief Reference forward with ACT calibration of every row of every head with a
/// non-empty set: o' = beta u + (1 - beta m) / (1 - m) (o - u), unchanged when 1 - m < 1e-6.
Status act_forward(const detail::Problem& pr, const AttentionParams& p, const ActOptions& options,
                   const SinkSetList& sets);

}  // namespace attnkit::reference
