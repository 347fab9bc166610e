// Validation of attention calls (SPEC 10): every rule names the argument and what was
// expected. Nothing here writes to any tensor.
#include "host/validate.hpp"

#include "host/validate_outputs.hpp"

#include <cmath>
#include <sstream>
#include <tuple>

namespace attnkit::detail {

Status invalid(const std::string& message) { return Status(StatusCode::kInvalidArgument, message); }

Status refuse_fp8_kv_cache(const Problem& pr, const char* entry_point) {
  if (!pr.kv_fp8) return Status::ok();
  return Status(StatusCode::kNotSupported, std::string("k: float8 KV caches are supported by forward, plan and run only; ") +
                                               entry_point + " got " + dtype_name(pr.kv_dtype) +
                                               " K and V (dequantise them to Q's dtype first)");
}

std::string shape_string(const TensorView& t) {
  std::ostringstream s;
  s << "[";
  for (int i = 0; i < t.rank && i < kMaxRank; ++i) s << (i ? ", " : "") << t.shape[i];
  s << "]";
  return s.str();
}

namespace {

bool is_float_dtype(DType d) {
  return d == DType::kFloat32 || d == DType::kFloat16 || d == DType::kBFloat16;
}

/// Host float32 arrays of per-head values: finite, or -inf where allowed.
Status check_head_values(const TensorView& t, const char* name, bool allow_neg_inf) {
  if (t.device != DeviceKind::kHost) return Status::ok();  // device values: caller's responsibility
  const float* p = static_cast<const float*>(t.data);
  for (int64_t h = 0; h < t.shape[0]; ++h) {
    const float x = p[h * t.stride[0]];
    if (std::isnan(x) || (std::isinf(x) && (x > 0 || !allow_neg_inf))) {
      return invalid(std::string(name) + "[" + std::to_string(h) + "] = " + std::to_string(x) + ": expected finite" +
                     (allow_neg_inf ? " or -inf" : ""));
    }
  }
  return Status::ok();
}

/// Host block masks: counts in [0, max_kv], entries ascending, unique, in [0, NKB).
Status check_host_block_mask(const BlockMask& m, int64_t nkb) {
  const TensorView& c = m.kv_count;
  const TensorView& x = m.kv_index;
  const int32_t* pc = static_cast<const int32_t*>(c.data);
  const int32_t* px = static_cast<const int32_t*>(x.data);
  const int64_t max_kv = x.shape[3];
  for (int64_t b = 0; b < c.shape[0]; ++b)
    for (int64_t h = 0; h < c.shape[1]; ++h)
      for (int64_t qb = 0; qb < c.shape[2]; ++qb) {
        const std::string where = "[" + std::to_string(b) + ", " + std::to_string(h) + ", " + std::to_string(qb) + "]";
        const int64_t count = pc[b * c.stride[0] + h * c.stride[1] + qb * c.stride[2]];
        if (count < 0 || count > max_kv) {
          return invalid("block_mask.kv_count" + where + " = " + std::to_string(count) + ": expected in [0, " +
                         std::to_string(max_kv) + "] (max_kv)");
        }
        int64_t prev = -1;
        for (int64_t e = 0; e < count; ++e) {
          const int64_t kb = px[b * x.stride[0] + h * x.stride[1] + qb * x.stride[2] + e * x.stride[3]];
          if (kb < 0 || kb >= nkb) {
            return invalid("block_mask.kv_index" + where + "[" + std::to_string(e) + "] = " + std::to_string(kb) +
                           ": expected a key block in [0, " + std::to_string(nkb) + ")");
          }
          if (kb <= prev) {
            return invalid("block_mask.kv_index" + where + "[" + std::to_string(e) + "] = " + std::to_string(kb) +
                           ": expected strictly ascending entries (previous is " + std::to_string(prev) + ")");
          }
          prev = kb;
        }
      }
  return Status::ok();
}

Status check_block_mask(const AttentionParams& p, Problem* pr) {
  const BlockMask& m = p.block_mask;
  if (m.block_q <= 0 || m.block_k <= 0) {
    return invalid("block_mask.block_q/block_k = " + std::to_string(m.block_q) + "/" + std::to_string(m.block_k) +
                   ": expected positive block sizes");
  }
  if (!m.kv_index.present()) return invalid("block_mask.kv_index: expected a tensor when kv_count is given");
  const int64_t nqb = ceil_div(pr->max_sq, m.block_q), nkb = ceil_div(pr->max_sk, m.block_k);
  const TensorView& c = m.kv_count;
  if (Status s = check_tensor_view(c, "block_mask.kv_count", pr->device); !s) return s;
  if (c.dtype != DType::kInt32) return invalid(std::string("block_mask.kv_count: expected dtype int32, got ") + dtype_name(c.dtype));
  if (c.rank != 3) return invalid("block_mask.kv_count: expected rank 3 [Bm, Hm, NQB], got " + shape_string(c));
  const int64_t bm = c.shape[0], hm = c.shape[1];
  if (bm != 1 && bm != pr->batch) {
    return invalid("block_mask.kv_count.shape[0] = " + std::to_string(bm) + ": expected 1 or B = " + std::to_string(pr->batch));
  }
  if (hm <= 0 || pr->hq % hm != 0) {
    return invalid("block_mask.kv_count.shape[1] = " + std::to_string(hm) + ": expected a divisor of Hq = " + std::to_string(pr->hq));
  }
  if (c.shape[2] != nqb) {
    return invalid("block_mask.kv_count.shape[2] = " + std::to_string(c.shape[2]) + ": expected NQB = ceil(Sq / block_q) = " +
                   std::to_string(nqb));
  }
  const TensorView& x = m.kv_index;
  if (Status s = check_tensor_view(x, "block_mask.kv_index", pr->device); !s) return s;
  if (x.dtype != DType::kInt32) return invalid(std::string("block_mask.kv_index: expected dtype int32, got ") + dtype_name(x.dtype));
  if (x.rank != 4 || x.shape[0] != bm || x.shape[1] != hm || x.shape[2] != nqb || x.shape[3] > nkb) {
    return invalid("block_mask.kv_index: expected shape [Bm, Hm, NQB, max_kv] = [" + std::to_string(bm) + ", " +
                   std::to_string(hm) + ", " + std::to_string(nqb) + ", max_kv <= NKB = " + std::to_string(nkb) + "], got " +
                   shape_string(x));
  }
  if (pr->device == DeviceKind::kHost) {
    if (Status s = check_host_block_mask(m, nkb); !s) return s;
  }
  pr->has_block_mask = true;
  pr->mask_nqb = nqb;
  pr->mask_nkb = nkb;
  return Status::ok();
}

bool is_fp8_dtype(DType d) { return d == DType::kFloat8E4M3 || d == DType::kFloat8E5M2; }

/// K and V: Q's dtype, or an FP8 cache (both the same float8 format; Q and O keep Q's
/// dtype). Fills kv_dtype and kv_fp8.
Status check_kv_dtypes(const AttentionParams& p, Problem* pr) {
  pr->kv_fp8 = is_fp8_dtype(p.k.dtype);
  pr->kv_dtype = pr->kv_fp8 ? p.k.dtype : pr->dtype;
  if (pr->kv_fp8) {
    if (p.v.dtype != p.k.dtype) {
      return invalid(std::string("v: expected dtype ") + dtype_name(p.k.dtype) + " (K's), got " + dtype_name(p.v.dtype) +
                     "; an FP8 KV cache holds K and V in the same float8 format");
    }
    return Status::ok();
  }
  if (p.k.dtype != pr->dtype) {
    return invalid(std::string("k: expected dtype ") + dtype_name(pr->dtype) + " (Q's), got " + dtype_name(p.k.dtype));
  }
  if (p.v.dtype != pr->dtype) {
    return invalid(std::string("v: expected dtype ") + dtype_name(pr->dtype) + " (Q's), got " + dtype_name(p.v.dtype) +
                   (is_fp8_dtype(p.v.dtype) ? "; an FP8 KV cache needs K in the same float8 format" : ""));
  }
  return Status::ok();
}

/// The dequantisation scales of an FP8 cache: k_scale and v_scale float32 [1] (per tensor)
/// or [Hkv] (per kv head), each shape chosen independently; host values finite and > 0.
/// Absent unless K/V are float8. kv_scale_per_head is set when either scale has more than
/// one entry (with Hkv = 1 the two shapes coincide); device kernels read each scale with
/// its own stride (0 for a [1] scale), so a mixed pair needs nothing more.
Status check_kv_scales(const AttentionParams& p, Problem* pr) {
  for (auto [t, name, what] : {std::tuple{&p.k_scale, "k_scale", "K"}, {&p.v_scale, "v_scale", "V"}}) {
    if (!pr->kv_fp8) {
      if (t->present()) return invalid(std::string(name) + ": expected absent: " + what + " is not a float8 cache");
      continue;
    }
    if (!t->present()) {
      return invalid(std::string(name) + ": required with a float8 " + what +
                     " cache (float32 [1] per tensor or [Hkv] per kv head), got an absent tensor");
    }
    if (Status s = check_tensor_view(*t, name, pr->device); !s) return s;
    if (t->dtype != DType::kFloat32) {
      return invalid(std::string(name) + ": expected dtype float32, got " + dtype_name(t->dtype));
    }
    if (t->rank != 1 || (t->shape[0] != 1 && t->shape[0] != pr->hkv)) {
      return invalid(std::string(name) + ": expected shape [1] (per tensor) or [Hkv] = [" + std::to_string(pr->hkv) +
                     "] (per kv head), got " + shape_string(*t));
    }
    if (t->device == DeviceKind::kHost) {
      const float* v = static_cast<const float*>(t->data);
      for (int64_t h = 0; h < t->shape[0]; ++h) {
        const float x = v[h * t->stride[0]];
        if (!(std::isfinite(x) && x > 0.0f)) {
          std::ostringstream m;
          m << name << "[" << h << "] = " << x << ": expected a finite value > 0";
          return invalid(m.str());
        }
      }
    }
    pr->kv_scale_per_head = pr->kv_scale_per_head || t->shape[0] > 1;
  }
  return Status::ok();
}

Status check_output_transforms(const AttentionParams& p, Problem* pr) {
  if (p.rectify.present()) {
    const Rectification& r = p.rectify;
    if (r.block_q <= 0) return invalid("rectify.block_q = " + std::to_string(r.block_q) + ": expected > 0");
    if (pr->has_block_mask && r.block_q != p.block_mask.block_q) {
      return invalid("rectify.block_q = " + std::to_string(r.block_q) + ": expected the block mask's block_q = " +
                     std::to_string(p.block_mask.block_q));
    }
    const int64_t nqb = ceil_div(pr->max_sq, r.block_q);
    if (Status s = check_exact_tensor(r.r, "rectify.r", pr->device, DType::kFloat32, {pr->batch, pr->hq, nqb}, "[B, Hq, NQB]"); !s)
      return s;
    if (!r.c.present()) return invalid("rectify.c: expected a tensor [B, Hq, NQB, Dv] when rectify.r is given");
    if (Status s = check_exact_tensor(r.c, "rectify.c", pr->device, DType::kFloat32, {pr->batch, pr->hq, nqb, pr->dv},
                               "[B, Hq, NQB, Dv]");
        !s)
      return s;
    pr->has_rectify = true;
  }
  if (p.gate.present()) {
    const TensorView& g = p.gate.g;
    if (Status s = check_tensor_view(g, "gate.g", pr->device); !s) return s;
    if (g.dtype != pr->dtype && g.dtype != DType::kFloat32) {
      return invalid(std::string("gate.g: expected dtype ") + dtype_name(pr->dtype) + " (Q's) or float32, got " +
                     dtype_name(g.dtype));
    }
    if (p.gate.activation != GateActivation::kSigmoid && p.gate.activation != GateActivation::kIdentity) {
      return invalid("gate.activation: expected kSigmoid or kIdentity");
    }
    const int base = pr->varlen ? 2 : 3;  // headwise rank
    bool ok = (g.rank == base || g.rank == base + 1);
    if (ok && pr->varlen) ok = g.shape[0] == pr->total_q && g.shape[1] == pr->hq;
    if (ok && !pr->varlen) ok = g.shape[0] == pr->batch && g.shape[1] == pr->max_sq && g.shape[2] == pr->hq;
    if (ok && g.rank == base + 1) ok = g.shape[base] == pr->dv;
    if (!ok) {
      const std::string want = pr->varlen ? "[total_q, Hq] = [" + std::to_string(pr->total_q) + ", " + std::to_string(pr->hq) +
                                                "] (headwise) or [total_q, Hq, Dv] (elementwise)"
                                          : "[B, Sq, Hq] = [" + std::to_string(pr->batch) + ", " + std::to_string(pr->max_sq) +
                                                ", " + std::to_string(pr->hq) + "] (headwise) or [B, Sq, Hq, Dv] (elementwise)";
      return invalid("gate.g: expected shape " + want + ", got " + shape_string(g));
    }
    pr->has_gate = true;
    pr->gate_elementwise = g.rank == base + 1;
  }
  return Status::ok();
}

}  // namespace

Status validate_attention(const AttentionParams& p, CallKind kind, Problem* out) {
  Problem pr;
  pr.kind = kind;
  if (!p.q.present()) return invalid("q: required, got an absent tensor");
  if (!p.k.present()) return invalid("k: required, got an absent tensor");
  if (!p.v.present()) return invalid("v: required, got an absent tensor");
  pr.device = p.q.device;
  for (auto [t, name] : {std::pair{&p.q, "q"}, {&p.k, "k"}, {&p.v, "v"}}) {
    if (Status s = check_tensor_view(*t, name, pr.device); !s) return s;
  }
  if (!is_float_dtype(p.q.dtype)) {
    return invalid(std::string("q: expected dtype float32, float16 or bfloat16, got ") + dtype_name(p.q.dtype));
  }
  pr.dtype = p.q.dtype;
  if (Status s = check_kv_dtypes(p, &pr); !s) return s;

  if (Status s = resolve_layout(p, &pr); !s) return s;
  if (Status s = check_kv_scales(p, &pr); !s) return s;
  if (pr.paged && kind != CallKind::kForward) {
    return invalid("paged_kv: statistics and planners take batched or varlen K/V, not a paged cache");
  }

  // Options (SPEC 2-4).
  if (p.scale.has_value() && !std::isfinite(*p.scale)) {
    return invalid("scale = " + std::to_string(*p.scale) + ": expected a finite value (or none for 1/sqrt(D))");
  }
  pr.scale = p.scale.has_value() ? static_cast<double>(*p.scale) : 1.0 / std::sqrt(static_cast<double>(pr.d));
  if (p.window_left < -1) return invalid("window_left = " + std::to_string(p.window_left) + ": expected -1 (off) or >= 0");
  if (p.window_right < -1) return invalid("window_right = " + std::to_string(p.window_right) + ": expected -1 (off) or >= 0");
  if (p.sink_tokens < 0) return invalid("sink_tokens = " + std::to_string(p.sink_tokens) + ": expected >= 0");
  if (p.head_scale.present()) {
    if (Status s = check_exact_tensor(p.head_scale, "head_scale", pr.device, DType::kFloat32, {pr.hq}, "[Hq]"); !s) return s;
    if (Status s = check_head_values(p.head_scale, "head_scale", /*allow_neg_inf=*/false); !s) return s;
    pr.has_head_scale = true;
  }
  // The range is checked whether or not log_gamma is given (docs/api.md: always 0 <= begin <= end).
  if (p.bias_begin < 0 || p.bias_end < p.bias_begin) {
    return invalid("bias range [" + std::to_string(p.bias_begin) + ", " + std::to_string(p.bias_end) +
                   "): expected 0 <= bias_begin <= bias_end");
  }
  if (p.log_gamma.present()) {
    if (Status s = check_exact_tensor(p.log_gamma, "log_gamma", pr.device, DType::kFloat32, {pr.hq}, "[Hq]"); !s) return s;
    if (Status s = check_head_values(p.log_gamma, "log_gamma", /*allow_neg_inf=*/true); !s) return s;
    pr.has_bias = true;
  }
  if (p.sink_logit.present()) {
    if (Status s = check_exact_tensor(p.sink_logit, "sink_logit", pr.device, DType::kFloat32, {pr.hq}, "[Hq]"); !s) return s;
    if (Status s = check_head_values(p.sink_logit, "sink_logit", /*allow_neg_inf=*/true); !s) return s;
    pr.has_sink = true;
  }
  if (p.block_mask.present()) {
    if (Status s = check_block_mask(p, &pr); !s) return s;
  } else if (p.block_mask.kv_index.present()) {
    return invalid("block_mask.kv_count: expected a tensor when kv_index is given");
  }

  // Outputs (forward only; statistics and planners ignore O, LSE and output transforms).
  if (kind == CallKind::kForward) {
    if (!p.o.present()) return invalid("o: required, got an absent tensor");
    if (Status s = check_tensor_view(p.o, "o", pr.device); !s) return s;
    if (p.o.dtype != pr.dtype) {
      return invalid(std::string("o: expected dtype ") + dtype_name(pr.dtype) + " (Q's), got " + dtype_name(p.o.dtype));
    }
    const bool o_ok = pr.varlen ? (p.o.rank == 3 && p.o.shape[0] == pr.total_q && p.o.shape[1] == pr.hq && p.o.shape[2] == pr.dv)
                                : (p.o.rank == 4 && p.o.shape[0] == pr.batch && p.o.shape[1] == pr.max_sq &&
                                   p.o.shape[2] == pr.hq && p.o.shape[3] == pr.dv);
    if (!o_ok) {
      const std::string want = pr.varlen ? "[total_q, Hq, Dv] = [" + std::to_string(pr.total_q) + ", " + std::to_string(pr.hq) +
                                               ", " + std::to_string(pr.dv) + "]"
                                         : "[B, Sq, Hq, Dv] = [" + std::to_string(pr.batch) + ", " + std::to_string(pr.max_sq) +
                                               ", " + std::to_string(pr.hq) + ", " + std::to_string(pr.dv) + "]";
      return invalid("o: expected shape " + want + ", got " + shape_string(p.o));
    }
    if (p.lse.present()) {
      Status s = pr.varlen ? check_exact_tensor(p.lse, "lse", pr.device, DType::kFloat32, {pr.hq, pr.total_q}, "[Hq, total_q]")
                           : check_exact_tensor(p.lse, "lse", pr.device, DType::kFloat32, {pr.batch, pr.hq, pr.max_sq}, "[B, Hq, Sq]");
      if (!s) return s;
      pr.has_lse = true;
    }
    if (Status s = check_output_transforms(p, &pr); !s) return s;
  }
  *out = std::move(pr);
  return Status::ok();
}

}  // namespace attnkit::detail
