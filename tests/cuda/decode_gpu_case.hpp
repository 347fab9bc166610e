// The decode test cases shared by the GPU suite (tests/cuda/test_cuda_decode.cpp) and the
// CPU emulation of the decode kernel (tests/emulation): a GpuCase plus an optional paged
// KV cache built from its keys.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <ostream>
#include <string>
#include <vector>

#include "cuda/attention_gpu_case.hpp"

namespace attnkit_test {

/// One decode case: a GpuCase (the shape and features) and, when page_size > 0, a paged
/// cache built from its K/V with per-sequence key lengths `paged_lens` (empty: the case's
/// own lengths).
struct DecodeCase {
  GpuCase call;
  int64_t page_size = 0;
  std::vector<int32_t> paged_lens;
};

inline void PrintTo(const DecodeCase& c, std::ostream* os) { *os << c.call.name; }

inline DecodeCase named(const std::string& name, int64_t sq, int64_t sk) {
  DecodeCase c;
  c.call.name = name;
  c.call.sq = sq;
  c.call.sk = sk;
  return c;
}

/// \brief Replaces the call's K/V by a paged cache holding the same keys: pages shuffled,
/// every slot no sequence owns (spare pages, the tail of a partial last page) poisoned
/// with NaN, unused page-table entries -1. Sequence b keeps its first lens[b] keys.
inline void page_kv(BuiltCall* host, int64_t page_size, const std::vector<int32_t>& lens, uint64_t seed) {
  attnkit::AttentionParams& p = host->params;
  const bool varlen_k = p.cu_seqlens_k.present();
  const int64_t batch = static_cast<int64_t>(lens.size());
  const int kh = varlen_k ? 1 : 2;  // head dim index of K
  const int64_t hkv = p.k.shape[kh], d = p.k.shape[kh + 1];
  const DType dtype = p.k.dtype;
  std::vector<int64_t> pages(batch);
  int64_t total_pages = 0, max_pages = 1;
  for (int64_t b = 0; b < batch; ++b) {
    pages[b] = (lens[b] + page_size - 1) / page_size;
    total_pages += pages[b];
    max_pages = std::max(max_pages, pages[b]);
  }
  const int64_t num_pages = total_pages + 3;  // spare pages nobody references
  Rng rng(seed);
  std::vector<int32_t> order(num_pages);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng.engine());
  HostTensor& k = host->add(dtype, {num_pages, page_size, hkv, d});
  HostTensor& v = host->add(dtype, {num_pages, page_size, hkv, d});
  fill_nan(k);
  fill_nan(v);
  HostTensor& table = host->add(DType::kInt32, {batch, max_pages});
  HostTensor& seqlens = host->add(DType::kInt32, {batch});
  std::fill(table.ptr<int32_t>(), table.ptr<int32_t>() + batch * max_pages, -1);
  const int32_t* cu_k = varlen_k ? static_cast<const int32_t*>(p.cu_seqlens_k.data) : nullptr;
  int64_t next = 0;
  for (int64_t b = 0; b < batch; ++b) {
    seqlens.ptr<int32_t>()[b] = lens[b];
    for (int64_t pg = 0; pg < pages[b]; ++pg) {
      const int32_t page = order[next++];
      table.ptr<int32_t>()[b * max_pages + pg] = page;
      for (int64_t slot = 0; slot < page_size && pg * page_size + slot < lens[b]; ++slot) {
        const int64_t j = pg * page_size + slot;
        for (int64_t h = 0; h < hkv; ++h) {
          const int64_t src = varlen_k ? (cu_k[b] + j) * p.k.stride[0] + h * p.k.stride[1]
                                       : b * p.k.stride[0] + j * p.k.stride[1] + h * p.k.stride[2];
          const int64_t src_v = varlen_k ? (cu_k[b] + j) * p.v.stride[0] + h * p.v.stride[1]
                                         : b * p.v.stride[0] + j * p.v.stride[1] + h * p.v.stride[2];
          const int64_t dst = ((page * page_size + slot) * hkv + h) * d;
          for (int64_t x = 0; x < d; ++x) {
            k.set(dst + x, attnkit::detail::load_as_double(p.k, src + x));
            v.set(dst + x, attnkit::detail::load_as_double(p.v, src_v + x));
          }
        }
      }
    }
  }
  p.k = k.view;
  p.v = v.view;
  p.cu_seqlens_k = attnkit::TensorView{};
  p.paged_kv.page_table = table.view;
  p.paged_kv.seqlens_k = seqlens.view;
  p.max_seqlen_k = *std::max_element(lens.begin(), lens.end());
}

/// \brief Builds `c` on the host: build_call, then the paged cache when c.page_size > 0
/// (sequence lengths c.paged_lens, or the case's own).
inline void build_host_decode_call(const DecodeCase& c, int64_t d, DType dtype, uint64_t seed, BuiltCall* host) {
  build_call(c.call, d, dtype, seed, host);
  if (c.page_size > 0) {
    std::vector<int32_t> lens = c.paged_lens;
    if (lens.empty()) lens = c.call.varlen_k.empty() ? std::vector<int32_t>(c.call.batch, static_cast<int32_t>(c.call.sk))
                                                     : c.call.varlen_k;
    page_kv(host, c.page_size, lens, seed + 7);
  }
}

}  // namespace attnkit_test
