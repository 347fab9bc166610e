// Layout and sequence lengths of an attention call (SPEC 1): batched, varlen (cu_seqlens)
// and paged KV caches. Fills the shape part of Problem; writes no tensor.
#include <algorithm>
#include <tuple>

#include "host/validate.hpp"
#include "host/validate_outputs.hpp"

namespace attnkit::detail {

namespace {

/// Checks an int32 length vector's structure: rank 1, `want` entries (or >= 1 when want < 0).
Status check_int32_vector(const TensorView& t, const char* name, DeviceKind device, int64_t want, const char* shape_name) {
  if (Status s = check_tensor_view(t, name, device); !s) return s;
  if (t.dtype != DType::kInt32) return invalid(std::string(name) + ": expected dtype int32, got " + dtype_name(t.dtype));
  if (t.rank != 1 || (want >= 0 ? t.shape[0] != want : t.shape[0] < 1)) {
    return invalid(std::string(name) + ": expected shape " + shape_name +
                   (want >= 0 ? " = [" + std::to_string(want) + "]" : std::string()) + ", got " + shape_string(t));
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

/// Resolves a longest-sequence length: computed on the host (a given value must cover it),
/// or given by the caller when the lengths live in device memory.
Status resolve_max(int64_t given, bool host, int64_t computed, const char* name, const char* lengths, int64_t* out) {
  if (host) {
    if (given >= 0 && given < computed) {
      return invalid(std::string(name) + " = " + std::to_string(given) + ": expected -1 or >= the longest sequence " +
                     std::to_string(computed));
    }
    *out = computed;
    return Status::ok();
  }
  if (given < 0) {
    return invalid(std::string(name) + " = " + std::to_string(given) + ": expected >= 0 when " + lengths +
                   " lives in device memory");
  }
  *out = given;
  return Status::ok();
}

Status read_paged(const AttentionParams& p, Problem* pr) {
  const TensorView& pt = p.paged_kv.page_table;
  const TensorView& sl = p.paged_kv.seqlens_k;
  if (Status s = check_tensor_view(pt, "paged_kv.page_table", pr->device); !s) return s;
  if (pt.dtype != DType::kInt32) return invalid(std::string("paged_kv.page_table: expected dtype int32, got ") + dtype_name(pt.dtype));
  if (pt.rank != 2 || pt.shape[0] != pr->batch) {
    return invalid("paged_kv.page_table: expected shape [B, max_pages_per_seq] with B = " + std::to_string(pr->batch) +
                   ", got " + shape_string(pt));
  }
  if (!sl.present()) return invalid("paged_kv.seqlens_k: required with a page table, got an absent tensor");
  if (Status s = check_int32_vector(sl, "paged_kv.seqlens_k", pr->device, pr->batch, "[B]"); !s) return s;
  const int64_t num_pages = p.k.shape[0];
  pr->page_size = p.k.shape[1];
  if (pr->page_size <= 0) return invalid("k.shape[1] = " + std::to_string(pr->page_size) + ": expected page_size > 0");
  pr->total_k = num_pages * pr->page_size;
  const bool host = pr->device == DeviceKind::kHost;
  int64_t mk = 0;
  if (host) {
    const int32_t* lens = static_cast<const int32_t*>(sl.data);
    const int32_t* table = static_cast<const int32_t*>(pt.data);
    const int64_t capacity = pt.shape[1] * pr->page_size;
    for (int64_t b = 0; b < pr->batch; ++b) {
      const int64_t len = lens[b * sl.stride[0]];
      if (len < 0 || len > capacity) {
        return invalid("paged_kv.seqlens_k[" + std::to_string(b) + "] = " + std::to_string(len) +
                       ": expected in [0, max_pages_per_seq * page_size = " + std::to_string(capacity) + "]");
      }
      for (int64_t pg = 0; pg * pr->page_size < len; ++pg) {
        const int64_t page = table[b * pt.stride[0] + pg * pt.stride[1]];
        if (page < 0 || page >= num_pages) {
          return invalid("paged_kv.page_table[" + std::to_string(b) + "][" + std::to_string(pg) + "] = " +
                         std::to_string(page) + ": expected a page in [0, num_pages = " + std::to_string(num_pages) + ")");
        }
      }
      pr->k_start.push_back(0);
      pr->sk.push_back(len);
      mk = std::max(mk, len);
    }
    pr->page_table = table;
    pr->page_table_stride[0] = pt.stride[0];
    pr->page_table_stride[1] = pt.stride[1];
  }
  return resolve_max(p.max_seqlen_k, host, mk, "max_seqlen_k", "paged_kv.seqlens_k", &pr->max_sk);
}

}  // namespace

Status resolve_layout(const AttentionParams& p, Problem* pr) {
  pr->paged = p.paged_kv.present();
  if (!pr->paged && p.paged_kv.seqlens_k.present()) {
    return invalid("paged_kv.page_table: expected a tensor when paged_kv.seqlens_k is given");
  }
  if (pr->paged && p.cu_seqlens_k.present()) {
    return invalid("cu_seqlens_k: expected absent with a paged KV cache (paged_kv.seqlens_k gives the key lengths)");
  }
  if (!pr->paged && p.cu_seqlens_q.present() != p.cu_seqlens_k.present()) {
    return invalid(std::string(p.cu_seqlens_q.present() ? "cu_seqlens_k" : "cu_seqlens_q") +
                   ": expected both cu_seqlens_q and cu_seqlens_k, or neither");
  }
  pr->varlen = p.cu_seqlens_q.present();
  const int q_rank = pr->varlen ? 3 : 4;
  const int kv_rank = pr->varlen && !pr->paged ? 3 : 4;
  const char* q_layout = pr->varlen ? "varlen [total_q, Hq, D]" : "batched [B, Sq, Hq, D]";
  const char* kv_layout = pr->paged ? "paged [num_pages, page_size, Hkv, D]"
                                    : pr->varlen ? "varlen [total_k, Hkv, D]" : "batched [B, Sk, Hkv, D]";
  for (auto [t, name, rank, layout] : {std::tuple<const TensorView*, const char*, int, const char*>{&p.q, "q", q_rank, q_layout}, {&p.k, "k", kv_rank, kv_layout},
                                       {&p.v, "v", kv_rank, kv_layout}}) {
    if (t->rank != rank) {
      return invalid(std::string(name) + ": expected rank " + std::to_string(rank) + " (" + layout + "), got rank " +
                     std::to_string(t->rank) + " " + shape_string(*t));
    }
  }
  const int qh = q_rank - 2, kh = kv_rank - 2;  // index of the head dimension
  pr->hq = p.q.shape[qh];
  pr->hkv = p.k.shape[kh];
  pr->d = p.q.shape[qh + 1];
  pr->dv = p.v.shape[kh + 1];
  if (pr->hq <= 0) return invalid("q: expected Hq > 0, got shape " + shape_string(p.q));
  if (pr->hkv <= 0) return invalid("k: expected Hkv > 0, got shape " + shape_string(p.k));
  if (pr->d <= 0) return invalid("q: expected head dim D > 0, got shape " + shape_string(p.q));
  if (pr->dv <= 0) return invalid("v: expected head dim Dv > 0, got shape " + shape_string(p.v));
  if (p.k.shape[kh + 1] != pr->d) {
    return invalid("k.shape[" + std::to_string(kh + 1) + "] = " + std::to_string(p.k.shape[kh + 1]) + ": expected D = " +
                   std::to_string(pr->d) + " (Q's head dim)");
  }
  if (pr->hq % pr->hkv != 0) {
    return invalid("k: Hq = " + std::to_string(pr->hq) + " is not a multiple of Hkv = " + std::to_string(pr->hkv) +
                   "; expected Hq % Hkv == 0");
  }
  pr->group = pr->hq / pr->hkv;
  if (p.v.shape[kh] != pr->hkv) {
    return invalid("v.shape[" + std::to_string(kh) + "] = " + std::to_string(p.v.shape[kh]) + ": expected Hkv = " +
                   std::to_string(pr->hkv) + " (K's)");
  }
  if (p.v.shape[0] != p.k.shape[0] || (kv_rank == 4 && p.v.shape[1] != p.k.shape[1])) {
    return invalid("v: expected the same leading dimensions as k " + shape_string(p.k) + ", got " + shape_string(p.v));
  }
  const bool host = pr->device == DeviceKind::kHost;

  // Query side.
  if (pr->varlen) {
    if (Status s = check_int32_vector(p.cu_seqlens_q, "cu_seqlens_q", pr->device, -1, "[B + 1]"); !s) return s;
    pr->batch = p.cu_seqlens_q.shape[0] - 1;
    pr->total_q = p.q.shape[0];
    int64_t mq = 0;
    if (host) {
      if (Status s = read_cu_seqlens(p.cu_seqlens_q, "cu_seqlens_q", pr->total_q, &pr->q_start, &pr->sq, &mq); !s) return s;
    }
    if (Status s = resolve_max(p.max_seqlen_q, host, mq, "max_seqlen_q", "cu_seqlens_q", &pr->max_sq); !s) return s;
  } else {
    pr->batch = p.q.shape[0];
    // Cross-check K before sizing per-sequence vectors by a batch nobody has confirmed.
    if (!pr->paged && !pr->varlen && p.k.shape[0] != pr->batch) {
      return invalid("k.shape[0] = " + std::to_string(p.k.shape[0]) + ": expected B = " + std::to_string(pr->batch) +
                     " (Q's)");
    }
    pr->max_sq = p.q.shape[1];
    pr->total_q = pr->batch * pr->max_sq;
    for (int64_t b = 0; b < pr->batch; ++b) {
      pr->q_start.push_back(b * pr->max_sq);
      pr->sq.push_back(pr->max_sq);
    }
  }

  // Key side.
  if (pr->paged) return read_paged(p, pr);
  if (pr->varlen) {
    const std::string want = "[B + 1] = [" + std::to_string(pr->batch + 1) + "] (as cu_seqlens_q)";
    if (Status s = check_int32_vector(p.cu_seqlens_k, "cu_seqlens_k", pr->device, pr->batch + 1, want.c_str()); !s) return s;
    pr->total_k = p.k.shape[0];
    int64_t mk = 0;
    if (host) {
      if (Status s = read_cu_seqlens(p.cu_seqlens_k, "cu_seqlens_k", pr->total_k, &pr->k_start, &pr->sk, &mk); !s) return s;
    }
    return resolve_max(p.max_seqlen_k, host, mk, "max_seqlen_k", "cu_seqlens_k", &pr->max_sk);
  }
  pr->max_sk = p.k.shape[1];
  pr->total_k = pr->batch * pr->max_sk;
  for (int64_t b = 0; b < pr->batch; ++b) {
    pr->k_start.push_back(b * pr->max_sk);
    pr->sk.push_back(pr->max_sk);
  }
  return Status::ok();
}

}  // namespace attnkit::detail
