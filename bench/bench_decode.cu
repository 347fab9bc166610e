// Decode benchmarks (SPEC 9, the split-KV kernel) through the public API: bf16, d128,
// Hq 32, Hkv 8 (GQA 4:1), Sq 1, causal, contiguous and paged caches (pages 16 and 64,
// shuffled), batch 1 to 64, Sk 1k to 128k, plus feature-overhead cases. Decode is memory
// bound: the GB/s counter (K and V bytes read, plus Q and O) is reported beside the
// device's measured copy bandwidth (copy_GB/s) and their ratio (of_copy).
//   bench_decode --benchmark_out=decode.json --benchmark_out_format=json
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "bench/bench_common.h"

namespace attnkit_bench {
namespace {

using attnkit::DType;
using attnkit::TensorView;

constexpr int64_t kHq = 32, kHkv = 8, kD = 128;
constexpr int64_t kMaxCacheTokens = int64_t{1} << 21;  // batch * Sk cap: 8 GiB of bf16 K and V

struct Config {
  int64_t batch = 1, sk = 1024, page_size = 0;  // page_size 0: contiguous [B, Sk, Hkv, D]
  bool sinks = false, window = false, gate = false, all = false;
  bool fp8 = false;  // K / V as an E4M3 cache with per-kv-head scales (half the bytes)
};

TensorView device_view(void* ptr, DType dtype, std::initializer_list<int64_t> shape) {
  return TensorView::contiguous(ptr, dtype, shape, attnkit::DeviceKind::kCuda);
}

/// \brief Device-to-device copy bandwidth (bytes read + bytes written per second, GB/s) of
/// a 1 GiB buffer, measured once: the roof decode's GB/s is compared with.
double copy_bandwidth_gbs() {
  static double cached = -1.0;
  if (cached >= 0.0) return cached;
  const size_t bytes = size_t{1} << 30;
  DeviceArray src(bytes), dst(bytes);
  if (!src.ok() || !dst.ok()) return cached = 0.0;
  cudaMemcpy(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice);  // warm-up
  EventTimer timer;
  constexpr int kReps = 10;
  timer.start();
  for (int r = 0; r < kReps; ++r) cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice);
  const float ms = timer.stop();
  return cached = 2.0 * static_cast<double>(bytes) * kReps / (ms * 1e-3) * 1e-9;
}

void run_decode(benchmark::State& state, const Config& c) {
  const DType dtype = DType::kBFloat16;
  const bool paged = c.page_size > 0;
  const int64_t pages_per_seq = paged ? (c.sk + c.page_size - 1) / c.page_size : 0;
  const int64_t cache_rows = paged ? c.batch * pages_per_seq * c.page_size : c.batch * c.sk;
  const int64_t kv_elems = cache_rows * kHkv * kD;
  const int64_t q_elems = c.batch * kHq * kD;
  const int64_t kv_bytes = c.fp8 ? 1 : 2;  // bytes per K / V element
  const DType kv_dtype = c.fp8 ? DType::kFloat8E4M3 : dtype;
  DeviceArray q(q_elems * 2), k(kv_elems * kv_bytes), v(kv_elems * kv_bytes), o(q_elems * 2), lse(c.batch * kHq * 4);
  DeviceArray gate(q_elems * 2), aux(kHq * 4 * 3 + kHkv * 4);
  DeviceArray table(std::max<int64_t>(1, c.batch * pages_per_seq) * 4), seqlens(c.batch * 4);
  if (!q.ok() || !k.ok() || !v.ok() || !o.ok() || !lse.ok() || !gate.ok() || !aux.ok() || !table.ok() || !seqlens.ok()) {
    state.SkipWithError("cudaMalloc failed (out of device memory?)");
    return;
  }
  fill_uniform_16bit(q.get(), q_elems, true, 1);
  // FP8: the bf16 noise's bytes read as E4M3 values (NaN codes aside, any byte pattern is a
  // finite E4M3 value; the timing does not depend on the values).
  fill_uniform_16bit(k.get(), kv_elems * kv_bytes / 2, true, 2);
  fill_uniform_16bit(v.get(), kv_elems * kv_bytes / 2, true, 3);
  fill_uniform_16bit(gate.get(), q_elems, true, 4);
  std::vector<float> aux_host(kHq * 3 + kHkv);
  for (int64_t h = 0; h < kHq; ++h) {
    aux_host[h] = 0.5f + 0.1f * static_cast<float>(h % 5);              // sink logits
    aux_host[kHq + h] = -1.0f;                                          // log_gamma
    aux_host[2 * kHq + h] = 0.8f + 0.05f * static_cast<float>(h % 8);  // head scales
  }
  for (int64_t h = 0; h < kHkv; ++h) aux_host[3 * kHq + h] = 0.01f;  // FP8 K / V scales
  cudaMemcpy(aux.get(), aux_host.data(), aux_host.size() * 4, cudaMemcpyHostToDevice);

  attnkit::AttentionParams p;
  p.q = device_view(q.get(), dtype, {c.batch, 1, kHq, kD});
  p.o = device_view(o.get(), dtype, {c.batch, 1, kHq, kD});
  p.causal = true;
  if (paged) {
    // Shuffled pages, as a cache allocator hands them out after some churn.
    std::vector<int32_t> order(c.batch * pages_per_seq);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    std::vector<int32_t> lens(c.batch, static_cast<int32_t>(c.sk));
    cudaMemcpy(table.get(), order.data(), order.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(seqlens.get(), lens.data(), lens.size() * 4, cudaMemcpyHostToDevice);
    const int64_t num_pages = c.batch * pages_per_seq;
    p.k = device_view(k.get(), kv_dtype, {num_pages, c.page_size, kHkv, kD});
    p.v = device_view(v.get(), kv_dtype, {num_pages, c.page_size, kHkv, kD});
    p.paged_kv.page_table = device_view(table.get(), DType::kInt32, {c.batch, pages_per_seq});
    p.paged_kv.seqlens_k = device_view(seqlens.get(), DType::kInt32, {c.batch});
    p.max_seqlen_k = c.sk;
  } else {
    p.k = device_view(k.get(), kv_dtype, {c.batch, c.sk, kHkv, kD});
    p.v = device_view(v.get(), kv_dtype, {c.batch, c.sk, kHkv, kD});
  }
  float* aux_ptr = static_cast<float*>(aux.get());
  if (c.fp8) {
    p.k_scale = device_view(aux_ptr + 3 * kHq, DType::kFloat32, {kHkv});
    p.v_scale = p.k_scale;
  }
  int64_t keys_read = c.sk;
  int64_t extra_bytes = 0;
  if (c.sinks || c.all) p.sink_logit = device_view(aux_ptr, DType::kFloat32, {kHq});
  if (c.window || c.all) {
    p.window_left = 4096;  // StreamingLLM: 4 sink tokens + a 4k window
    p.sink_tokens = 4;
    keys_read = std::min<int64_t>(c.sk, p.window_left + 1 + p.sink_tokens);
  }
  if (c.gate || c.all) {
    p.gate.g = device_view(gate.get(), dtype, {c.batch, 1, kHq, kD});
    extra_bytes += q_elems * 2;
  }
  if (c.all) {
    p.log_gamma = device_view(aux_ptr + kHq, DType::kFloat32, {kHq});
    p.head_scale = device_view(aux_ptr + 2 * kHq, DType::kFloat32, {kHq});
    p.lse = device_view(lse.get(), DType::kFloat32, {c.batch, kHq, 1});
  }

  std::string err;
  const attnkit::Status first = attnkit::forward(p);  // warm-up and error check
  if (!first.is_ok()) err = first.message();
  if (err.empty() && cudaDeviceSynchronize() != cudaSuccess) err = cudaGetErrorString(cudaGetLastError());
  if (!err.empty()) {
    state.SkipWithError(err.c_str());
    return;
  }
  EventTimer timer;
  double seconds = 0.0;
  for (auto _ : state) {
    timer.start();
    const attnkit::Status s = attnkit::forward(p);
    const float ms = timer.stop();
    if (!s.is_ok()) {
      state.SkipWithError(s.message().c_str());
      return;
    }
    state.SetIterationTime(ms * 1e-3);
    seconds += ms * 1e-3;
  }
  // Bytes that must move: the visible keys' K and V (1 byte per element in an FP8 cache),
  // plus Q read and O written.
  const double bytes =
      static_cast<double>(c.batch * keys_read * kHkv * kD * kv_bytes * 2 + 2 * q_elems * 2 + extra_bytes);
  const double gbs = state.iterations() > 0 ? bytes * state.iterations() / seconds * 1e-9 : 0.0;
  const double copy = copy_bandwidth_gbs();
  state.counters["GB/s"] = gbs;
  state.counters["copy_GB/s"] = copy;
  state.counters["of_copy"] = copy > 0.0 ? gbs / copy : 0.0;
  std::string explained;
  if (attnkit::explain(p, &explained).is_ok()) state.SetLabel(explained.substr(0, explained.find(" |")));
}

void add(const std::string& name, const Config& c) {
  benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& s) { run_decode(s, c); })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond)
      ->MinTime(0.1);
}

std::string layout_name(int64_t page_size) {
  return page_size == 0 ? std::string("contiguous") : "paged" + std::to_string(page_size);
}

void register_all() {
  for (int64_t page_size : {0, 16, 64}) {
    for (int64_t batch : {1, 8, 64}) {
      for (int64_t sk : {1024, 4096, 16384, 32768, 131072}) {
        if (batch * sk > kMaxCacheTokens) continue;
        Config c;
        c.batch = batch;
        c.sk = sk;
        c.page_size = page_size;
        add("decode/" + layout_name(page_size) + "/b" + std::to_string(batch) + "/sk" + std::to_string(sk), c);
        c.fp8 = true;
        add("decode_fp8/" + layout_name(page_size) + "/b" + std::to_string(batch) + "/sk" + std::to_string(sk), c);
      }
    }
  }
  // Feature overhead at one shape (B = 8, Sk = 32k), contiguous and paged 16.
  for (int64_t page_size : {0, 16}) {
    Config base;
    base.batch = 8;
    base.sk = 32768;
    base.page_size = page_size;
    const std::string prefix = "decode_features/" + layout_name(page_size) + "/";
    add(prefix + "plain", base);
    { Config c = base; c.sinks = true; add(prefix + "learned_sinks", c); }
    { Config c = base; c.window = true; add(prefix + "window4k_sink_tokens4", c); }
    { Config c = base; c.gate = true; add(prefix + "gate_elementwise", c); }
    { Config c = base; c.all = true; add(prefix + "all", c); }
  }
}

}  // namespace
}  // namespace attnkit_bench

ATTNKIT_BENCH_MAIN(attnkit_bench::register_all)
