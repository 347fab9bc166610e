// C API fuzzer post-call checks (forward, plan / run, stats, block_mask_check): each broken
// promise of the library aborts through FUZZ_CHECK.
#include "fuzz_checks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_decode.hpp"

namespace attnkit_fuzz {

/// Is the element at `p` (of a float dtype, FP8 included) NaN / finite?
bool element_is_nan(const uint8_t* p, int dtype) {
  if (dtype == ATTNKIT_DTYPE_FLOAT8_E4M3) return (*p & 0x7fu) == 0x7fu;                        // S.1111.111
  if (dtype == ATTNKIT_DTYPE_FLOAT8_E5M2) return (*p & 0x7cu) == 0x7cu && (*p & 0x03u) != 0;  // S.11111.xx
  if (dtype == ATTNKIT_DTYPE_FLOAT32) {
    float f;
    std::memcpy(&f, p, 4);
    return std::isnan(f);
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == ATTNKIT_DTYPE_FLOAT16 ? (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0
                                        : (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0;
}
bool element_is_finite(const uint8_t* p, int dtype) {
  if (dtype == ATTNKIT_DTYPE_FLOAT8_E4M3) return (*p & 0x7fu) != 0x7fu;  // no infinities
  if (dtype == ATTNKIT_DTYPE_FLOAT8_E5M2) return (*p & 0x7cu) != 0x7cu;
  if (dtype == ATTNKIT_DTYPE_FLOAT32) {
    float f;
    std::memcpy(&f, p, 4);
    return std::isfinite(f);
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == ATTNKIT_DTYPE_FLOAT16 ? (h & 0x7c00u) != 0x7c00u : (h & 0x7f80u) != 0x7f80u;
}

/// The value of a float32 / float16 / bfloat16 element at `p`.
double element_value(const uint8_t* p, int dtype) {
  if (dtype == ATTNKIT_DTYPE_FLOAT32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  uint32_t bits;
  if (dtype == ATTNKIT_DTYPE_BFLOAT16) {
    bits = static_cast<uint32_t>(h) << 16;
  } else {  // float16: exact in float32
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    if (exp == 0x1f) {
      bits = sign | 0x7f800000u | (man << 13);
    } else if (exp != 0) {
      bits = sign | ((exp + 112u) << 23) | (man << 13);
    } else {  // zero or subnormal: man * 2^-24
      const double v = std::ldexp(static_cast<double>(man), -24);
      return sign ? -v : v;
    }
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

/// Snapshot of every buffer, to prove what changed.
std::vector<std::vector<uint8_t>> snapshot(const Call& call) {
  std::vector<std::vector<uint8_t>> s;
  for (const Backed& b : call.tensors) s.push_back(b.bytes);
  return s;
}

/// Byte ranges of `b`'s buffer that its view addresses (element size of its dtype).
std::vector<bool> addressed_bytes(const Backed& b) {
  std::vector<bool> mask(b.bytes.size(), false);
  if (!b.host_backed || !is_known_dtype(b.t.dtype)) return mask;
  const int eb = element_bytes(b.t.dtype);
  for_each_offset(b.t, [&](int64_t off) {
    const int64_t byte = static_cast<int64_t>(b.origin) + off * eb;
    for (int x = 0; x < eb; ++x) mask[static_cast<size_t>(byte + x)] = true;
  });
  return mask;
}

void fill_outputs(Call* call, size_t first) {
  for (size_t n = first; n < call->tensors.size(); ++n) {
    Backed& b = call->tensors[n];
    if (b.is_output) std::fill(b.bytes.begin(), b.bytes.end(), kSentinel);
  }
}

void print_tensor(const char* name, const attnkit_tensor& t) {
  if (t.rank == 0) return;
  std::fprintf(stderr, "  %s: dtype=%d rank=%d device=%d data=%p shape=[%lld, %lld, %lld, %lld] stride=[%lld, %lld, %lld, %lld]\n",
               name, t.dtype, t.rank, t.device, t.data, static_cast<long long>(t.shape[0]),
               static_cast<long long>(t.shape[1]), static_cast<long long>(t.shape[2]),
               static_cast<long long>(t.shape[3]), static_cast<long long>(t.stride[0]),
               static_cast<long long>(t.stride[1]), static_cast<long long>(t.stride[2]),
               static_cast<long long>(t.stride[3]));
}

/// With ATTNKIT_FUZZ_VERBOSE set, prints the decoded call (to turn a crash into a test).
void print_call(const attnkit_attention_params& p) {
  if (std::getenv("ATTNKIT_FUZZ_VERBOSE") == nullptr) return;
  std::fprintf(stderr, "call:\n");
  print_tensor("q", p.q);
  print_tensor("k", p.k);
  print_tensor("v", p.v);
  print_tensor("o", p.o);
  print_tensor("lse", p.lse);
  print_tensor("cu_seqlens_q", p.cu_seqlens_q);
  print_tensor("cu_seqlens_k", p.cu_seqlens_k);
  print_tensor("head_scale", p.head_scale);
  print_tensor("log_gamma", p.log_gamma);
  print_tensor("sink_logit", p.sink_logit);
  print_tensor("block_mask.kv_count", p.block_mask.kv_count);
  print_tensor("block_mask.kv_index", p.block_mask.kv_index);
  print_tensor("rectify.r", p.rectify.r);
  print_tensor("rectify.c", p.rectify.c);
  print_tensor("gate.g", p.gate.g);
  print_tensor("k_scale", p.k_scale);
  print_tensor("v_scale", p.v_scale);
  std::fprintf(stderr,
               "  max_seqlen=%lld/%lld has_scale=%d scale=%g causal=%d window=%lld/%lld sink_tokens=%lld "
               "bias=[%lld, %lld) block=%d/%d rectify.block_q=%d gate.activation=%d\n",
               static_cast<long long>(p.max_seqlen_q), static_cast<long long>(p.max_seqlen_k), p.has_scale,
               static_cast<double>(p.scale), p.causal, static_cast<long long>(p.window_left),
               static_cast<long long>(p.window_right), static_cast<long long>(p.sink_tokens),
               static_cast<long long>(p.bias_begin), static_cast<long long>(p.bias_end), p.block_mask.block_q,
               p.block_mask.block_k, p.rectify.block_q, p.gate.activation);
  auto floats = [](const char* name, const attnkit_tensor& t) {
    if (t.rank != 1 || t.dtype != ATTNKIT_DTYPE_FLOAT32 || t.data == nullptr || t.device != 0) return;
    std::fprintf(stderr, "  %s values:", name);
    for (int64_t i = 0; i < t.shape[0] && i < 16; ++i) {
      float f;
      std::memcpy(&f, static_cast<const char*>(t.data) + i * t.stride[0] * 4, 4);
      std::fprintf(stderr, " %g", static_cast<double>(f));
    }
    std::fprintf(stderr, "\n");
  };
  floats("head_scale", p.head_scale);
  floats("log_gamma", p.log_gamma);
  floats("sink_logit", p.sink_logit);
  floats("k_scale", p.k_scale);
  floats("v_scale", p.v_scale);
}

namespace {

void check_explain(const attnkit_attention_params* p, FuzzedDataProvider& in, int supported) {
  const size_t capacity = in.ConsumeIntegralInRange<size_t>(0, 200);
  constexpr size_t kCanary = 16;
  std::vector<char> buffer(capacity + kCanary, '\x5a');
  size_t length = 12345;
  const bool want_length = in.ConsumeBool();
  const attnkit_status s =
      attnkit_explain(p, capacity ? buffer.data() : nullptr, capacity, want_length ? &length : nullptr);
  FUZZ_CHECK((s == ATTNKIT_STATUS_OK) == (supported == 1), "explain=%d is_supported=%d (%s)", static_cast<int>(s),
             supported, attnkit_last_error());
  for (size_t i = capacity; i < buffer.size(); ++i) FUZZ_CHECK(buffer[i] == '\x5a', "explain wrote past capacity");
  if (capacity > 0) {
    const void* nul = std::memchr(buffer.data(), '\0', capacity);
    FUZZ_CHECK(nul != nullptr, "explain left the buffer unterminated");
    const size_t written = static_cast<size_t>(static_cast<const char*>(nul) - buffer.data());
    if (s == ATTNKIT_STATUS_OK && want_length) {
      FUZZ_CHECK(written == std::min(length, capacity - 1), "explain wrote %zu chars, length %zu", written, length);
    }
    if (s != ATTNKIT_STATUS_OK) FUZZ_CHECK(written == 0, "explain error left text in the buffer");
  }
  if (s != ATTNKIT_STATUS_OK && want_length) FUZZ_CHECK(length == 0, "explain error left length %zu", length);
}

/// Whether every float input the library does not validate is finite (the NaN rule); an
/// FP8 K / V counts too (its NaN codes reach O, as a float NaN would).
bool inputs_finite(const Call& call) {
  for (const Backed& b : call.tensors) {
    if (b.is_output || !b.check_finite || !b.host_backed || !(is_float_dtype(b.t.dtype) || is_fp8_dtype(b.t.dtype))) {
      continue;
    }
    const int eb = element_bytes(b.t.dtype);
    for (size_t i = 0; i + static_cast<size_t>(eb) <= b.bytes.size(); i += static_cast<size_t>(eb)) {
      if (!element_is_finite(b.bytes.data() + i, b.t.dtype)) return false;
    }
  }
  return true;
}

/// Element `index` of a host int32 rank-1 view (validated by a successful call).
int32_t read_int(const attnkit_tensor& t, int64_t index) {
  int32_t v;
  std::memcpy(&v, static_cast<const char*>(t.data) + index * t.stride[0] * 4, 4);
  return v;
}

/// After a successful call: inputs unchanged, outputs unchanged outside their views and
/// (with finite inputs) free of NaN inside them. `rows_limit(b)` gives, for outputs with
/// unwritten varlen tail rows, the dimension and row count to check (dim -1: all).
template <class RowsLimit>
void check_success(const Call& call, const std::vector<std::vector<uint8_t>>& before, const char* what,
                   bool finite, RowsLimit rows_limit) {
  FUZZ_CHECK(attnkit_last_error()[0] == '\0', "%s succeeded but last_error is '%s'", what, attnkit_last_error());
  size_t index = 0;
  for (const Backed& b : call.tensors) {
    const std::vector<uint8_t>& old = before[index++];
    if (!b.is_output) {
      FUZZ_CHECK(b.bytes == old, "%s modified an input", what);
      continue;
    }
    const std::vector<bool> addressed = addressed_bytes(b);
    for (size_t i = 0; i < b.bytes.size(); ++i) {
      FUZZ_CHECK(addressed[i] || b.bytes[i] == old[i], "%s wrote outside an output view (byte %zu)", what, i);
    }
    if (!finite || !is_float_dtype(b.t.dtype) || b.bytes == old) continue;  // untouched: another call's output
    const int eb = element_bytes(b.t.dtype);
    int limit_dim = -1;
    int64_t rows = 0;
    rows_limit(b, &limit_dim, &rows);
    for_each_offset(
        b.t,
        [&](int64_t off) {
          const uint8_t* e = b.bytes.data() + b.origin + static_cast<size_t>(off * eb);
          FUZZ_CHECK(!element_is_nan(e, b.t.dtype), "%s: NaN output at element offset %lld with finite inputs", what,
                     static_cast<long long>(off));
        },
        limit_dim, rows);
  }
}

/// check_success's rows_limit for forward and run: varlen rows past cu_seqlens_q[B] belong
/// to no sequence and are left alone (docs/reliability.md): O [total_q, ...] along dim 0,
/// LSE [Hq, total_q] along dim 1.
auto forward_rows(const attnkit_attention_params& params) {
  return [&params](const Backed& b, int* dim, int64_t* rows) {
    if (params.cu_seqlens_q.rank != 1) return;
    *rows = read_int(params.cu_seqlens_q, params.cu_seqlens_q.shape[0] - 1);
    *dim = std::memcmp(&b.t, &params.lse, sizeof(b.t)) == 0 ? 1 : 0;
  };
}

/// Whether every output view addresses each element once: then the CPU backend's result
/// does not depend on the order its worker threads write in, and two runs compare bitwise.
bool outputs_injective(const Call& call) {
  for (const Backed& b : call.tensors) {
    if (b.is_output && b.host_backed && !view_is_injective(b.t)) return false;
  }
  return true;
}

/// The first byte where two snapshots differ, as "tensor N byte M" (for messages).
std::string first_difference(const std::vector<std::vector<uint8_t>>& a, const std::vector<std::vector<uint8_t>>& b) {
  for (size_t t = 0; t < a.size() && t < b.size(); ++t) {
    for (size_t i = 0; i < a[t].size() && i < b[t].size(); ++i) {
      if (a[t][i] != b[t][i]) return "tensor " + std::to_string(t) + " byte " + std::to_string(i);
    }
  }
  return "the tensor count";
}

// ---- plan / run ------------------------------------------------------------------

/// What a validated call's plan depends on (host/plan_rule.hpp, PlanShape), read from its
/// params the way validation resolves them (host cu_seqlens: the longest sequences).
struct PlanKey {
  int dtype = 0, kv_dtype = 0;
  int64_t d = 0, dv = 0, hq = 0, hkv = 0;
  bool varlen = false, paged = false, mask = false;
  int block_q = 0, block_k = 0;
  int64_t batch = 0, max_sq = 0, max_sk = 0;
};

int64_t longest(const attnkit_tensor& cu) {
  int64_t m = 0;
  for (int64_t b = 0; b + 1 < cu.shape[0]; ++b) m = std::max<int64_t>(m, int64_t{read_int(cu, b + 1)} - read_int(cu, b));
  return m;
}

PlanKey plan_key(const attnkit_attention_params& p) {
  PlanKey k;
  k.dtype = p.q.dtype;
  k.kv_dtype = p.k.dtype;
  k.varlen = p.cu_seqlens_q.rank > 0;
  k.paged = p.page_table.rank > 0;  // never decoded: the fuzzer has no paged calls
  const int qh = k.varlen ? 1 : 2, kh = k.varlen ? 1 : 2;
  k.hq = p.q.shape[qh];
  k.d = p.q.shape[qh + 1];
  k.hkv = p.k.shape[kh];
  k.dv = p.v.shape[kh + 1];
  k.mask = p.block_mask.kv_count.rank > 0;
  k.block_q = k.mask ? p.block_mask.block_q : 0;
  k.block_k = k.mask ? p.block_mask.block_k : 0;
  if (k.varlen) {
    k.batch = p.cu_seqlens_q.shape[0] - 1;
    k.max_sq = longest(p.cu_seqlens_q);
    k.max_sk = longest(p.cu_seqlens_k);
  } else {
    k.batch = p.q.shape[0];
    k.max_sq = p.q.shape[1];
    k.max_sk = p.k.shape[1];
  }
  return k;
}

/// fit_plan's rule: the kernel-deciding choices equal, no dimension above the planned one.
bool fits(const PlanKey& plan, const PlanKey& call) {
  return call.dtype == plan.dtype && call.kv_dtype == plan.kv_dtype && call.d == plan.d && call.dv == plan.dv &&
         call.hq == plan.hq && call.hkv == plan.hkv && call.varlen == plan.varlen && call.paged == plan.paged &&
         call.mask == plan.mask && call.block_q == plan.block_q && call.block_k == plan.block_k &&
         call.batch <= plan.batch && call.max_sq <= plan.max_sq && call.max_sk <= plan.max_sk;
}

/// attnkit_run with a fuzzed workspace argument. A host plan needs none (its workspace
/// bytes are 0), so a null, misaligned, short or huge-claiming workspace must all be
/// accepted, and the workspace is never touched.
attnkit_status run_on_plan(FuzzedDataProvider& in, const attnkit_plan* plan, const attnkit_attention_params* params) {
  std::vector<uint8_t> workspace(80, 0xA5);
  void* pointer = nullptr;
  size_t bytes = 0;
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 1: bytes = size_t{1} << 40; break;  // a size without memory: never used
    case 2: pointer = workspace.data() + 1, bytes = 7; break;
    case 3: pointer = workspace.data() + 16 - reinterpret_cast<uintptr_t>(workspace.data()) % 16, bytes = 64; break;
    default: break;
  }
  const attnkit_status status = attnkit_run(plan, params, pointer, bytes);
  FUZZ_CHECK(std::all_of(workspace.begin(), workspace.end(), [](uint8_t x) { return x == 0xA5; }),
             "run wrote to the workspace of a host plan");
  return status;
}

/// A second call on the plan, decoded from a mutated layout: refused (kInvalidArgument,
/// nothing written) when it does not fit the plan, and forward's bytes when it does.
void check_second_call(FuzzedDataProvider& in, const attnkit_plan* plan, const attnkit_attention_params& planned,
                       Layout layout) {
  const char* what = mutate_layout(in, &layout);
  // Half the time the rest of the call (views, contents, options) is decoded from no bytes:
  // every view natural and every option its default, a valid call of the mutated layout.
  FuzzedDataProvider no_bytes(nullptr, 0);
  Call call;
  attnkit_attention_params params;
  decode(in.ConsumeBool() ? no_bytes : in, &call, &params, &layout, /*forced=*/true);
  if (call.skip || huge_batch(params)) return;
  if (std::getenv("ATTNKIT_FUZZ_VERBOSE") != nullptr) std::fprintf(stderr, "second call on the plan (%s):\n", what);
  print_call(params);
  const attnkit_status forward_status = check_forward(in, &call, params);
  const std::vector<std::vector<uint8_t>> forward_bytes = snapshot(call);
  fill_outputs(&call);
  const std::vector<std::vector<uint8_t>> before = snapshot(call);
  const attnkit_status status = run_on_plan(in, plan, &params);
  if (forward_status != ATTNKIT_STATUS_OK) {  // invalid by itself (or on a CUDA device)
    FUZZ_CHECK(status != ATTNKIT_STATUS_OK, "run accepted (%s) a call forward refuses (%d)", what,
               static_cast<int>(forward_status));
  } else if (!fits(plan_key(planned), plan_key(params))) {
    FUZZ_CHECK(status == ATTNKIT_STATUS_INVALID_ARGUMENT, "run on a call that does not fit the plan (%s): %d (%s)",
               what, static_cast<int>(status), attnkit_last_error());
    FUZZ_CHECK(std::strstr(attnkit_last_error(), "does not fit its plan") != nullptr,
               "run refused a call that does not fit (%s) with '%s'", what, attnkit_last_error());
  } else {
    FUZZ_CHECK(status == ATTNKIT_STATUS_OK, "run refused a call that fits the plan (%s): %d (%s)", what,
               static_cast<int>(status), attnkit_last_error());
  }
  if (status != ATTNKIT_STATUS_OK) {
    FUZZ_CHECK(attnkit_last_error()[0] != '\0', "run failed (%d) without a message", static_cast<int>(status));
    FUZZ_CHECK(snapshot(call) == before, "run failed (%s) but wrote to a tensor", attnkit_last_error());
    return;
  }
  if (outputs_injective(call)) {
    const std::vector<std::vector<uint8_t>> after = snapshot(call);
    FUZZ_CHECK(after == forward_bytes, "run and forward disagree on the second call (%s) at %s", what,
               first_difference(after, forward_bytes).c_str());
  }
  check_success(call, before, "run (second call)", inputs_finite(call), forward_rows(params));
}

}  // namespace

/// plan / run on the decoded call (see fuzz_checks.hpp).
void check_plan_run(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params, const Layout& layout,
                    attnkit_status forward_status) {
  const std::vector<std::vector<uint8_t>> forward_bytes = snapshot(*call);
  fill_outputs(call);
  const std::vector<std::vector<uint8_t>> before = snapshot(*call);

  int not_a_plan = 0;
  attnkit_plan* plan = reinterpret_cast<attnkit_plan*>(&not_a_plan);  // must become NULL on error
  const attnkit_status planned = attnkit_plan_create(&params, &plan);
  FUZZ_CHECK(planned == forward_status, "plan_create=%d but forward=%d (%s)", static_cast<int>(planned),
             static_cast<int>(forward_status), attnkit_last_error());
  FUZZ_CHECK(snapshot(*call) == before, "plan_create wrote to a tensor");
  if (planned != ATTNKIT_STATUS_OK) {
    FUZZ_CHECK(plan == nullptr, "plan_create failed but left a plan");
    FUZZ_CHECK(attnkit_last_error()[0] != '\0', "plan_create failed (%d) without a message", static_cast<int>(planned));
  } else {
    FUZZ_CHECK(plan != nullptr && plan != reinterpret_cast<attnkit_plan*>(&not_a_plan), "plan_create gave no plan");
    FUZZ_CHECK(attnkit_last_error()[0] == '\0', "plan_create succeeded but last_error is '%s'", attnkit_last_error());
  }
  if (in.ConsumeBool()) {  // the null pointers, on a real call
    FUZZ_CHECK(attnkit_plan_create(&params, nullptr) == ATTNKIT_STATUS_INVALID_ARGUMENT, "plan_create(params, NULL)");
    FUZZ_CHECK(std::strstr(attnkit_last_error(), "plan") != nullptr, "plan_create(params, NULL) says '%s'",
               attnkit_last_error());
    FUZZ_CHECK(attnkit_run(nullptr, &params, nullptr, 0) == ATTNKIT_STATUS_INVALID_ARGUMENT, "run(NULL, params)");
    FUZZ_CHECK(std::strstr(attnkit_last_error(), "plan") != nullptr, "run(NULL, params) says '%s'", attnkit_last_error());
    if (planned == ATTNKIT_STATUS_OK) {
      FUZZ_CHECK(attnkit_run(plan, nullptr, nullptr, 0) == ATTNKIT_STATUS_INVALID_ARGUMENT, "run(plan, NULL)");
      FUZZ_CHECK(attnkit_last_error()[0] != '\0', "run(plan, NULL) without a message");
    }
    FUZZ_CHECK(snapshot(*call) == before, "a call with a null pointer wrote to a tensor");
  }
  if (planned != ATTNKIT_STATUS_OK) return;
  FUZZ_CHECK(attnkit_plan_workspace_bytes(plan) == 0, "a host plan asks for %zu workspace bytes",
             attnkit_plan_workspace_bytes(plan));

  // The same call on its plan: forward's status and, the CPU backend being deterministic,
  // forward's bytes (when no output element is shared by two indices).
  const attnkit_status status = run_on_plan(in, plan, &params);
  FUZZ_CHECK(status == forward_status, "run=%d but forward=%d (%s)", static_cast<int>(status),
             static_cast<int>(forward_status), attnkit_last_error());
  if (outputs_injective(*call)) {
    const std::vector<std::vector<uint8_t>> after = snapshot(*call);
    FUZZ_CHECK(after == forward_bytes, "run and forward disagree at %s", first_difference(after, forward_bytes).c_str());
  }
  check_success(*call, before, "run", inputs_finite(*call), forward_rows(params));

  check_second_call(in, plan, params, layout);
  attnkit_plan_destroy(plan);
}

/// is_supported, explain and forward on the decoded call. Returns forward's status.
attnkit_status check_forward(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params) {
  fill_outputs(call);
  const std::vector<std::vector<uint8_t>> before = snapshot(*call);

  const int supported = attnkit_is_supported(&params);
  FUZZ_CHECK(supported == 0 || supported == 1, "is_supported returned %d", supported);
  FUZZ_CHECK(supported == 1 || attnkit_last_error()[0] != '\0', "is_supported=0 without a message");
  check_explain(&params, in, supported);
  FUZZ_CHECK(snapshot(*call) == before, "is_supported or explain wrote to a tensor");

  const attnkit_status status = attnkit_forward(&params);
  FUZZ_CHECK((status == ATTNKIT_STATUS_OK) == (supported == 1), "forward=%d but is_supported=%d (%s)",
             static_cast<int>(status), supported, attnkit_last_error());
  if (status != ATTNKIT_STATUS_OK) {
    FUZZ_CHECK(attnkit_last_error()[0] != '\0', "forward failed (%d) without a message", static_cast<int>(status));
    FUZZ_CHECK(snapshot(*call) == before, "forward failed (%s) but wrote to a tensor", attnkit_last_error());
    return status;
  }
  check_success(*call, before, "forward", inputs_finite(*call), forward_rows(params));
  return status;
}

/// attention_stats on the same call, with its own (mutated) outputs.
void check_stats(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params) {
  static constexpr int kStatBlocks[] = {4, 1, 3, 128, 0, -2};
  const Dims& d = call->dims;
  attnkit_stats_outputs out;
  attnkit_stats_outputs_init(&out);
  out.block_q = kStatBlocks[in.ConsumeIntegralInRange<int>(0, 5)];
  out.block_k = kStatBlocks[in.ConsumeIntegralInRange<int>(0, 5)];
  const int64_t nqb = ceil_div(d.max_sq, out.block_q), nkb = ceil_div(d.max_sk, out.block_k);
  const size_t first_new = call->tensors.size();
  auto column = [&](int dtype) {
    return d.varlen ? make_tensor(in, call, {d.hq, d.rows_k}, dtype, true)
                    : make_tensor(in, call, {d.batch, d.hq, d.max_sk}, dtype, true);
  };
  const uint8_t which = in.ConsumeIntegral<uint8_t>();
  if (which & 1) out.colsum = column(ATTNKIT_DTYPE_FLOAT32)->t;
  if (which & 2) out.colcount = column(ATTNKIT_DTYPE_INT32)->t;
  if (which & 4) out.colmean = column(ATTNKIT_DTYPE_FLOAT32)->t;
  if (which & 8) out.blockmass = make_tensor(in, call, {d.batch, d.hq, nqb, nkb}, ATTNKIT_DTYPE_FLOAT32, true)->t;
  if (which & 16) out.blockmean = make_tensor(in, call, {d.batch, d.hq, nqb, nkb}, ATTNKIT_DTYPE_FLOAT32, true)->t;
  if (call->skip) return;
  for (size_t n = first_new; n < call->tensors.size(); ++n) {
    std::fill(call->tensors[n].bytes.begin(), call->tensors[n].bytes.end(), kSentinel);
  }
  const std::vector<std::vector<uint8_t>> before = snapshot(*call);
  const attnkit_status status = attnkit_attention_stats(&params, &out);
  if (status != ATTNKIT_STATUS_OK) {
    FUZZ_CHECK(attnkit_last_error()[0] != '\0', "attention_stats failed (%d) without a message", static_cast<int>(status));
    FUZZ_CHECK(snapshot(*call) == before, "attention_stats failed (%s) but wrote to a tensor", attnkit_last_error());
    return;
  }
  // Column statistics of varlen keys past cu_seqlens_k[B] belong to no sequence.
  check_success(*call, before, "attention_stats", inputs_finite(*call), [&](const Backed& b, int* dim, int64_t* rows) {
    if (params.cu_seqlens_k.rank != 1 || b.t.rank != 2) return;
    *rows = read_int(params.cu_seqlens_k, params.cu_seqlens_k.shape[0] - 1);
    *dim = 1;
  });
}

/// block_mask_check on the decoded mask: never crashes, writes nothing, and agrees with
/// forward's validation of a host mask.
void check_block_mask(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params,
                      attnkit_status forward_status) {
  const attnkit_block_mask& m = params.block_mask;
  if (m.kv_count.rank == 0) return;
  const bool batched = params.cu_seqlens_q.rank == 0 && params.k.rank == 4;
  const int64_t forward_nkb = batched ? ceil_div(params.k.shape[1], m.block_k) : -1;
  const int64_t nkb = in.ConsumeBool() && batched ? forward_nkb : special_int(in, call->dims.max_sk);
  const std::vector<std::vector<uint8_t>> before = snapshot(*call);
  int64_t bad = -77;
  const attnkit_status status = attnkit_block_mask_check(&m, nkb, &bad, nullptr);
  FUZZ_CHECK(snapshot(*call) == before, "block_mask_check wrote to a tensor");
  if (status == ATTNKIT_STATUS_OK) FUZZ_CHECK(bad >= 0, "block_mask_check returned %lld bad entries", static_cast<long long>(bad));
  if (forward_status == ATTNKIT_STATUS_OK && batched && nkb == forward_nkb && m.kv_count.device == ATTNKIT_DEVICE_HOST) {
    FUZZ_CHECK(status == ATTNKIT_STATUS_OK && bad == 0, "forward accepted the mask, block_mask_check says %d/%lld (%s)",
               static_cast<int>(status), static_cast<long long>(bad), attnkit_last_error());
  }
}

}  // namespace attnkit_fuzz
