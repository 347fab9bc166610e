// Validation of attention calls (SPEC 10): every rule names the argument and what was
// expected. Nothing here writes to any tensor.
#include "host/validate.hpp"

#include "host/validate_outputs.hpp"

#include <cmath>
#include <sstream>

namespace attnkit::detail {

Status invalid(const std::string& message) { return Status(StatusCode::kInvalidArgument, message); }

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

/// Reads host cu_seqlens, checks SPEC 1's rules and fills starts and lengths.
Status read_cu_seqlens(const TensorView& cu, const char* name, int64_t rows, std::vector<int64_t>* start,
                       std::vector<int64_t>* len, int64_t* max_len) {
  const int32_t* p = static_cast<const int32_t*>(cu.data);
  const int64_t n = cu.shape[0];
  *max_len = 0;
  if (p[0] != 0) return invalid(std::string(name) + "[0] = " + std::to_string(p[0]) + ": expected 0");
  for (int64_t b = 0; b + 1 < n; ++b) {
    const int64_t a = p[b * cu.stride[0]], c = p[(b + 1) * cu.stride[0]];
    if (c < a) {
      return invalid(std::string(name) + "[" + std::to_string(b + 1) + "] = " + std::to_string(c) + " < " + name + "[" +
                     std::to_string(b) + "] = " + std::to_string(a) + ": expected non-decreasing offsets");
    }
    start->push_back(a);
    len->push_back(c - a);
    *max_len = std::max(*max_len, c - a);
  }
  const int64_t last = p[(n - 1) * cu.stride[0]];
  if (last > rows) {
    return invalid(std::string(name) + "[B] = " + std::to_string(last) + ": expected <= " + std::to_string(rows) +
                   " (the rows of the tensor)");
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
  for (auto [t, name] : {std::pair{&p.k, "k"}, {&p.v, "v"}}) {
    if (t->dtype != pr.dtype) {
      return invalid(std::string(name) + ": expected dtype " + dtype_name(pr.dtype) + " (Q's), got " + dtype_name(t->dtype));
    }
  }

  // Layout: batched rank 4, or varlen rank 3 with both cu_seqlens.
  if (p.cu_seqlens_q.present() != p.cu_seqlens_k.present()) {
    return invalid(std::string(p.cu_seqlens_q.present() ? "cu_seqlens_k" : "cu_seqlens_q") +
                   ": expected both cu_seqlens_q and cu_seqlens_k, or neither");
  }
  pr.varlen = p.cu_seqlens_q.present();
  const int rank = pr.varlen ? 3 : 4;
  const char* layout = pr.varlen ? "varlen [total, H, D]" : "batched [B, S, H, D]";
  for (auto [t, name] : {std::pair{&p.q, "q"}, {&p.k, "k"}, {&p.v, "v"}}) {
    if (t->rank != rank) {
      return invalid(std::string(name) + ": expected rank " + std::to_string(rank) + " (" + layout + "), got rank " +
                     std::to_string(t->rank) + " " + shape_string(*t));
    }
  }
  const int hd = rank - 2;  // index of the head dimension
  pr.hq = p.q.shape[hd];
  pr.hkv = p.k.shape[hd];
  pr.d = p.q.shape[hd + 1];
  pr.dv = p.v.shape[hd + 1];
  if (pr.hq <= 0) return invalid("q: expected Hq > 0, got shape " + shape_string(p.q));
  if (pr.hkv <= 0) return invalid("k: expected Hkv > 0, got shape " + shape_string(p.k));
  if (pr.d <= 0) return invalid("q: expected head dim D > 0, got shape " + shape_string(p.q));
  if (pr.dv <= 0) return invalid("v: expected head dim Dv > 0, got shape " + shape_string(p.v));
  if (p.k.shape[hd + 1] != pr.d) {
    return invalid("k.shape[" + std::to_string(hd + 1) + "] = " + std::to_string(p.k.shape[hd + 1]) + ": expected D = " +
                   std::to_string(pr.d) + " (Q's head dim)");
  }
  if (pr.hq % pr.hkv != 0) {
    return invalid("k: Hq = " + std::to_string(pr.hq) + " is not a multiple of Hkv = " + std::to_string(pr.hkv) +
                   "; expected Hq % Hkv == 0");
  }
  pr.group = pr.hq / pr.hkv;
  if (p.v.shape[hd] != pr.hkv) {
    return invalid("v.shape[" + std::to_string(hd) + "] = " + std::to_string(p.v.shape[hd]) + ": expected Hkv = " +
                   std::to_string(pr.hkv) + " (K's)");
  }
  if (p.v.shape[0] != p.k.shape[0] || (!pr.varlen && p.v.shape[1] != p.k.shape[1])) {
    return invalid("v: expected the same leading dimensions as k " + shape_string(p.k) + ", got " + shape_string(p.v));
  }

  if (pr.varlen) {
    for (auto [t, name] : {std::pair{&p.cu_seqlens_q, "cu_seqlens_q"}, {&p.cu_seqlens_k, "cu_seqlens_k"}}) {
      if (Status s = check_tensor_view(*t, name, pr.device); !s) return s;
      if (t->dtype != DType::kInt32) return invalid(std::string(name) + ": expected dtype int32, got " + dtype_name(t->dtype));
      if (t->rank != 1 || t->shape[0] < 1) return invalid(std::string(name) + ": expected shape [B + 1], got " + shape_string(*t));
    }
    if (p.cu_seqlens_k.shape[0] != p.cu_seqlens_q.shape[0]) {
      return invalid("cu_seqlens_k: expected shape [B + 1] = [" + std::to_string(p.cu_seqlens_q.shape[0]) +
                     "] (as cu_seqlens_q), got " + shape_string(p.cu_seqlens_k));
    }
    pr.batch = p.cu_seqlens_q.shape[0] - 1;
    pr.total_q = p.q.shape[0];
    pr.total_k = p.k.shape[0];
    if (pr.device == DeviceKind::kHost) {
      int64_t mq = 0, mk = 0;
      if (Status s = read_cu_seqlens(p.cu_seqlens_q, "cu_seqlens_q", pr.total_q, &pr.q_start, &pr.sq, &mq); !s) return s;
      if (Status s = read_cu_seqlens(p.cu_seqlens_k, "cu_seqlens_k", pr.total_k, &pr.k_start, &pr.sk, &mk); !s) return s;
      if (p.max_seqlen_q >= 0 && p.max_seqlen_q < mq) {
        return invalid("max_seqlen_q = " + std::to_string(p.max_seqlen_q) + ": expected -1 or >= the longest query sequence " +
                       std::to_string(mq));
      }
      if (p.max_seqlen_k >= 0 && p.max_seqlen_k < mk) {
        return invalid("max_seqlen_k = " + std::to_string(p.max_seqlen_k) + ": expected -1 or >= the longest key sequence " +
                       std::to_string(mk));
      }
      pr.max_sq = mq;
      pr.max_sk = mk;
    } else {
      if (p.max_seqlen_q < 0 || p.max_seqlen_k < 0) {
        return invalid("max_seqlen_q/max_seqlen_k = " + std::to_string(p.max_seqlen_q) + "/" + std::to_string(p.max_seqlen_k) +
                       ": expected both >= 0 when cu_seqlens live in device memory");
      }
      pr.max_sq = p.max_seqlen_q;
      pr.max_sk = p.max_seqlen_k;
    }
  } else {
    pr.batch = p.q.shape[0];
    if (p.k.shape[0] != pr.batch) {
      return invalid("k.shape[0] = " + std::to_string(p.k.shape[0]) + ": expected B = " + std::to_string(pr.batch) + " (Q's)");
    }
    pr.max_sq = p.q.shape[1];
    pr.max_sk = p.k.shape[1];
    pr.total_q = pr.batch * pr.max_sq;
    pr.total_k = pr.batch * pr.max_sk;
    for (int64_t b = 0; b < pr.batch; ++b) {
      pr.q_start.push_back(b * pr.max_sq);
      pr.k_start.push_back(b * pr.max_sk);
      pr.sq.push_back(pr.max_sq);
      pr.sk.push_back(pr.max_sk);
    }
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
  if (p.log_gamma.present()) {
    if (Status s = check_exact_tensor(p.log_gamma, "log_gamma", pr.device, DType::kFloat32, {pr.hq}, "[Hq]"); !s) return s;
    if (Status s = check_head_values(p.log_gamma, "log_gamma", /*allow_neg_inf=*/true); !s) return s;
    if (p.bias_begin < 0 || p.bias_end < p.bias_begin) {
      return invalid("bias range [" + std::to_string(p.bias_begin) + ", " + std::to_string(p.bias_end) +
                     "): expected 0 <= bias_begin <= bias_end");
    }
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
