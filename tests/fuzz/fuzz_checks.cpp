// C API fuzzer post-call checks: each broken promise of the library aborts through FUZZ_CHECK.
#include "fuzz_checks.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_decode.hpp"

namespace attnkit_fuzz {
namespace {

constexpr uint8_t kSentinel = 0xFF;  // NaN in float32, float16 and bfloat16; -1 in int32

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

void print_tensor(const char* name, const attnkit_tensor& t) {
  if (t.rank == 0) return;
  std::fprintf(stderr, "  %s: dtype=%d rank=%d device=%d data=%p shape=[%lld, %lld, %lld, %lld] stride=[%lld, %lld, %lld, %lld]\n",
               name, t.dtype, t.rank, t.device, t.data, static_cast<long long>(t.shape[0]),
               static_cast<long long>(t.shape[1]), static_cast<long long>(t.shape[2]),
               static_cast<long long>(t.shape[3]), static_cast<long long>(t.stride[0]),
               static_cast<long long>(t.stride[1]), static_cast<long long>(t.stride[2]),
               static_cast<long long>(t.stride[3]));
}

}  // namespace

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

}  // namespace

/// is_supported, explain and forward on the decoded call. Returns forward's status.
attnkit_status check_forward(FuzzedDataProvider& in, Call* call, const attnkit_attention_params& params) {
  for (Backed& b : call->tensors) {
    if (b.is_output) std::fill(b.bytes.begin(), b.bytes.end(), kSentinel);
  }
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
  // Varlen rows past cu_seqlens_q[B] belong to no sequence and are left alone
  // (docs/reliability.md): O [total_q, ...] along dim 0, LSE [Hq, total_q] along dim 1.
  check_success(*call, before, "forward", inputs_finite(*call), [&](const Backed& b, int* dim, int64_t* rows) {
    if (params.cu_seqlens_q.rank != 1) return;
    *rows = read_int(params.cu_seqlens_q, params.cu_seqlens_q.shape[0] - 1);
    *dim = std::memcmp(&b.t, &params.lse, sizeof(b.t)) == 0 ? 1 : 0;
  });
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
