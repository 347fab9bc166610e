// C <-> C++ struct and enum conversion for the C API, with range checks, and the last-error buffer.
#include "host/c_api_convert.hpp"

#include <cstdio>
#include <string>
#include <tuple>

namespace attnkit::c_api_detail {

thread_local char t_last_error[kErrorCapacity] = "";

namespace {

// The C values are the C++ values, so conversions are plain casts after a range check.
static_assert(ATTNKIT_DTYPE_FLOAT32 == static_cast<int>(DType::kFloat32));
static_assert(ATTNKIT_DTYPE_FLOAT16 == static_cast<int>(DType::kFloat16));
static_assert(ATTNKIT_DTYPE_BFLOAT16 == static_cast<int>(DType::kBFloat16));
static_assert(ATTNKIT_DTYPE_INT32 == static_cast<int>(DType::kInt32));
static_assert(ATTNKIT_DTYPE_UINT8 == static_cast<int>(DType::kUInt8));
static_assert(ATTNKIT_DTYPE_FLOAT8_E4M3 == static_cast<int>(DType::kFloat8E4M3));
static_assert(ATTNKIT_DTYPE_FLOAT8_E5M2 == static_cast<int>(DType::kFloat8E5M2));
static_assert(ATTNKIT_DEVICE_HOST == static_cast<int>(DeviceKind::kHost));
static_assert(ATTNKIT_DEVICE_CUDA == static_cast<int>(DeviceKind::kCuda));
static_assert(ATTNKIT_STATUS_OK == static_cast<int>(StatusCode::kOk));
static_assert(ATTNKIT_STATUS_INVALID_ARGUMENT == static_cast<int>(StatusCode::kInvalidArgument));
static_assert(ATTNKIT_STATUS_NOT_SUPPORTED == static_cast<int>(StatusCode::kNotSupported));
static_assert(ATTNKIT_STATUS_CUDA_ERROR == static_cast<int>(StatusCode::kCudaError));
static_assert(ATTNKIT_STATUS_INTERNAL == static_cast<int>(StatusCode::kInternal));
static_assert(ATTNKIT_GATE_SIGMOID == static_cast<int>(GateActivation::kSigmoid));
static_assert(ATTNKIT_GATE_IDENTITY == static_cast<int>(GateActivation::kIdentity));
static_assert(ATTNKIT_SPARSED_STEP_DENSE == static_cast<int>(SparseDStep::kDense));
static_assert(ATTNKIT_SPARSED_STEP_BUILD_PATTERN == static_cast<int>(SparseDStep::kBuildPattern));
static_assert(ATTNKIT_SPARSED_STEP_SPARSE == static_cast<int>(SparseDStep::kSparse));
static_assert(ATTNKIT_MAX_RANK == attnkit::kMaxRank);

constexpr int kMaxDType = ATTNKIT_DTYPE_FLOAT8_E5M2;
constexpr int kMaxDevice = ATTNKIT_DEVICE_CUDA;
constexpr int kMaxGateActivation = ATTNKIT_GATE_IDENTITY;

Status check_enum(int value, int max_value, const char* name, const char* field, const char* type) {
  if (value >= 0 && value <= max_value) return Status::ok();
  return invalid(std::string(name) + "." + field + " = " + std::to_string(value) + ": expected an " + type +
                 " value in [0, " + std::to_string(max_value) + "]");
}

}  // namespace

void set_error(const char* message) noexcept {
  std::snprintf(t_last_error, kErrorCapacity, "%s", message ? message : "");
}

attnkit_status finish(const Status& status) noexcept {
  switch (status.code()) {
    case StatusCode::kOk: t_last_error[0] = '\0'; return ATTNKIT_STATUS_OK;
    case StatusCode::kInvalidArgument: set_error(status.message().c_str()); return ATTNKIT_STATUS_INVALID_ARGUMENT;
    case StatusCode::kNotSupported: set_error(status.message().c_str()); return ATTNKIT_STATUS_NOT_SUPPORTED;
    case StatusCode::kCudaError: set_error(status.message().c_str()); return ATTNKIT_STATUS_CUDA_ERROR;
    case StatusCode::kInternal: break;
  }
  set_error(status.message().c_str());
  return ATTNKIT_STATUS_INTERNAL;
}

Status invalid(const std::string& message) { return Status(StatusCode::kInvalidArgument, message); }

Status require(const void* pointer, const char* name) {
  if (pointer != nullptr) return Status::ok();
  return invalid(std::string(name) + ": expected a non-null pointer");
}

// ---- C -> C++ ---------------------------------------------------------------

/// A rank-0 tensor is absent: its other fields are ignored, as the C++ API ignores them.
Status to_cpp(const attnkit_tensor& c, const char* name, TensorView* out) {
  if (c.rank < 0 || c.rank > ATTNKIT_MAX_RANK) {
    return invalid(std::string(name) + ".rank = " + std::to_string(c.rank) + ": expected 0 (absent) to " +
                   std::to_string(ATTNKIT_MAX_RANK));
  }
  *out = TensorView{};
  if (c.rank == 0) return Status::ok();
  if (Status s = check_enum(c.dtype, kMaxDType, name, "dtype", "attnkit_dtype"); !s) return s;
  if (Status s = check_enum(c.device, kMaxDevice, name, "device", "attnkit_device"); !s) return s;
  out->data = c.data;
  out->dtype = static_cast<DType>(c.dtype);
  out->rank = c.rank;
  out->device = static_cast<DeviceKind>(c.device);
  for (int i = 0; i < ATTNKIT_MAX_RANK; ++i) {
    out->shape[i] = i < c.rank ? c.shape[i] : 0;
    out->stride[i] = i < c.rank ? c.stride[i] : 0;
  }
  return Status::ok();
}

Status to_cpp(const attnkit_block_mask& c, const std::string& name, BlockMask* out) {
  if (Status s = to_cpp(c.kv_count, (name + ".kv_count").c_str(), &out->kv_count); !s) return s;
  if (Status s = to_cpp(c.kv_index, (name + ".kv_index").c_str(), &out->kv_index); !s) return s;
  out->block_q = c.block_q;
  out->block_k = c.block_k;
  return Status::ok();
}

Status to_cpp(const attnkit_rectification& c, const std::string& name, Rectification* out) {
  if (Status s = to_cpp(c.r, (name + ".r").c_str(), &out->r); !s) return s;
  if (Status s = to_cpp(c.c, (name + ".c").c_str(), &out->c); !s) return s;
  out->block_q = c.block_q;
  return Status::ok();
}

Status to_cpp(const attnkit_attention_params* c, AttentionParams* out) {
  if (Status s = require(c, "params"); !s) return s;
  for (auto [from, to, name] : {std::tuple{&c->q, &out->q, "q"},
                                {&c->k, &out->k, "k"},
                                {&c->v, &out->v, "v"},
                                {&c->o, &out->o, "o"},
                                {&c->lse, &out->lse, "lse"},
                                {&c->cu_seqlens_q, &out->cu_seqlens_q, "cu_seqlens_q"},
                                {&c->cu_seqlens_k, &out->cu_seqlens_k, "cu_seqlens_k"},
                                {&c->page_table, &out->paged_kv.page_table, "paged_kv.page_table"},
                                {&c->seqlens_k, &out->paged_kv.seqlens_k, "paged_kv.seqlens_k"},
                                {&c->head_scale, &out->head_scale, "head_scale"},
                                {&c->log_gamma, &out->log_gamma, "log_gamma"},
                                {&c->sink_logit, &out->sink_logit, "sink_logit"},
                                {&c->k_scale, &out->k_scale, "k_scale"},
                                {&c->v_scale, &out->v_scale, "v_scale"}}) {
    if (Status s = to_cpp(*from, name, to); !s) return s;
  }
  out->max_seqlen_q = c->max_seqlen_q;
  out->max_seqlen_k = c->max_seqlen_k;
  out->scale.reset();
  if (c->has_scale) out->scale = c->scale;
  out->causal = c->causal != 0;
  out->window_left = c->window_left;
  out->window_right = c->window_right;
  out->sink_tokens = c->sink_tokens;
  out->bias_begin = c->bias_begin;
  out->bias_end = c->bias_end;
  if (Status s = to_cpp(c->block_mask, "block_mask", &out->block_mask); !s) return s;
  if (Status s = to_cpp(c->rectify, "rectify", &out->rectify); !s) return s;
  if (Status s = to_cpp(c->gate.g, "gate.g", &out->gate.g); !s) return s;
  if (Status s = check_enum(c->gate.activation, kMaxGateActivation, "gate", "activation", "attnkit_gate_activation"); !s)
    return s;
  out->gate.activation = static_cast<GateActivation>(c->gate.activation);
  out->stream = c->stream;
  return Status::ok();
}

Status to_cpp(const attnkit_stats_outputs* c, StatsOutputs* out) {
  if (Status s = require(c, "outputs"); !s) return s;
  for (auto [from, to, name] : {std::tuple{&c->colsum, &out->colsum, "outputs.colsum"},
                                {&c->colcount, &out->colcount, "outputs.colcount"},
                                {&c->colmean, &out->colmean, "outputs.colmean"},
                                {&c->blockmass, &out->blockmass, "outputs.blockmass"},
                                {&c->blockmean, &out->blockmean, "outputs.blockmean"}}) {
    if (Status s = to_cpp(*from, name, to); !s) return s;
  }
  out->block_q = c->block_q;
  out->block_k = c->block_k;
  return Status::ok();
}

Status to_cpp(const attnkit_act_options* c, ActOptions* out) {
  if (Status s = require(c, "options"); !s) return s;
  out->theta = c->theta;
  out->beta = c->beta;
  out->keep_first_sink = c->keep_first_sink != 0;
  out->max_sinks = c->max_sinks;
  return to_cpp(c->head_mask, "options.head_mask", &out->head_mask);
}

Status to_cpp(const attnkit_sink_sets* c, const char* name, SinkSets* out) {
  if (Status s = require(c, name); !s) return s;
  if (Status s = to_cpp(c->count, (std::string(name) + ".count").c_str(), &out->count); !s) return s;
  return to_cpp(c->index, (std::string(name) + ".index").c_str(), &out->index);
}

Status to_cpp(const attnkit_sparsed_options* c, SparseDOptions* out) {
  if (Status s = require(c, "options"); !s) return s;
  out->block_size = c->block_size;
  out->rho = c->rho;
  out->generation_start = c->generation_start;
  return Status::ok();
}

/// SparseDSchedule returns no Status, so the C layer keeps it away from values whose
/// floor(T * skip) would not fit an int (or is NaN).
Status to_cpp(const attnkit_sparsed_schedule* c, SparseDSchedule* out) {
  if (Status s = require(c, "schedule"); !s) return s;
  if (c->total_steps < 0) {
    return invalid("schedule.total_steps = " + std::to_string(c->total_steps) + ": expected >= 0");
  }
  if (!(c->skip >= 0.0 && c->skip <= 1.0)) {
    return invalid("schedule.skip = " + std::to_string(c->skip) + ": expected a fraction in [0, 1]");
  }
  out->total_steps = c->total_steps;
  out->skip = c->skip;
  return Status::ok();
}

Status to_cpp(const attnkit_rectified_options* c, RectifiedOptions* out) {
  if (Status s = require(c, "options"); !s) return s;
  out->block_size = c->block_size;
  out->text_tokens = c->text_tokens;
  out->top_k = c->top_k;
  out->tau = c->tau;
  out->gapr = c->gapr != 0;
  return to_cpp(c->forced, "options.forced", &out->forced);
}

Status to_cpp(const attnkit_rectified_plan_outputs* c, const char* name, RectifiedPlan* out) {
  if (Status s = require(c, name); !s) return s;
  if (Status s = to_cpp(c->mask, std::string(name) + ".mask", &out->mask); !s) return s;
  return to_cpp(c->rectify, std::string(name) + ".rectify", &out->rectify);
}

// ---- C++ -> C (defaults come from the C++ structs, so they can never drift) ----

attnkit_tensor to_c(const TensorView& t) noexcept {
  attnkit_tensor c{};
  c.data = t.data;
  c.dtype = static_cast<int>(t.dtype);
  c.rank = t.rank;
  c.device = static_cast<int>(t.device);
  for (int i = 0; i < ATTNKIT_MAX_RANK; ++i) {
    c.shape[i] = t.shape[i];
    c.stride[i] = t.stride[i];
  }
  return c;
}

attnkit_block_mask to_c(const BlockMask& m) noexcept {
  attnkit_block_mask c{};
  c.kv_count = to_c(m.kv_count);
  c.kv_index = to_c(m.kv_index);
  c.block_q = m.block_q;
  c.block_k = m.block_k;
  return c;
}

attnkit_rectification to_c(const Rectification& r) noexcept {
  attnkit_rectification c{};
  c.r = to_c(r.r);
  c.c = to_c(r.c);
  c.block_q = r.block_q;
  return c;
}

attnkit_attention_params to_c(const AttentionParams& p) noexcept {
  attnkit_attention_params c{};
  c.q = to_c(p.q);
  c.k = to_c(p.k);
  c.v = to_c(p.v);
  c.o = to_c(p.o);
  c.lse = to_c(p.lse);
  c.cu_seqlens_q = to_c(p.cu_seqlens_q);
  c.cu_seqlens_k = to_c(p.cu_seqlens_k);
  c.page_table = to_c(p.paged_kv.page_table);
  c.seqlens_k = to_c(p.paged_kv.seqlens_k);
  c.max_seqlen_q = p.max_seqlen_q;
  c.max_seqlen_k = p.max_seqlen_k;
  c.has_scale = p.scale.has_value() ? 1 : 0;
  c.scale = p.scale.value_or(0.0f);
  c.causal = p.causal ? 1 : 0;
  c.window_left = p.window_left;
  c.window_right = p.window_right;
  c.sink_tokens = p.sink_tokens;
  c.head_scale = to_c(p.head_scale);
  c.log_gamma = to_c(p.log_gamma);
  c.bias_begin = p.bias_begin;
  c.bias_end = p.bias_end;
  c.sink_logit = to_c(p.sink_logit);
  c.block_mask = to_c(p.block_mask);
  c.rectify = to_c(p.rectify);
  c.gate.g = to_c(p.gate.g);
  c.gate.activation = static_cast<int>(p.gate.activation);
  c.stream = p.stream;
  c.k_scale = to_c(p.k_scale);
  c.v_scale = to_c(p.v_scale);
  return c;
}

/// Builds a tensor that to_cpp rejects by its rank (the helpers cannot report errors).
attnkit_tensor rejected_tensor(void* data, int dtype, int rank, int device) noexcept {
  attnkit_tensor t{};
  t.data = data;
  t.dtype = dtype;
  t.device = device;
  t.rank = rank >= 0 && rank <= ATTNKIT_MAX_RANK ? -1 : rank;
  return t;
}

}  // namespace attnkit::c_api_detail
