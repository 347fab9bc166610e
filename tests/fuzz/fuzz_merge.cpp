// C API fuzzer for merge_states: bytes -> partial states (O_i, LSE_i) of one shape, outputs
// that are their own buffers, exactly a part's view (in place) or overlap another argument,
// an optional sink and gate, then attnkit_merge_states and its promises (docs/api.md,
// "Merging attention states"). Every view is backed as in fuzz_decode.cpp; views placed
// inside another tensor's buffer (the overlap cases) are only made where they fit in it.
#include "fuzz_merge.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "attnkit/attnkit.h"
#include "fuzz_call.hpp"
#include "fuzz_checks.hpp"
#include "fuzz_decode.hpp"

namespace attnkit_fuzz {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int kMaxUniqueParts = 8;  // parts past this reuse earlier views (exact copies)

/// One decoded merge_states call; every buffer lives in `call`.
struct MergeCall {
  Call call;
  attnkit_merge_states_params p{};
  std::vector<attnkit_tensor> o_array, lse_array;  // what p.o_parts / p.lse_parts point at
  std::vector<size_t> o_part, lse_part;            // call.tensors index of each unique part
  int unique = 0;                                  // distinct part views (part i is i % unique)
  // call.tensors indices: the buffer each output view lies in (its own, a part's in place,
  // or another argument's for the overlap cases), the sink's and the gate's.
  size_t o = SIZE_MAX, lse = SIZE_MAX, sink = SIZE_MAX, gate = SIZE_MAX;
  bool packed = false;
  bool arrays_valid = false;  // num_parts >= 1 with both arrays present
  bool overlap_made = false;  // an output was placed to overlap another argument
};

/// LSE contents: moderate values, some or all -inf, edge values (+inf, NaN, +-FLT_MAX,
/// denormals) from the fuzz bytes, or raw bits.
void fill_lse(FuzzedDataProvider& in, Backed* b, uint32_t seed) {
  if (!b->host_backed) return;
  static constexpr float kValues[] = {0.0f,  1.5f,  -2.0f, 30.0f, -30.0f, -kInf, -kInf, kInf,
                                      std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::max(),
                                      -std::numeric_limits<float>::max(), 1e-40f, 88.7f, -1e4f, 1e30f};
  const int mode = in.ConsumeIntegralInRange<int>(0, 4);
  uint32_t state = seed * 2654435761u + 99u;
  for (size_t i = 0; i + 4 <= b->bytes.size(); i += 4) {
    state = state * 1664525u + 1013904223u;
    float f = (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) * 8.0f;
    if (mode == 1 && (state & 3u) == 0) f = -kInf;
    if (mode == 2 && in.ConsumeBool()) f = kValues[in.ConsumeIntegralInRange<size_t>(0, sizeof(kValues) / sizeof(kValues[0]) - 1)];
    if (mode == 3) {
      const uint32_t bits = in.ConsumeIntegral<uint32_t>();
      std::memcpy(&f, &bits, 4);
    }
    if (mode == 4) f = -kInf;
    std::memcpy(b->bytes.data() + i, &f, 4);
  }
}

/// Sink values: valid ones (finite, -inf) and invalid ones (+inf, NaN), or raw bits.
void fill_sink(FuzzedDataProvider& in, Backed* b) {
  if (!b->host_backed) return;
  static constexpr float kValues[] = {0.0f, 1.0f, -1.0f, 20.0f, -20.0f, 1e4f, -kInf, 3e38f, -3e38f, kInf,
                                      std::numeric_limits<float>::quiet_NaN()};
  for (size_t i = 0; i + 4 <= b->bytes.size(); i += 4) {
    float f;
    if (!in.ConsumeBool()) {  // the default (no fuzz bytes left) is 0.0: valid
      f = kValues[in.ConsumeIntegralInRange<size_t>(0, sizeof(kValues) / sizeof(kValues[0]) - 1)];
    } else {
      const uint32_t bits = in.ConsumeIntegral<uint32_t>();
      std::memcpy(&f, &bits, 4);
    }
    std::memcpy(b->bytes.data() + i, &f, 4);
  }
}

/// Places `view` (its shape, strides and dtype) at element `shift` past the data of
/// `host`'s view, when every byte it addresses lies in host's buffer; false otherwise.
bool place_inside(const Backed& host, int64_t shift, attnkit_tensor* view) {
  if (!host.host_backed || !is_known_dtype(host.t.dtype) || !is_known_dtype(view->dtype)) return false;
  int64_t lo, hi;
  if (view_span(*view, &lo, &hi) != Span::kFits) return false;
  const int64_t eb = element_bytes(view->dtype);
  const int64_t start = static_cast<int64_t>(host.origin) + shift * element_bytes(host.t.dtype);
  if (start + lo * eb < 0 || start + (hi + 1) * eb > static_cast<int64_t>(host.bytes.size())) return false;
  view->data = const_cast<uint8_t*>(host.bytes.data()) + start;
  view->device = host.t.device;
  return true;
}

size_t index_of(const Call& call, const Backed* b) {
  for (size_t n = 0; n < call.tensors.size(); ++n) {
    if (&call.tensors[n] == b) return n;
  }
  return SIZE_MAX;
}

/// Byte offset of element `off` of `view` inside the buffer of `b` (the view lies in it).
int64_t byte_in(const Backed& b, const attnkit_tensor& view, int64_t off) {
  return (static_cast<const uint8_t*>(view.data) - b.bytes.data()) + off * element_bytes(view.dtype);
}

/// A contiguous host view of `shape` and `dtype` (data set by place_inside).
attnkit_tensor contiguous_view(std::initializer_list<int64_t> shape, int dtype) {
  attnkit_tensor t{};
  t.rank = static_cast<int>(shape.size());
  t.dtype = dtype;
  int i = 0;
  for (int64_t s : shape) t.shape[i++] = s;
  int64_t acc = 1;
  for (int k = t.rank - 1; k >= 0; --k) {
    t.stride[k] = acc;
    acc *= t.shape[k] > 0 ? t.shape[k] : 1;
  }
  return t;
}

void decode_merge(FuzzedDataProvider& in, MergeCall* m) {
  static constexpr int64_t kBatch[] = {1, 2, 3, 0}, kSeq[] = {2, 1, 3, 5, 8, 0}, kHeads[] = {2, 1, 3, 4, 0};
  static constexpr int64_t kDims[] = {8, 1, 2, 3, 4, 5, 16, 7};
  static constexpr int kCounts[] = {2, 1, 3, 4, 5, 8, 65, 200};
  Call* call = &m->call;
  attnkit_merge_states_params& p = m->p;
  attnkit_merge_states_params_init(&p);
  m->packed = in.ConsumeIntegralInRange<int>(0, 3) == 3;
  const int64_t batch = kBatch[in.ConsumeIntegralInRange<int>(0, 3)], seqlen = kSeq[in.ConsumeIntegralInRange<int>(0, 5)];
  const int64_t heads = kHeads[in.ConsumeIntegralInRange<int>(0, 4)], dv = kDims[in.ConsumeIntegralInRange<int>(0, 7)];
  const int part_dtype = in.ConsumeIntegralInRange<int>(0, 2);
  const int out_dtype = in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(0, 2) : part_dtype;
  const uint32_t seed = in.ConsumeIntegral<uint32_t>();

  // num_parts, and the arrays behind it: num_parts entries (large counts repeat the first
  // kMaxUniqueParts views), one spare entry for counts <= 0 (never to be read), or null
  // arrays, the only honest arrays for counts the fuzzer cannot back.
  int count = kCounts[in.ConsumeIntegralInRange<int>(0, 7)];
  bool o_null = false, lse_null = false;
  switch (in.ConsumeIntegralInRange<int>(0, 15)) {
    case 15: {
      static constexpr int kSpecial[] = {0, -1, INT_MIN, INT_MAX, 1 << 20};
      count = kSpecial[in.ConsumeIntegralInRange<int>(0, 4)];
      if (count > 1000) o_null = lse_null = true;
      else if (in.ConsumeBool()) (in.ConsumeBool() ? o_null : lse_null) = true;
      break;
    }
    case 14: (in.ConsumeBool() ? o_null : lse_null) = true; break;
    default: break;
  }
  const int entries = count > 1000 ? 0 : std::max(count, 1);
  m->unique = std::min(entries, kMaxUniqueParts);
  m->arrays_valid = count >= 1 && !o_null && !lse_null;
  const auto o_shape = m->packed ? std::initializer_list<int64_t>{seqlen, heads, dv}
                                 : std::initializer_list<int64_t>{batch, seqlen, heads, dv};
  const auto lse_shape = m->packed ? std::initializer_list<int64_t>{heads, seqlen}
                                   : std::initializer_list<int64_t>{batch, heads, seqlen};
  for (int i = 0; i < m->unique; ++i) {
    Backed* o = make_tensor(in, call, o_shape, part_dtype, false);
    m->o_part.push_back(call->tensors.size() - 1);
    fill_float(in, o, seed + static_cast<uint32_t>(i));
    if (o->host_backed && in.ConsumeIntegralInRange<int>(0, 7) == 7) {
      std::fill(o->bytes.begin(), o->bytes.end(), kSentinel);  // NaN: read only where its LSE is not -inf
    }
    Backed* lse = make_tensor(in, call, lse_shape, ATTNKIT_DTYPE_FLOAT32, false);
    m->lse_part.push_back(call->tensors.size() - 1);
    fill_lse(in, lse, seed + 100u + static_cast<uint32_t>(i));
  }
  for (int i = 0; i < entries; ++i) {
    m->o_array.push_back(call->tensors[m->o_part[static_cast<size_t>(i % m->unique)]].t);
    m->lse_array.push_back(call->tensors[m->lse_part[static_cast<size_t>(i % m->unique)]].t);
  }
  p.num_parts = count;
  p.o_parts = o_null || entries == 0 ? nullptr : m->o_array.data();
  p.lse_parts = lse_null || entries == 0 ? nullptr : m->lse_array.data();
  auto part = [&](const std::vector<size_t>& parts) -> Backed* {
    return m->unique > 0 ? &call->tensors[parts[in.ConsumeIntegralInRange<size_t>(0, static_cast<size_t>(m->unique) - 1)]]
                         : nullptr;
  };

  // The sink and the gate (before the outputs, which may overlap them).
  if (in.ConsumeBool()) {
    Backed* s = make_tensor(in, call, {heads}, ATTNKIT_DTYPE_FLOAT32, false);
    m->sink = call->tensors.size() - 1;
    fill_sink(in, s);
    p.sink_logit = s->t;
  }
  const int o_mode = in.ConsumeIntegralInRange<int>(0, 7);  // 0-4 own, 5 in place, 6-7 overlap
  Backed* in_place = o_mode == 5 ? part(m->o_part) : nullptr;
  const int o_dtype = in_place != nullptr ? in_place->t.dtype : out_dtype;
  if (in.ConsumeBool()) {
    const bool elementwise = in.ConsumeBool();
    const int gdtype = in.ConsumeBool() ? o_dtype : ATTNKIT_DTYPE_FLOAT32;
    Backed* g = m->packed ? (elementwise ? make_tensor(in, call, {seqlen, heads, dv}, gdtype, false)
                                         : make_tensor(in, call, {seqlen, heads}, gdtype, false))
                          : (elementwise ? make_tensor(in, call, {batch, seqlen, heads, dv}, gdtype, false)
                                         : make_tensor(in, call, {batch, seqlen, heads}, gdtype, false));
    m->gate = call->tensors.size() - 1;
    fill_float(in, g, seed + 7u);
    p.gate.g = g->t;
    p.gate.activation = in.ConsumeBool() ? in.ConsumeIntegralInRange<int>(0, 1) : in.ConsumeIntegral<int>();
  }

  // O: its own buffer, exactly a part's view (in place: allowed), or a view that overlaps
  // another argument (refused): a part shifted by one element, an LSE part, the gate.
  if (in_place != nullptr) {
    in_place->is_output = true;
    m->o = index_of(*call, in_place);
    p.o = in_place->t;
  } else if (o_mode >= 6 && m->unique > 0) {
    const int target = in.ConsumeIntegralInRange<int>(0, 2);
    Backed* host = target == 0 ? part(m->o_part) : target == 1 ? part(m->lse_part)
                   : m->gate != SIZE_MAX ? &call->tensors[m->gate] : nullptr;
    attnkit_tensor v = target == 0 ? host->t : contiguous_view(o_shape, target == 1 ? ATTNKIT_DTYPE_FLOAT32 : o_dtype);
    if (host != nullptr && place_inside(*host, target == 0 ? 1 : 0, &v)) {
      p.o = v;
      m->o = index_of(*call, host);
      m->overlap_made = true;
    }
  }
  if (p.o.rank == 0) {
    Backed* o = make_tensor(in, call, o_shape, out_dtype, true);
    m->o = call->tensors.size() - 1;
    p.o = o->t;
  }

  // LSE: own buffer, absent, exactly an LSE part (in place), or overlapping another argument.
  const int lse_mode = in.ConsumeIntegralInRange<int>(0, 7);  // 0-3 own, 4 absent, 5 in place, 6-7 overlap
  if (lse_mode <= 3) {
    Backed* l = make_tensor(in, call, lse_shape, ATTNKIT_DTYPE_FLOAT32, true);
    m->lse = call->tensors.size() - 1;
    p.lse = l->t;
  } else if (lse_mode == 5 && m->unique > 0) {
    Backed* l = part(m->lse_part);
    l->is_output = true;
    m->lse = index_of(*call, l);
    p.lse = l->t;
  } else if (lse_mode >= 6 && m->unique > 0) {
    const int target = in.ConsumeIntegralInRange<int>(0, 3);
    Backed* host = target == 0 ? part(m->lse_part)
                   : target == 1 ? part(m->o_part)
                   : target == 2 ? (m->sink != SIZE_MAX ? &call->tensors[m->sink] : nullptr)
                                 : (m->o != SIZE_MAX ? &call->tensors[m->o] : nullptr);
    attnkit_tensor v = target == 0 && host != nullptr ? host->t : contiguous_view(lse_shape, ATTNKIT_DTYPE_FLOAT32);
    if (host != nullptr && place_inside(*host, target == 0 ? 1 : 0, &v)) {
      p.lse = v;
      m->lse = index_of(*call, host);
      m->overlap_made = true;
    }
  }
  if (in.ConsumeIntegralInRange<int>(0, 31) == 0) p.stream = reinterpret_cast<void*>(uintptr_t{0x10});  // ignored on the host
}

// ---- checks --------------------------------------------------------------------

/// Bytes [first, last) a validated view can touch (empty when it addresses nothing): the
/// overlap rule of docs/api.md, decided on address ranges.
struct Range {
  uintptr_t first = 0, last = 0;
};
Range range_of(const attnkit_tensor& t) {
  Range r;
  if (t.rank <= 0 || !is_known_dtype(t.dtype)) return r;
  const int rank = std::min(t.rank, ATTNKIT_MAX_RANK);
  for (int i = 0; i < rank; ++i) {
    if (t.shape[i] == 0) return r;  // empty (validation does not bound its strides)
  }
  int64_t reach = 0;
  for (int i = 0; i < rank; ++i) reach += (t.shape[i] - 1) * t.stride[i];  // validated: fits
  r.first = reinterpret_cast<uintptr_t>(t.data);
  r.last = r.first + static_cast<uintptr_t>((reach + 1) * element_bytes(t.dtype));
  return r;
}
bool overlaps(const attnkit_tensor& a, const attnkit_tensor& b) {
  if (b.rank <= 0) return false;
  const Range x = range_of(a), y = range_of(b);
  return x.first != x.last && y.first != y.last && x.first < y.last && y.first < x.last;
}
bool same_view(const attnkit_tensor& a, const attnkit_tensor& b) {
  if (a.data != b.data || a.dtype != b.dtype || a.rank != b.rank) return false;
  for (int i = 0; i < a.rank && i < ATTNKIT_MAX_RANK; ++i) {
    if (a.shape[i] != b.shape[i] || a.stride[i] != b.stride[i]) return false;
  }
  return true;
}

/// The overlap the rules forbid: an output over another argument, except exactly one view
/// of its own kind (in place). Meaningful for validated views only.
bool forbidden_overlap(const MergeCall& m) {
  const attnkit_merge_states_params& p = m.p;
  for (int i = 0; i < p.num_parts; ++i) {
    const attnkit_tensor &oi = p.o_parts[i], &li = p.lse_parts[i];
    if ((!same_view(p.o, oi) && overlaps(p.o, oi)) || overlaps(p.o, li)) return true;
    if (p.lse.rank > 0 && ((!same_view(p.lse, li) && overlaps(p.lse, li)) || overlaps(p.lse, oi))) return true;
  }
  for (const attnkit_tensor* aux : {&p.sink_logit, &p.gate.g}) {
    if (overlaps(p.o, *aux) || (p.lse.rank > 0 && overlaps(p.lse, *aux))) return true;
  }
  return p.lse.rank > 0 && overlaps(p.o, p.lse);
}

/// Whether the decoder made a call every rule accepts: no view mutated, num_parts >= 1 with
/// both arrays, no overlap placed, valid sink values and gate activation.
bool expect_valid(const MergeCall& m) {
  if (!m.arrays_valid || m.overlap_made || m.o == SIZE_MAX) return false;
  for (const Backed& b : m.call.tensors) {
    if (!b.natural_view) return false;
  }
  if (m.p.gate.g.rank > 0 && m.p.gate.activation != ATTNKIT_GATE_SIGMOID && m.p.gate.activation != ATTNKIT_GATE_IDENTITY) {
    return false;
  }
  bool sink_ok = true;
  if (m.sink != SIZE_MAX) {
    const Backed& s = m.call.tensors[m.sink];
    for_each_offset(s.t, [&](int64_t off) {
      float f;
      std::memcpy(&f, s.bytes.data() + s.origin + static_cast<size_t>(off) * 4, 4);
      if (std::isnan(f) || f == kInf) sink_ok = false;
    });
  }
  return sink_ok;
}

/// Reads element `off` of tensor `index`'s view as it was in `bytes` (a snapshot).
double value_at(const MergeCall& m, const std::vector<std::vector<uint8_t>>& bytes, size_t index,
                const attnkit_tensor& view, int64_t off, bool* finite = nullptr, bool* nan = nullptr) {
  const uint8_t* e = bytes[index].data() + byte_in(m.call.tensors[index], view, off);
  if (finite) *finite = element_is_finite(e, view.dtype);
  if (nan) *nan = element_is_nan(e, view.dtype);
  return element_value(e, view.dtype);
}

/// The values a successful merge wrote, row by row (b, s, h), against what it read.
void check_merged_values(const MergeCall& m, const std::vector<std::vector<uint8_t>>& before,
                         const std::vector<std::vector<uint8_t>>& after) {
  const attnkit_merge_states_params& p = m.p;
  const bool packed = m.packed;
  const int64_t batch = packed ? 1 : p.o.shape[0], seqlen = p.o.shape[packed ? 0 : 1];
  const int64_t heads = p.o.shape[packed ? 1 : 2], dv = p.o.shape[packed ? 2 : 3];
  auto o_at = [&](const attnkit_tensor& t, int64_t b, int64_t s, int64_t h) {
    return packed ? s * t.stride[0] + h * t.stride[1] : b * t.stride[0] + s * t.stride[1] + h * t.stride[2];
  };
  auto lse_at = [&](const attnkit_tensor& t, int64_t b, int64_t s, int64_t h) {
    return packed ? h * t.stride[0] + s * t.stride[1] : b * t.stride[0] + h * t.stride[1] + s * t.stride[2];
  };
  const int n = p.num_parts;
  const bool has_gate = p.gate.g.rank > 0, has_sink = p.sink_logit.rank > 0;
  const bool gate_elementwise = has_gate && p.gate.g.rank == (packed ? 3 : 4);
  const int o_dtype = p.o.dtype, part_dtype = p.o_parts[0].dtype;
  std::vector<double> lse(static_cast<size_t>(n));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t s = 0; s < seqlen; ++s)
      for (int64_t h = 0; h < heads; ++h) {
        const double sigma = has_sink ? value_at(m, before, m.sink, p.sink_logit, h * p.sink_logit.stride[0]) : -kInf;
        bool lse_ok = true, all_empty = true;
        double top = sigma;
        for (int i = 0; i < n; ++i) {
          const size_t index = m.lse_part[static_cast<size_t>(i % m.unique)];
          lse[static_cast<size_t>(i)] = value_at(m, before, index, p.lse_parts[i], lse_at(p.lse_parts[i], b, s, h));
          const double x = lse[static_cast<size_t>(i)];
          lse_ok = lse_ok && !std::isnan(x) && x != kInf;
          all_empty = all_empty && x == -kInf;
          if (!std::isnan(x)) top = std::max(top, x);
        }
        // One part without sink or gate comes back unchanged (docs/api.md says bit for bit;
        // compared as values: the sum starts at +0, so a -0 element comes back as +0).
        const bool single = n == 1 && !has_sink && !has_gate && o_dtype == part_dtype && std::isfinite(lse[0]);
        for (int64_t x = 0; x < dv; ++x) {
          bool gate_finite = true;
          if (has_gate) {
            value_at(m, before, m.gate, p.gate.g, o_at(p.gate.g, b, s, h) + (gate_elementwise ? x : 0), &gate_finite);
          }
          bool reads_finite = lse_ok && gate_finite;
          double only = 0.0;
          for (int i = 0; i < n && reads_finite; ++i) {
            if (lse[static_cast<size_t>(i)] == -kInf) continue;  // never read
            const size_t index = m.o_part[static_cast<size_t>(i % m.unique)];
            bool finite = true;
            only = value_at(m, before, index, p.o_parts[i], o_at(p.o_parts[i], b, s, h) + x, &finite);
            reads_finite = finite;
          }
          bool nan = false;
          const double out = value_at(m, after, m.o, p.o, o_at(p.o, b, s, h) + x, nullptr, &nan);
          FUZZ_CHECK(!reads_finite || !nan, "merge_states: NaN in o at (%lld, %lld, %lld, %lld) from finite reads",
                     static_cast<long long>(b), static_cast<long long>(s), static_cast<long long>(h),
                     static_cast<long long>(x));
          FUZZ_CHECK(!(reads_finite && all_empty) || out == 0.0, "merge_states: o = %g in a row every part left empty",
                     out);
          FUZZ_CHECK(!(reads_finite && single) || out == only, "merge_states: one part without a sink gave %g for %g", out,
                     only);
        }
        if (p.lse.rank <= 0) continue;
        bool nan = false;
        const double out = value_at(m, after, m.lse, p.lse, lse_at(p.lse, b, s, h), nullptr, &nan);
        FUZZ_CHECK(!lse_ok || !nan, "merge_states: NaN LSE at (%lld, %lld, %lld) from LSEs without NaN / +inf",
                   static_cast<long long>(b), static_cast<long long>(s), static_cast<long long>(h));
        if (!lse_ok) continue;
        if (all_empty) {
          FUZZ_CHECK(out == sigma, "merge_states: LSE = %g in an empty row, sink %g", out, sigma);
        } else {
          FUZZ_CHECK(out >= top, "merge_states: LSE = %g below the largest term %g", out, top);
        }
        FUZZ_CHECK(!single || out == lse[0], "merge_states: one part without a sink gave LSE %g for %g", out, lse[0]);
      }
}

void check_merge(MergeCall* m) {
  Call& call = m->call;
  for (size_t n = 0; n < call.tensors.size(); ++n) {  // own outputs start as NaN, in-place ones hold their part
    const bool part = std::find(m->o_part.begin(), m->o_part.end(), n) != m->o_part.end() ||
                      std::find(m->lse_part.begin(), m->lse_part.end(), n) != m->lse_part.end();
    if (call.tensors[n].is_output && !part) std::fill(call.tensors[n].bytes.begin(), call.tensors[n].bytes.end(), kSentinel);
  }
  const std::vector<std::vector<uint8_t>> before = snapshot(call);
  const attnkit_status status = attnkit_merge_states(&m->p);
  if (std::getenv("ATTNKIT_FUZZ_VERBOSE") != nullptr) {
    std::fprintf(stderr, "merge_states: status %d '%s'\n", static_cast<int>(status), attnkit_last_error());
  }
  if (status != ATTNKIT_STATUS_OK) {
    FUZZ_CHECK(attnkit_last_error()[0] != '\0', "merge_states failed (%d) without a message", static_cast<int>(status));
    FUZZ_CHECK(snapshot(call) == before, "merge_states failed (%s) but wrote to a tensor", attnkit_last_error());
    FUZZ_CHECK(!expect_valid(*m), "merge_states refused a valid call: %s", attnkit_last_error());
    return;
  }
  FUZZ_CHECK(attnkit_last_error()[0] == '\0', "merge_states succeeded but last_error is '%s'", attnkit_last_error());
  FUZZ_CHECK(!forbidden_overlap(*m), "merge_states accepted an output that overlaps another argument");
  // Nothing changed but the bytes of the output views (wherever they lie).
  const std::vector<std::vector<uint8_t>> after = snapshot(call);
  for (size_t n = 0; n < call.tensors.size(); ++n) {
    const Backed& b = call.tensors[n];
    std::vector<bool> addressed(b.bytes.size(), false);
    const std::pair<size_t, const attnkit_tensor*> outputs[] = {{m->o, &m->p.o}, {m->lse, &m->p.lse}};
    for (const auto& out : outputs) {
      const attnkit_tensor& view = *out.second;
      if (out.first != n || view.rank <= 0) continue;
      const int64_t eb = element_bytes(view.dtype);
      for_each_offset(view, [&](int64_t off) {
        for (int64_t x = 0; x < eb; ++x) addressed[static_cast<size_t>(byte_in(b, view, off) + x)] = true;
      });
    }
    for (size_t i = 0; i < b.bytes.size(); ++i) {
      FUZZ_CHECK(addressed[i] || after[n][i] == before[n][i],
                 "merge_states wrote outside its output views (tensor %zu byte %zu)", n, i);
    }
  }
  // Values, where each output element has its own address (a broadcast output is written
  // by several rows, and an in-place one would then be read after another row's write).
  if (view_is_injective(m->p.o) && (m->p.lse.rank <= 0 || view_is_injective(m->p.lse))) {
    check_merged_values(*m, before, after);
  }
}

void print_merge(const MergeCall& m) {
  if (std::getenv("ATTNKIT_FUZZ_VERBOSE") == nullptr) return;
  std::fprintf(stderr, "merge_states: num_parts=%d (%d distinct views) o_parts=%p lse_parts=%p activation=%d\n",
               m.p.num_parts, m.unique, static_cast<const void*>(m.p.o_parts), static_cast<const void*>(m.p.lse_parts),
               m.p.gate.activation);
  for (int i = 0; i < m.unique; ++i) {  // part k is view k % unique
    char name[32];
    std::snprintf(name, sizeof(name), "o_parts[%d]", i);
    print_tensor(name, m.call.tensors[m.o_part[static_cast<size_t>(i)]].t);
    std::snprintf(name, sizeof(name), "lse_parts[%d]", i);
    print_tensor(name, m.call.tensors[m.lse_part[static_cast<size_t>(i)]].t);
  }
  print_tensor("o", m.p.o);
  print_tensor("lse", m.p.lse);
  print_tensor("sink_logit", m.p.sink_logit);
  print_tensor("gate.g", m.p.gate.g);
}

}  // namespace

void fuzz_merge_states(FuzzedDataProvider& in) {
  MergeCall m;
  decode_merge(in, &m);
  if (m.call.skip) return;
  print_merge(m);
  check_merge(&m);
}

}  // namespace attnkit_fuzz
