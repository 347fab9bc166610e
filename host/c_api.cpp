// The exported entry points of the C API (include/attnkit/attnkit.h): each converts the plain
// C structs into the C++ ones (c_api_convert.hpp, where every C value is checked before it
// becomes a C++ enum), calls the public C++ API and maps its Status to a code and a
// thread-local message. No exception leaves this file.
#include "attnkit/attnkit.h"

#include <cstring>
#include <string>

#include "attnkit/attention.hpp"
#include "host/c_api_convert.hpp"

using attnkit::ActOptions;
using attnkit::AttentionParams;
using attnkit::BlockMask;
using attnkit::Rectification;
using attnkit::RectifiedOptions;
using attnkit::RectifiedPlan;
using attnkit::SinkSets;
using attnkit::SparseDOptions;
using attnkit::SparseDSchedule;
using attnkit::StatsOutputs;
using attnkit::Status;
using attnkit::StatusCode;
using attnkit::TensorView;
using attnkit::c_api_detail::guarded;
using attnkit::c_api_detail::invalid;
using attnkit::c_api_detail::rejected_tensor;
using attnkit::c_api_detail::require;
using attnkit::c_api_detail::t_last_error;
using attnkit::c_api_detail::to_c;
using attnkit::c_api_detail::to_cpp;

extern "C" {

// ---- defaults and helpers ---------------------------------------------------

void attnkit_attention_params_init(attnkit_attention_params* params) {
  if (params) *params = to_c(AttentionParams{});
}

void attnkit_block_mask_init(attnkit_block_mask* mask) {
  if (mask) *mask = to_c(BlockMask{});
}

void attnkit_stats_outputs_init(attnkit_stats_outputs* outputs) {
  if (!outputs) return;
  const StatsOutputs d{};
  outputs->colsum = to_c(d.colsum);
  outputs->colcount = to_c(d.colcount);
  outputs->colmean = to_c(d.colmean);
  outputs->blockmass = to_c(d.blockmass);
  outputs->blockmean = to_c(d.blockmean);
  outputs->block_q = d.block_q;
  outputs->block_k = d.block_k;
}

void attnkit_act_options_init(attnkit_act_options* options) {
  if (!options) return;
  const ActOptions d{};
  options->theta = d.theta;
  options->beta = d.beta;
  options->keep_first_sink = d.keep_first_sink ? 1 : 0;
  options->max_sinks = d.max_sinks;
  options->head_mask = to_c(d.head_mask);
}

void attnkit_sink_sets_init(attnkit_sink_sets* sets) {
  if (!sets) return;
  const SinkSets d{};
  sets->count = to_c(d.count);
  sets->index = to_c(d.index);
}

void attnkit_sparsed_options_init(attnkit_sparsed_options* options) {
  if (!options) return;
  const SparseDOptions d{};
  options->block_size = d.block_size;
  options->rho = d.rho;
  options->generation_start = d.generation_start;
}

void attnkit_sparsed_schedule_init(attnkit_sparsed_schedule* schedule) {
  if (!schedule) return;
  const SparseDSchedule d{};
  schedule->total_steps = d.total_steps;
  schedule->skip = d.skip;
}

void attnkit_rectified_options_init(attnkit_rectified_options* options) {
  if (!options) return;
  const RectifiedOptions d{};
  options->block_size = d.block_size;
  options->text_tokens = d.text_tokens;
  options->top_k = d.top_k;
  options->tau = d.tau;
  options->gapr = d.gapr ? 1 : 0;
  options->forced = to_c(d.forced);
}

void attnkit_rectified_plan_outputs_init(attnkit_rectified_plan_outputs* plan) {
  if (!plan) return;
  const RectifiedPlan d{};
  plan->mask = to_c(d.mask);
  plan->rectify = to_c(d.rectify);
}

attnkit_tensor attnkit_tensor_contiguous(void* data, int dtype, int rank, const int64_t* shape, int device) {
  if (rank < 0 || rank > ATTNKIT_MAX_RANK || (rank > 0 && shape == nullptr)) {
    return rejected_tensor(data, dtype, rank, device);
  }
  attnkit_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.rank = rank;
  t.device = device;
  int64_t elements = 1;  // row-major: the stride of dim d is the product of the sizes after it
  for (int d = rank - 1; d >= 0; --d) {
    t.shape[d] = shape[d];
    t.stride[d] = elements;
    elements *= shape[d] > 0 ? shape[d] : 1;
  }
  return t;
}

attnkit_tensor attnkit_tensor_strided(void* data, int dtype, int rank, const int64_t* shape, const int64_t* stride,
                                      int device) {
  if (rank > 0 && stride == nullptr) return rejected_tensor(data, dtype, rank, device);
  attnkit_tensor t = attnkit_tensor_contiguous(data, dtype, rank, shape, device);
  if (t.rank < 0 || t.rank > ATTNKIT_MAX_RANK) return t;  // already marked as rejected
  for (int d = 0; d < t.rank; ++d) t.stride[d] = stride[d];
  return t;
}

const char* attnkit_last_error(void) { return t_last_error; }

const char* attnkit_version(void) { return attnkit::version(); }

// ---- forward ----------------------------------------------------------------

attnkit_status attnkit_forward(const attnkit_attention_params* params) {
  return guarded([&] {
    AttentionParams p;
    if (Status s = to_cpp(params, &p); !s) return s;
    return attnkit::forward(p);
  });
}

int attnkit_is_supported(const attnkit_attention_params* params) {
  int supported = 0;
  guarded([&] {
    AttentionParams p;
    if (Status s = to_cpp(params, &p); !s) return s;
    std::string why;
    if (attnkit::is_supported(p, &why)) {
      supported = 1;
      return Status::ok();
    }
    return Status(StatusCode::kNotSupported, why);
  });
  return supported;
}

attnkit_status attnkit_explain(const attnkit_attention_params* params, char* buffer, size_t capacity,
                               size_t* length) {
  if (length) *length = 0;
  if (buffer && capacity > 0) buffer[0] = '\0';
  return guarded([&] {
    if (buffer == nullptr && capacity > 0) {
      return invalid("buffer: expected a non-null pointer when capacity = " + std::to_string(capacity) + " > 0");
    }
    AttentionParams p;
    if (Status s = to_cpp(params, &p); !s) return s;
    std::string description;
    if (Status s = attnkit::explain(p, &description); !s) return s;
    if (capacity > 0) {
      const size_t n = description.size() < capacity - 1 ? description.size() : capacity - 1;
      std::memcpy(buffer, description.data(), n);
      buffer[n] = '\0';
    }
    if (length) *length = description.size();
    return Status::ok();
  });
}

// ---- plan / run ------------------------------------------------------------------

}  // extern "C"

struct attnkit_plan {
  attnkit::AttentionPlan plan;
};

extern "C" {

attnkit_status attnkit_plan_create(const attnkit_attention_params* params, attnkit_plan** plan) {
  if (plan) *plan = nullptr;
  return guarded([&] {
    if (plan == nullptr) return invalid("plan: expected a non-null attnkit_plan** to receive the plan");
    AttentionParams p;
    if (Status s = to_cpp(params, &p); !s) return s;
    attnkit::AttentionPlan made;
    if (Status s = attnkit::plan(p, &made); !s) return s;
    *plan = new attnkit_plan{made};
    return Status::ok();
  });
}

size_t attnkit_plan_workspace_bytes(const attnkit_plan* plan) { return plan ? plan->plan.workspace_bytes() : 0; }

attnkit_status attnkit_run(const attnkit_plan* plan, const attnkit_attention_params* params, void* workspace,
                           size_t workspace_bytes) {
  return guarded([&] {
    if (plan == nullptr) return invalid("plan: expected a plan made by attnkit_plan_create");
    AttentionParams p;
    if (Status s = to_cpp(params, &p); !s) return s;
    return attnkit::run(plan->plan, p, workspace, workspace_bytes);
  });
}

void attnkit_plan_destroy(attnkit_plan* plan) { delete plan; }

// ---- statistics and ACT -------------------------------------------------------

attnkit_status attnkit_attention_stats(const attnkit_attention_params* params, const attnkit_stats_outputs* outputs) {
  return guarded([&] {
    AttentionParams p;
    StatsOutputs out;
    if (Status s = to_cpp(params, &p); !s) return s;
    if (Status s = to_cpp(outputs, &out); !s) return s;
    return attnkit::attention_stats(p, out);
  });
}

attnkit_status attnkit_act_detect(const attnkit_attention_params* params, const attnkit_act_options* options,
                                  const attnkit_sink_sets* out) {
  return guarded([&] {
    AttentionParams p;
    ActOptions o;
    SinkSets sets;
    if (Status s = to_cpp(params, &p); !s) return s;
    if (Status s = to_cpp(options, &o); !s) return s;
    if (Status s = to_cpp(out, "out", &sets); !s) return s;
    return attnkit::act_detect(p, o, sets);
  });
}

attnkit_status attnkit_act_forward(const attnkit_attention_params* params, const attnkit_act_options* options,
                                   const attnkit_sink_sets* detected) {
  return guarded([&] {
    AttentionParams p;
    ActOptions o;
    SinkSets sets;
    if (Status s = to_cpp(params, &p); !s) return s;
    if (Status s = to_cpp(options, &o); !s) return s;
    if (detected == nullptr) return attnkit::act_forward(p, o, /*detected=*/nullptr);
    if (Status s = to_cpp(detected, "detected", &sets); !s) return s;
    return attnkit::act_forward(p, o, &sets);
  });
}

attnkit_status attnkit_act_forward_with_sets(const attnkit_attention_params* params,
                                             const attnkit_act_options* options, const attnkit_sink_sets* sets) {
  return guarded([&] {
    AttentionParams p;
    ActOptions o;
    SinkSets cpp_sets;
    if (Status s = to_cpp(params, &p); !s) return s;
    if (Status s = to_cpp(options, &o); !s) return s;
    if (Status s = to_cpp(sets, "sets", &cpp_sets); !s) return s;
    return attnkit::act_forward_with_sets(p, o, cpp_sets);
  });
}

// ---- block masks ------------------------------------------------------------

attnkit_status attnkit_block_mask_from_dense(const attnkit_tensor* dense, const attnkit_block_mask* out,
                                             void* stream) {
  return guarded([&] {
    TensorView d;
    BlockMask m;
    if (Status s = require(dense, "dense"); !s) return s;
    if (Status s = to_cpp(*dense, "dense", &d); !s) return s;
    if (Status s = require(out, "out"); !s) return s;
    if (Status s = to_cpp(*out, "out", &m); !s) return s;
    return attnkit::block_mask_from_dense(d, m, stream);
  });
}

attnkit_status attnkit_block_mask_to_dense(const attnkit_block_mask* mask, const attnkit_tensor* dense_out,
                                           void* stream) {
  return guarded([&] {
    BlockMask m;
    TensorView d;
    if (Status s = require(mask, "mask"); !s) return s;
    if (Status s = to_cpp(*mask, "mask", &m); !s) return s;
    if (Status s = require(dense_out, "dense_out"); !s) return s;
    if (Status s = to_cpp(*dense_out, "dense_out", &d); !s) return s;
    return attnkit::block_mask_to_dense(m, d, stream);
  });
}

attnkit_status attnkit_block_mask_check(const attnkit_block_mask* mask, int64_t nkb, int64_t* bad_entries,
                                        void* stream) {
  return guarded([&] {
    BlockMask m;
    if (Status s = require(mask, "mask"); !s) return s;
    if (Status s = to_cpp(*mask, "mask", &m); !s) return s;
    if (Status s = require(bad_entries, "bad_entries"); !s) return s;
    return attnkit::block_mask_check(m, nkb, bad_entries, stream);
  });
}

// ---- planners ---------------------------------------------------------------

attnkit_status attnkit_sparsed_plan(const attnkit_attention_params* params, const attnkit_sparsed_options* options,
                                    const attnkit_block_mask* out) {
  return guarded([&] {
    AttentionParams p;
    SparseDOptions o;
    BlockMask m;
    if (Status s = to_cpp(params, &p); !s) return s;
    if (Status s = to_cpp(options, &o); !s) return s;
    if (Status s = require(out, "out"); !s) return s;
    if (Status s = to_cpp(*out, "out", &m); !s) return s;
    return attnkit::sparsed_plan(p, o, m);
  });
}

attnkit_status attnkit_sparsed_build_step(const attnkit_sparsed_schedule* schedule, int* step) {
  return guarded([&] {
    SparseDSchedule s;
    if (Status st = to_cpp(schedule, &s); !st) return st;
    if (Status st = require(step, "step"); !st) return st;
    *step = s.build_step();
    return Status::ok();
  });
}

attnkit_status attnkit_sparsed_step_kind(const attnkit_sparsed_schedule* schedule, int step, int* kind) {
  return guarded([&] {
    SparseDSchedule s;
    if (Status st = to_cpp(schedule, &s); !st) return st;
    if (step < 0) return invalid("step = " + std::to_string(step) + ": expected >= 0");
    if (Status st = require(kind, "kind"); !st) return st;
    *kind = static_cast<int>(s.step_kind(step));
    return Status::ok();
  });
}

attnkit_status attnkit_rectified_plan(const attnkit_attention_params* params, const attnkit_rectified_options* options,
                                      const attnkit_rectified_plan_outputs* out) {
  return guarded([&] {
    AttentionParams p;
    RectifiedOptions o;
    RectifiedPlan plan;
    if (Status s = to_cpp(params, &p); !s) return s;
    if (Status s = to_cpp(options, &o); !s) return s;
    if (Status s = to_cpp(out, "out", &plan); !s) return s;
    return attnkit::rectified_plan(p, o, plan);
  });
}

attnkit_status attnkit_rectified_attention(const attnkit_attention_params* params,
                                           const attnkit_rectified_options* options,
                                           const attnkit_rectified_plan_outputs* workspace) {
  return guarded([&] {
    AttentionParams p;
    RectifiedOptions o;
    RectifiedPlan plan;
    if (Status s = to_cpp(params, &p); !s) return s;
    if (Status s = to_cpp(options, &o); !s) return s;
    if (Status s = to_cpp(workspace, "workspace", &plan); !s) return s;
    return attnkit::rectified_attention(p, o, plan);
  });
}

}  // extern "C"
