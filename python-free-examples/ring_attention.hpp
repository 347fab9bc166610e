// Ring attention (context parallelism) as ring_attention_nccl.cpp runs it, kept free of NCCL
// and CUDA so that tests/merge/test_ring_attention.cpp runs the same schedule and the same
// merges with the ranks simulated in one process on the CPU backend.
//
// `world` ranks each hold one shard of the queries and one shard of the keys and values.
// At step t rank r attends to KV shard (r - t) mod world with forward() (LSE on, no sink),
// then passes the shard it holds to rank r + 1 and receives rank r - 1's: after `world`
// steps every rank has seen every shard once. Each step's (O, LSE) is merged in place into
// a running state with merge_states; the last merge adds the learned sink and writes the
// rank's output (any dtype) and LSE. merge_states takes parts of one dtype, so the running
// state has the step outputs' dtype and each step rounds once more: with bf16 and many
// ranks, keep every step's output instead and merge them in one call (up to 64 parts on
// the GPU), which rounds once.
#pragma once

#include "attnkit/merge.hpp"

namespace ring {

/// Which KV shard rank `rank` of `world` holds at each step, and its ring neighbours.
struct RingSchedule {
  int world = 1;
  int rank = 0;

  int steps() const { return world; }
  /// \brief The KV shard this rank attends to at `step` (its own at step 0).
  int kv_shard(int step) const { return ((rank - step) % world + world) % world; }
  /// \brief The rank that receives this rank's KV shard after each step.
  int send_to() const { return (rank + 1) % world; }
  /// \brief The rank whose KV shard this rank receives after each step.
  int recv_from() const { return (rank + world - 1) % world; }
  /// \brief True when another shard must arrive before step + 1.
  bool exchange_after(int step) const { return step + 1 < world; }
};

/// The buffers of one rank's merges. run_o / run_lse: the running state, in the dtype and
/// layout of the step outputs (batched [1, S, H, Dv] and float32 [1, H, S] in the example);
/// out_o / out_lse: what the rank finally writes (any O dtype; out_lse optional); sink:
/// float32 [H] or absent.
struct RingOutputs {
  attnkit::TensorView run_o, run_lse;
  attnkit::TensorView out_o, out_lse;
  attnkit::TensorView sink;
};

/// \brief The merge after step `step`'s forward (step_o, step_lse computed without the sink):
///   step 0:            running = step                 (one part: a copy)
///   0 < step < last:   running = merge(running, step) (in place into the running views)
///   last step:         out = merge(running, step) + sink (step 0 is also the last with one rank)
inline attnkit::Status merge_step(const RingSchedule& schedule, int step, const attnkit::TensorView& step_o,
                                  const attnkit::TensorView& step_lse, const RingOutputs& out, void* stream) {
  const bool first = step == 0, last = step == schedule.steps() - 1;
  attnkit::TensorView o_parts[2], lse_parts[2];
  attnkit::MergeStatesParams m;
  m.o_parts = o_parts;
  m.lse_parts = lse_parts;
  if (first) {
    o_parts[0] = step_o;
    lse_parts[0] = step_lse;
    m.num_parts = 1;
  } else {
    o_parts[0] = out.run_o;
    lse_parts[0] = out.run_lse;
    o_parts[1] = step_o;
    lse_parts[1] = step_lse;
    m.num_parts = 2;
  }
  if (last) {
    m.o = out.out_o;
    m.lse = out.out_lse;
    m.sink_logit = out.sink;  // once, at the final merge
  } else {
    m.o = out.run_o;
    m.lse = out.run_lse;
  }
  m.stream = stream;
  return attnkit::merge_states(m);
}

}  // namespace ring
