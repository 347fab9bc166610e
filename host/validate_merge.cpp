// Validation of merge_states: the layout of the parts (forward()'s batched or packed O and
// LSE), the outputs, the sink and the gate, and the aliasing rule (an output may be exactly
// one input view, in place, and must otherwise be disjoint from every other argument).
#include "host/validate_merge.hpp"

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "host/validate.hpp"
#include "host/validate_outputs.hpp"

namespace attnkit::detail {

namespace {

const char* side_name(DeviceKind d) { return d == DeviceKind::kHost ? "the host" : "a CUDA device"; }

bool is_float_dtype(DType d) { return d == DType::kFloat32 || d == DType::kFloat16 || d == DType::kBFloat16; }

std::string part_name(const char* array, int k) { return std::string(array) + "[" + std::to_string(k) + "]"; }

/// The side rule, named after o_parts[0] (whose side the call takes) rather than q's.
Status check_side(const TensorView& t, const std::string& name, DeviceKind device) {
  if (t.device == device) return Status::ok();
  return invalid(name + ": lives on " + side_name(t.device) + " but o_parts[0] lives on " + side_name(device) +
                 "; all tensors of a call must live on the same side");
}

/// check_side, then the structural rules of check_tensor_view.
Status check_view(const TensorView& t, const std::string& name, DeviceKind device) {
  if (t.rank >= 1 && t.rank <= kMaxRank) {
    if (Status s = check_side(t, name, device); !s) return s;
  }
  return check_tensor_view(t, name, device);
}

bool same_shape(const TensorView& a, const TensorView& b) {
  if (a.rank != b.rank) return false;
  for (int i = 0; i < a.rank; ++i) {
    if (a.shape[i] != b.shape[i]) return false;
  }
  return true;
}

/// The very same view: data, dtype, shape and strides (what an in-place merge passes).
bool same_view(const TensorView& a, const TensorView& b) {
  if (a.data != b.data || a.dtype != b.dtype || !same_shape(a, b)) return false;
  for (int i = 0; i < a.rank; ++i) {
    if (a.stride[i] != b.stride[i]) return false;
  }
  return true;
}

/// Bytes [first, last) a validated view can touch; empty for an empty view. The span of
/// a strided view may contain bytes it never addresses: two interleaved views count as
/// overlapping (documented; the check stays simple and conservative).
struct Span {
  uintptr_t first = 0, last = 0;
  bool empty() const { return first == last; }
};

Span span_of(const TensorView& t) {
  Span s;
  if (!t.present() || t.numel() == 0) return s;
  int64_t reach = 0;  // validated: fits in int64
  for (int i = 0; i < t.rank; ++i) reach += (t.shape[i] - 1) * t.stride[i];
  s.first = reinterpret_cast<uintptr_t>(t.data);
  s.last = s.first + static_cast<uintptr_t>((reach + 1) * dtype_size(t.dtype));
  return s;
}

bool overlap(const TensorView& a, const TensorView& b) {
  const Span x = span_of(a), y = span_of(b);
  return !x.empty() && !y.empty() && x.first < y.last && y.first < x.last;
}

struct Named {
  const TensorView* view;
  std::string name;
};

/// An output against the inputs it may alias exactly (`in_place`) and every other argument.
Status check_aliasing(const TensorView& out, const char* out_name, const std::vector<Named>& in_place,
                      const std::vector<Named>& others) {
  for (const Named& n : in_place) {
    if (same_view(out, *n.view) || !overlap(out, *n.view)) continue;
    return invalid(std::string(out_name) + ": overlaps " + n.name + "; expected either exactly the view " + n.name +
                   " (an in-place merge: same data, dtype, shape and strides) or memory disjoint from it");
  }
  for (const Named& n : others) {
    if (!overlap(out, *n.view)) continue;
    return invalid(std::string(out_name) + ": overlaps " + n.name + "; expected memory disjoint from " + n.name +
                   " (an output may only be exactly one of the partial states of its own kind, in place)");
  }
  return Status::ok();
}

Status check_sink(const MergeStatesParams& p, const MergeProblem& pr) {
  const TensorView& t = p.sink_logit;
  if (t.rank >= 1 && t.rank <= kMaxRank) {
    if (Status s = check_side(t, "sink_logit", pr.device); !s) return s;
  }
  if (Status s = check_exact_tensor(t, "sink_logit", pr.device, DType::kFloat32, {pr.heads}, "[H]"); !s) return s;
  if (pr.device != DeviceKind::kHost) return Status::ok();  // device values: the caller's responsibility
  const float* v = static_cast<const float*>(t.data);
  for (int64_t h = 0; h < pr.heads; ++h) {
    const float x = v[h * t.stride[0]];
    if (std::isnan(x) || x == INFINITY) {
      return invalid("sink_logit[" + std::to_string(h) + "] = " + std::to_string(x) + ": expected finite or -inf");
    }
  }
  return Status::ok();
}

Status check_gate(const MergeStatesParams& p, MergeProblem* pr) {
  const TensorView& g = p.gate.g;
  if (Status s = check_view(g, "gate.g", pr->device); !s) return s;
  if (g.dtype != pr->out_dtype && g.dtype != DType::kFloat32) {
    const std::string want = pr->out_dtype == DType::kFloat32 ? "float32 (o is float32)"
                                                               : std::string(dtype_name(pr->out_dtype)) + " (o's) or float32";
    return invalid("gate.g: expected dtype " + want + ", got " + dtype_name(g.dtype));
  }
  if (p.gate.activation != GateActivation::kSigmoid && p.gate.activation != GateActivation::kIdentity) {
    return invalid("gate.activation: expected kSigmoid or kIdentity");
  }
  const int base = pr->packed ? 2 : 3;  // headwise rank
  bool ok = g.rank == base || g.rank == base + 1;
  if (ok && pr->packed) ok = g.shape[0] == pr->seqlen && g.shape[1] == pr->heads;
  if (ok && !pr->packed) ok = g.shape[0] == pr->batch && g.shape[1] == pr->seqlen && g.shape[2] == pr->heads;
  if (ok && g.rank == base + 1) ok = g.shape[base] == pr->dv;
  if (!ok) {
    const std::string h = std::to_string(pr->heads), n = std::to_string(pr->seqlen);
    const std::string want = pr->packed ? "[N, H] = [" + n + ", " + h + "] (headwise) or [N, H, Dv] (elementwise)"
                                        : "[B, S, H] = [" + std::to_string(pr->batch) + ", " + n + ", " + h +
                                              "] (headwise) or [B, S, H, Dv] (elementwise)";
    return invalid("gate.g: expected shape " + want + ", got " + shape_string(g));
  }
  pr->has_gate = true;
  pr->gate_elementwise = g.rank == base + 1;
  return Status::ok();
}

}  // namespace

Status validate_merge(const MergeStatesParams& p, MergeProblem* out) {
  MergeProblem pr;
  if (p.num_parts < 1) {
    return invalid("num_parts = " + std::to_string(p.num_parts) +
                   ": expected >= 1 (one partial state per disjoint key set)");
  }
  const std::string count = std::to_string(p.num_parts);
  if (p.o_parts == nullptr) return invalid("o_parts: expected an array of num_parts = " + count + " views, got null");
  if (p.lse_parts == nullptr) return invalid("lse_parts: expected an array of num_parts = " + count + " views, got null");
  pr.num_parts = p.num_parts;

  // The parts: o_parts[0] fixes the side, the dtype and the layout.
  const TensorView& first = p.o_parts[0];
  if (!first.present()) return invalid("o_parts[0]: required, got an absent tensor");
  pr.device = first.device;
  if (Status s = check_tensor_view(first, "o_parts[0]", pr.device); !s) return s;
  if (!is_float_dtype(first.dtype)) {
    return invalid(std::string("o_parts[0]: expected dtype float32, float16 or bfloat16, got ") + dtype_name(first.dtype));
  }
  if (first.rank != 3 && first.rank != 4) {
    return invalid("o_parts[0]: expected rank 4 [B, S, H, Dv] (batched) or rank 3 [N, H, Dv] (packed / varlen), got " +
                   shape_string(first));
  }
  pr.part_dtype = first.dtype;
  pr.packed = first.rank == 3;
  pr.batch = pr.packed ? 1 : first.shape[0];
  pr.seqlen = pr.packed ? first.shape[0] : first.shape[1];
  pr.heads = first.shape[pr.packed ? 1 : 2];
  pr.dv = first.shape[pr.packed ? 2 : 3];
  for (int k = 1; k < p.num_parts; ++k) {
    const TensorView& t = p.o_parts[k];
    const std::string name = part_name("o_parts", k);
    if (!t.present()) return invalid(name + ": required, got an absent tensor");
    if (Status s = check_view(t, name, pr.device); !s) return s;
    if (t.dtype != pr.part_dtype) {
      return invalid(name + ": expected dtype " + dtype_name(pr.part_dtype) + " (o_parts[0]'s), got " + dtype_name(t.dtype));
    }
    if (!same_shape(t, first)) {
      return invalid(name + ": expected shape " + shape_string(first) + " (o_parts[0]'s), got " + shape_string(t));
    }
  }
  for (int k = 0; k < p.num_parts; ++k) {
    const TensorView& t = p.lse_parts[k];
    const std::string name = part_name("lse_parts", k);
    if (!t.present()) return invalid(name + ": required, got an absent tensor");
    if (Status s = check_view(t, name, pr.device); !s) return s;
    Status s = pr.packed ? check_exact_tensor(t, name, pr.device, DType::kFloat32, {pr.heads, pr.seqlen}, "[H, N]")
                         : check_exact_tensor(t, name, pr.device, DType::kFloat32, {pr.batch, pr.heads, pr.seqlen},
                                              "[B, H, S]");
    if (!s) return s;
  }

  // The outputs.
  if (!p.o.present()) return invalid("o: required, got an absent tensor");
  if (Status s = check_view(p.o, "o", pr.device); !s) return s;
  if (!is_float_dtype(p.o.dtype)) {
    return invalid(std::string("o: expected dtype float32, float16 or bfloat16, got ") + dtype_name(p.o.dtype));
  }
  if (!same_shape(p.o, first)) {
    return invalid("o: expected shape " + shape_string(first) + " (the parts'), got " + shape_string(p.o));
  }
  pr.out_dtype = p.o.dtype;
  if (p.lse.present()) {
    if (Status s = check_view(p.lse, "lse", pr.device); !s) return s;
    Status s = pr.packed ? check_exact_tensor(p.lse, "lse", pr.device, DType::kFloat32, {pr.heads, pr.seqlen}, "[H, N]")
                         : check_exact_tensor(p.lse, "lse", pr.device, DType::kFloat32, {pr.batch, pr.heads, pr.seqlen},
                                              "[B, H, S]");
    if (!s) return s;
    pr.has_lse = true;
  }

  // The sink and the gate.
  if (p.sink_logit.present()) {
    if (Status s = check_sink(p, pr); !s) return s;
    pr.has_sink = true;
  }
  if (p.gate.present()) {
    if (Status s = check_gate(p, &pr); !s) return s;
  }

  // Aliasing: o may be exactly an o_parts view and lse exactly an lse_parts view.
  std::vector<Named> o_views, lse_views, aux;
  for (int k = 0; k < p.num_parts; ++k) {
    o_views.push_back({&p.o_parts[k], part_name("o_parts", k)});
    lse_views.push_back({&p.lse_parts[k], part_name("lse_parts", k)});
  }
  if (pr.has_sink) aux.push_back({&p.sink_logit, "sink_logit"});
  if (pr.has_gate) aux.push_back({&p.gate.g, "gate.g"});
  std::vector<Named> o_others = lse_views;
  o_others.insert(o_others.end(), aux.begin(), aux.end());
  if (pr.has_lse) o_others.push_back({&p.lse, "lse"});
  if (Status s = check_aliasing(p.o, "o", o_views, o_others); !s) return s;
  if (pr.has_lse) {
    std::vector<Named> lse_others = o_views;
    lse_others.insert(lse_others.end(), aux.begin(), aux.end());
    if (Status s = check_aliasing(p.lse, "lse", lse_views, lse_others); !s) return s;
  }
  *out = std::move(pr);
  return Status::ok();
}

}  // namespace attnkit::detail
