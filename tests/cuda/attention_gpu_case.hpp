// Builds one attention call (every SPEC 1-6 option) on the host, mirrors it onto the
// device, and compares the CUDA kernel against the CPU reference through the public API.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "common/test_tensors.hpp"
#include "cuda/cuda_test_util.hpp"
#include "host/numeric.hpp"

namespace attnkit_test {

enum class GateKind : int { kNone = 0, kHeadwise = 1, kElementwise = 2 };

/// One feature combination. Defaults: dense, batched BSHD, LSE on.
struct GpuCase {
  std::string name;
  int64_t batch = 2, sq = 200, sk = 200, hq = 4, hkv = 4;
  std::vector<int32_t> varlen_q, varlen_k;  // non-empty: varlen with these lengths
  bool bhsd = false;                        // Q/K/V/O stored [B, H, S, D]
  bool causal = false;
  int64_t window_left = -1, window_right = -1, sink_tokens = 0;
  std::vector<double> head_scale, log_gamma, sink_logit;  // cycled over heads
  int64_t bias_begin = 0, bias_end = 1;
  int mask_block_q = 0, mask_block_k = 0;  // 0: no block mask
  double mask_density = 1.0;
  bool mask_batch_broadcast = false;  // Bm = 1
  int64_t mask_heads = 0;             // Hm (0: Hq)
  bool mask_empty_rows = false;       // every third mask row lists nothing
  int rectify_block_q = 0;            // 0: no rectification
  GateKind gate = GateKind::kNone;
  bool gate_float32 = true;
  bool gate_sigmoid = true;
  bool gate_packed = false;  // elementwise gate read in place beside Q ([..., 2D] buffer)
  bool lse = true;
  DType kv_fp8 = DType::kFloat32;  // kFloat8E4M3 / kFloat8E5M2: K and V as an FP8 cache (quantize_kv)
  bool kv_scale_per_head = false;  // its scales [Hkv] (else [1])
};

/// gtest prints parameters in test listings: show the case name, not its bytes.
inline void PrintTo(const GpuCase& c, std::ostream* os) { *os << c.name; }

/// Host storage of one call and the params over it.
struct BuiltCall {
  std::vector<std::unique_ptr<HostTensor>> store;
  attnkit::AttentionParams params;
  HostTensor* o = nullptr;
  HostTensor* lse = nullptr;

  HostTensor& add(DType dtype, std::initializer_list<int64_t> shape) {
    store.push_back(std::make_unique<HostTensor>(dtype, shape));
    return *store.back();
  }
};

inline std::vector<attnkit::TensorView*> all_views(attnkit::AttentionParams& p) {
  return {&p.q,          &p.k,           &p.v,
          &p.o,          &p.lse,         &p.cu_seqlens_q,
          &p.cu_seqlens_k, &p.head_scale, &p.log_gamma,
          &p.sink_logit, &p.block_mask.kv_count, &p.block_mask.kv_index,
          &p.rectify.r,  &p.rectify.c,   &p.gate.g};
}

inline HostTensor per_head(int64_t hq, const std::vector<double>& values) {
  HostTensor t(DType::kFloat32, {hq});
  for (int64_t h = 0; h < hq; ++h) t.set(h, values[h % values.size()]);
  return t;
}

/// \brief Replaces K and V by an FP8 cache (`format`) holding them quantised: element x of
/// kv head h becomes fp8(x / scale[h]) with scale[h] = max |x| of that head / the format's
/// largest finite value (or one scale over all heads), stored in the same storage layout
/// (NaN poison stays NaN). The call then runs on exactly the dequantised values, which the
/// CPU reference reads too.
inline void quantize_kv(BuiltCall* host, DType format, bool per_head) {
  attnkit::AttentionParams& p = host->params;
  const attnkit::detail::Fp8Format& f =
      format == DType::kFloat8E5M2 ? attnkit::detail::kFp8E5M2 : attnkit::detail::kFp8E4M3;
  const int head_axis = p.k.rank - 2;
  const int64_t hkv = p.k.shape[head_axis];
  HostTensor& k_scale = host->add(DType::kFloat32, {per_head ? hkv : 1});
  HostTensor& v_scale = host->add(DType::kFloat32, {per_head ? hkv : 1});
  const std::pair<attnkit::TensorView*, HostTensor*> kv[2] = {{&p.k, &k_scale}, {&p.v, &v_scale}};
  for (const auto& [view, scale] : kv) {
    // The storage behind the view, and every element's kv head (its offset within a row).
    HostTensor* storage = nullptr;
    for (const auto& s : host->store) {
      const auto* at = static_cast<const unsigned char*>(view->data);
      if (at >= s->bytes.data() && at < s->bytes.data() + s->bytes.size()) storage = s.get();
    }
    const int64_t offset = (static_cast<const unsigned char*>(view->data) - storage->bytes.data()) /
                           attnkit::dtype_size(view->dtype);
    const int64_t head_stride = view->stride[head_axis], n = storage->numel();
    auto head_of = [&](int64_t i) { return per_head ? ((i - offset) / head_stride) % hkv : 0; };
    std::vector<double> amax(static_cast<size_t>(hkv), 0.0);
    for (int64_t i = offset; i < n; ++i) {
      const double x = storage->get(i);
      if (std::isfinite(x)) amax[head_of(i)] = std::max(amax[head_of(i)], std::fabs(x));
    }
    for (int64_t h = 0; h < scale->numel(); ++h) scale->set(h, amax[h] > 0.0 ? amax[h] / f.max_finite : 1.0);
    HostTensor& q8 = host->add(format, {n});
    for (int64_t i = 0; i < n; ++i) {
      const double sc = i >= offset ? scale->get(head_of(i)) : 1.0;
      q8.ptr<uint8_t>()[i] = attnkit::detail::double_to_fp8_bits(storage->get(i) / sc, f);
    }
    view->dtype = format;
    view->data = q8.bytes.data() + offset;
  }
  p.k_scale = k_scale.view;
  p.v_scale = v_scale.view;
}

/// \brief Builds the host call for `c` with head dim d and dtype.
inline void build_call(const GpuCase& c, int64_t d, DType dtype, uint64_t seed, BuiltCall* out) {
  Rng rng(seed);
  attnkit::AttentionParams& p = out->params;
  const bool varlen = !c.varlen_q.empty();
  const int64_t batch = varlen ? static_cast<int64_t>(c.varlen_q.size()) : c.batch;
  int64_t max_sq = c.sq, max_sk = c.sk, total_q = 0, total_k = 0;
  if (varlen) {
    max_sq = *std::max_element(c.varlen_q.begin(), c.varlen_q.end());
    max_sk = *std::max_element(c.varlen_k.begin(), c.varlen_k.end());
    std::vector<int32_t> cu_q{0}, cu_k{0};
    for (size_t b = 0; b < c.varlen_q.size(); ++b) {
      cu_q.push_back(cu_q.back() + c.varlen_q[b]);
      cu_k.push_back(cu_k.back() + c.varlen_k[b]);
    }
    total_q = cu_q.back();
    total_k = cu_k.back();
    HostTensor& cq = out->add(DType::kInt32, {batch + 1});
    HostTensor& ck = out->add(DType::kInt32, {batch + 1});
    for (int64_t b = 0; b <= batch; ++b) {
      cq.ptr<int32_t>()[b] = cu_q[b];
      ck.ptr<int32_t>()[b] = cu_k[b];
    }
    p.cu_seqlens_q = cq.view;
    p.cu_seqlens_k = ck.view;
    p.max_seqlen_q = max_sq;
    p.max_seqlen_k = max_sk;
  }

  // Q, K, V, O. BHSD: storage [B, H, S, D] seen as [B, S, H, D].
  auto seq_tensor = [&](int64_t s, int64_t total, int64_t h, bool poison) -> attnkit::TensorView {
    if (varlen) {
      HostTensor& t = out->add(dtype, {total, h, d});
      poison ? fill_nan(t) : fill_normal(t, rng);
      return t.view;
    }
    if (c.bhsd) {
      HostTensor& t = out->add(dtype, {batch, h, s, d});
      poison ? fill_nan(t) : fill_normal(t, rng);
      return strided_view(t, 0, {batch, s, h, d}, {h * s * d, d, s * d, 1}, dtype);
    }
    HostTensor& t = out->add(dtype, {batch, s, h, d});
    poison ? fill_nan(t) : fill_normal(t, rng);
    return t.view;
  };
  if (c.gate_packed) {  // Qwen3-Next style: [q | gate] per head in one projection output
    HostTensor& qg = out->add(dtype, {batch, max_sq, c.hq, 2 * d});
    fill_normal(qg, rng);
    const std::initializer_list<int64_t> strides = {max_sq * c.hq * 2 * d, c.hq * 2 * d, 2 * d, 1};
    p.q = strided_view(qg, 0, {batch, max_sq, c.hq, d}, strides, dtype);
    p.gate.g = strided_view(qg, d, {batch, max_sq, c.hq, d}, strides, dtype);
  } else {
    p.q = seq_tensor(max_sq, total_q, c.hq, false);
  }
  p.k = seq_tensor(max_sk, total_k, c.hkv, false);
  p.v = seq_tensor(max_sk, total_k, c.hkv, false);
  p.o = seq_tensor(max_sq, total_q, c.hq, true);
  out->o = out->store.back().get();
  if (c.lse) {
    HostTensor& l = varlen ? out->add(DType::kFloat32, {c.hq, total_q}) : out->add(DType::kFloat32, {batch, c.hq, max_sq});
    fill_nan(l);
    p.lse = l.view;
    out->lse = &l;
  }

  p.causal = c.causal;
  p.window_left = c.window_left;
  p.window_right = c.window_right;
  p.sink_tokens = c.sink_tokens;
  if (!c.head_scale.empty()) {
    out->store.emplace_back(std::make_unique<HostTensor>(per_head(c.hq, c.head_scale)));
    p.head_scale = out->store.back()->view;
  }
  if (!c.log_gamma.empty()) {
    out->store.emplace_back(std::make_unique<HostTensor>(per_head(c.hq, c.log_gamma)));
    p.log_gamma = out->store.back()->view;
    p.bias_begin = c.bias_begin;
    p.bias_end = c.bias_end;
  }
  if (!c.sink_logit.empty()) {
    out->store.emplace_back(std::make_unique<HostTensor>(per_head(c.hq, c.sink_logit)));
    p.sink_logit = out->store.back()->view;
  }

  if (c.mask_block_q > 0) {
    const int64_t bm = c.mask_batch_broadcast ? 1 : batch;
    const int64_t hm = c.mask_heads > 0 ? c.mask_heads : c.hq;
    const int64_t nqb = (max_sq + c.mask_block_q - 1) / c.mask_block_q;
    const int64_t nkb = (max_sk + c.mask_block_k - 1) / c.mask_block_k;
    HostTensor& count = out->add(DType::kInt32, {bm, hm, nqb});
    HostTensor& index = out->add(DType::kInt32, {bm, hm, nqb, nkb});
    for (int64_t row = 0; row < bm * hm * nqb; ++row) {
      int32_t n = 0;
      const bool empty = c.mask_empty_rows && row % 3 == 1;
      for (int64_t kb = 0; kb < nkb; ++kb) {
        if (!empty && rng.uniform(0.0, 1.0) < c.mask_density) index.ptr<int32_t>()[row * nkb + n++] = static_cast<int32_t>(kb);
      }
      for (int64_t e = n; e < nkb; ++e) index.ptr<int32_t>()[row * nkb + e] = -1;
      count.ptr<int32_t>()[row] = n;
    }
    p.block_mask.kv_count = count.view;
    p.block_mask.kv_index = index.view;
    p.block_mask.block_q = c.mask_block_q;
    p.block_mask.block_k = c.mask_block_k;
  }
  if (c.rectify_block_q > 0) {
    const int64_t nqb = (max_sq + c.rectify_block_q - 1) / c.rectify_block_q;
    HostTensor& r = out->add(DType::kFloat32, {batch, c.hq, nqb});
    HostTensor& cc = out->add(DType::kFloat32, {batch, c.hq, nqb, d});
    fill_uniform(r, rng, 0.5, 1.5);
    fill_normal(cc, rng, 0.1);
    p.rectify.r = r.view;
    p.rectify.c = cc.view;
    p.rectify.block_q = c.rectify_block_q;
  }
  if (c.gate != GateKind::kNone && !c.gate_packed) {
    const DType gdt = c.gate_float32 ? DType::kFloat32 : dtype;
    HostTensor* g = nullptr;
    if (c.gate == GateKind::kHeadwise) {
      g = varlen ? &out->add(gdt, {total_q, c.hq}) : &out->add(gdt, {batch, max_sq, c.hq});
    } else {
      g = varlen ? &out->add(gdt, {total_q, c.hq, d}) : &out->add(gdt, {batch, max_sq, c.hq, d});
    }
    fill_normal(*g, rng);
    p.gate.g = g->view;
  }
  if (c.gate != GateKind::kNone) {
    p.gate.activation = c.gate_sigmoid ? attnkit::GateActivation::kSigmoid : attnkit::GateActivation::kIdentity;
  }
  if (c.kv_fp8 != DType::kFloat32) quantize_kv(out, c.kv_fp8, c.kv_scale_per_head);
}

/// Device copies of every storage a call uses (a storage shared by two views, as a packed
/// [q | gate] buffer, is copied once so the gate is read in place on the device too).
struct DeviceCall {
  std::vector<DeviceTensor> copies;
  std::map<const HostTensor*, size_t> index;
  attnkit::AttentionParams params;
};

inline void mirror_to_device(BuiltCall& host, DeviceCall* dev) {
  dev->params = host.params;
  for (attnkit::TensorView* v : all_views(dev->params)) {
    if (!v->present()) continue;
    const auto* ptr = static_cast<const unsigned char*>(v->data);
    for (const auto& s : host.store) {
      if (ptr < s->bytes.data() || ptr >= s->bytes.data() + s->bytes.size()) continue;
      if (!dev->index.count(s.get())) {
        dev->index[s.get()] = dev->copies.size();
        dev->copies.push_back(to_device(*s));
      }
      const DeviceTensor& d = dev->copies[dev->index[s.get()]];
      v->data = static_cast<unsigned char*>(d.buffer.get()) + (ptr - s->bytes.data());
      v->device = attnkit::DeviceKind::kCuda;
      break;
    }
  }
}

/// \brief A deep copy whose view points at its own bytes (HostTensor's copy keeps the
/// source's data pointer).
inline HostTensor clone(const HostTensor& t) {
  HostTensor c = t;
  c.view.data = c.bytes.data();
  return c;
}

/// \brief Copies the device O (and LSE) of `dev` back and compares them with the CPU
/// reference's in `host` (already computed): tolerance_for(dtype) on O, kLseTolerance on LSE.
inline void expect_device_outputs_match(BuiltCall& host, DeviceCall& dev, DType dtype, const std::string& description) {
  HostTensor o_gpu = clone(*host.o);
  to_host(dev.copies[dev.index[host.o]], &o_gpu);
  const ErrorStats e = compare(o_gpu, *host.o);
  const Tolerance tol = tolerance_for(dtype);
  EXPECT_EQ(e.mismatched_nonfinite, 0) << "O: " << e.str() << " | " << description;
  EXPECT_LE(e.rel_l2, tol.rel_l2) << "O: " << e.str() << " | " << description;
  EXPECT_LE(e.max_abs, tol.max_abs) << "O: " << e.str() << " | " << description;
  if (host.lse != nullptr) {
    HostTensor lse_gpu = clone(*host.lse);
    to_host(dev.copies[dev.index[host.lse]], &lse_gpu);
    const ErrorStats el = compare(lse_gpu, *host.lse);
    EXPECT_EQ(el.mismatched_nonfinite, 0) << "LSE: " << el.str() << " | " << description;
    EXPECT_LE(lse_error(lse_gpu, *host.lse), kLseTolerance) << "LSE: " << el.str() << " | " << description;
  }
}

/// \brief Runs `c` on the CPU reference and the CUDA kernel and compares O and LSE.
inline void expect_matches_reference(const GpuCase& c, int64_t d, DType dtype, uint64_t seed) {
  BuiltCall host;
  build_call(c, d, dtype, seed, &host);
  DeviceCall dev;
  mirror_to_device(host, &dev);  // before the CPU call: device outputs start as NaN too
  const attnkit::Status ref = attnkit::forward(host.params);
  ASSERT_TRUE(ref.is_ok()) << "CPU reference: " << ref.message();
  std::string description;
  const attnkit::Status ex = attnkit::explain(dev.params, &description);
  ASSERT_TRUE(ex.is_ok()) << ex.message();
  const attnkit::Status got = attnkit::forward(dev.params);
  ASSERT_TRUE(got.is_ok()) << "CUDA: " << got.message();
  ATTNKIT_CUDA_OK(cudaDeviceSynchronize());

  expect_device_outputs_match(host, dev, dtype, description);
}

}  // namespace attnkit_test
