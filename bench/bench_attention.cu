// Forward attention benchmarks through the public API: dense (FA3 paper shapes), feature
// overhead, block-sparse (bench_peers.py's mask) and the unfused cuBLAS baseline.
//   bench_attention --benchmark_out=attention.json --benchmark_out_format=json
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "bench/bench_common.h"
#include "cuda/reference_unfused/unfused_attention.hpp"

namespace attnkit_bench {
namespace {

using attnkit::DType;
using attnkit::TensorView;

/// What one benchmark runs. The FA3-paper shapes: batch = 16384 / seqlen, Hq = 2048 / D.
struct Config {
  int64_t batch = 1, seqlen = 1024, hq = 16, hkv = 16, d = 128;
  bool causal = false;
  bool sinks = false, bias = false, head_scale = false, gate = false;
  double density = 0.0;  // > 0: 128x128 block-sparse with bench_peers.py's mask
  bool unfused = false;
  bool mma_sync = false;  // force the mma.sync family (ATTNKIT_PREFILL_FAMILY=mma_sync) on sm_90
};

TensorView device_view(void* ptr, DType dtype, std::initializer_list<int64_t> shape) {
  return TensorView::contiguous(ptr, dtype, shape, attnkit::DeviceKind::kCuda);
}

/// Allocates and fills the inputs of `c`, then times forward (or the unfused baseline).
void run_attention(benchmark::State& state, const Config& c) {
  const DType dtype = DType::kBFloat16;
  const int64_t q_elems = c.batch * c.seqlen * c.hq * c.d;
  const int64_t kv_elems = c.batch * c.seqlen * c.hkv * c.d;
  DeviceArray q(q_elems * 2), k(kv_elems * 2), v(kv_elems * 2), o(q_elems * 2);
  DeviceArray lse(c.batch * c.hq * c.seqlen * 4), gate(c.gate ? q_elems * 2 : 0);
  DeviceArray aux(c.hq * 4 * 3);
  if (!q.ok() || !k.ok() || !v.ok() || !o.ok() || !lse.ok() || !gate.ok() || !aux.ok()) {
    state.SkipWithError("cudaMalloc failed (out of device memory?)");
    return;
  }
  fill_uniform_16bit(q.get(), q_elems, true, 1);
  fill_uniform_16bit(k.get(), kv_elems, true, 2);
  fill_uniform_16bit(v.get(), kv_elems, true, 3);
  if (c.gate) fill_uniform_16bit(gate.get(), q_elems, true, 4);
  std::vector<float> aux_host(c.hq * 3);
  for (int64_t h = 0; h < c.hq; ++h) {
    aux_host[h] = 0.5f + 0.1f * static_cast<float>(h % 5);   // sink logits
    aux_host[c.hq + h] = -1.0f;                               // log_gamma
    aux_host[2 * c.hq + h] = 0.8f + 0.05f * static_cast<float>(h % 8);  // head scales
  }
  cudaMemcpy(aux.get(), aux_host.data(), aux_host.size() * 4, cudaMemcpyHostToDevice);

  attnkit::AttentionParams p;
  p.q = device_view(q.get(), dtype, {c.batch, c.seqlen, c.hq, c.d});
  p.k = device_view(k.get(), dtype, {c.batch, c.seqlen, c.hkv, c.d});
  p.v = device_view(v.get(), dtype, {c.batch, c.seqlen, c.hkv, c.d});
  p.o = device_view(o.get(), dtype, {c.batch, c.seqlen, c.hq, c.d});
  p.lse = device_view(lse.get(), DType::kFloat32, {c.batch, c.hq, c.seqlen});
  p.causal = c.causal;
  float* aux_ptr = static_cast<float*>(aux.get());
  if (c.sinks) p.sink_logit = device_view(aux_ptr, DType::kFloat32, {c.hq});
  if (c.bias) p.log_gamma = device_view(aux_ptr + c.hq, DType::kFloat32, {c.hq});
  if (c.head_scale) p.head_scale = device_view(aux_ptr + 2 * c.hq, DType::kFloat32, {c.hq});
  if (c.gate) p.gate.g = device_view(gate.get(), dtype, {c.batch, c.seqlen, c.hq, c.d});

  int64_t pairs = visible_pairs(c.seqlen, c.seqlen, c.causal);
  DeviceArray mask_count, mask_index;
  if (c.density > 0.0) {
    const int64_t nb = (c.seqlen + 127) / 128;
    std::vector<int32_t> count(c.hq * nb), index(c.hq * nb * nb, -1);
    int64_t kept = 0;
    for (int64_t h = 0; h < c.hq; ++h) {
      for (int64_t i = 0; i < nb; ++i) {
        int32_t n = 0;
        for (int64_t j = 0; j < nb; ++j) {
          if (block_kept(h, i, j, nb, c.density, /*seed=*/0)) index[(h * nb + i) * nb + n++] = static_cast<int32_t>(j);
        }
        count[h * nb + i] = n;
        kept += n;
      }
    }
    mask_count = DeviceArray(count.size() * 4);
    mask_index = DeviceArray(index.size() * 4);
    cudaMemcpy(mask_count.get(), count.data(), count.size() * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(mask_index.get(), index.data(), index.size() * 4, cudaMemcpyHostToDevice);
    p.block_mask.kv_count = TensorView::contiguous(mask_count.get(), DType::kInt32, {1, c.hq, nb}, attnkit::DeviceKind::kCuda);
    p.block_mask.kv_index = TensorView::contiguous(mask_index.get(), DType::kInt32, {1, c.hq, nb, nb}, attnkit::DeviceKind::kCuda);
    pairs = kept * 128 * 128 / c.hq;  // kept blocks only (bench_peers.py's count), per head
  }

  attnkit_unfused::Workspace workspace;
  DeviceArray o32(c.unfused ? q_elems * 4 : 0);
  attnkit_unfused::Args unfused;
  unfused.q = q.get();
  unfused.k = k.get();
  unfused.v = v.get();
  unfused.batch = c.batch;
  unfused.sq = unfused.sk = c.seqlen;
  unfused.hq = c.hq;
  unfused.hkv = c.hkv;
  unfused.d = c.d;
  unfused.causal = c.causal;
  unfused.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.d)));
  unfused.o = static_cast<float*>(o32.get());
  unfused.precision = attnkit_unfused::Precision::kTensorCore16;

  // The family is chosen per call: on sm_90 the Hopper family unless told otherwise.
  if (c.mma_sync) {
    setenv("ATTNKIT_PREFILL_FAMILY", "mma_sync", 1);
  } else {
    unsetenv("ATTNKIT_PREFILL_FAMILY");
  }
  auto call = [&]() -> std::string {
    if (c.unfused) return attnkit_unfused::run(unfused, &workspace);
    const attnkit::Status s = attnkit::forward(p);
    return s.is_ok() ? "" : s.message();
  };
  std::string err = call();  // warm-up (and the error check)
  if (err.empty() && cudaDeviceSynchronize() != cudaSuccess) err = cudaGetErrorString(cudaGetLastError());
  if (!err.empty()) {
    state.SkipWithError(err.c_str());
    return;
  }
  EventTimer timer;
  for (auto _ : state) {
    timer.start();
    err = call();
    const float ms = timer.stop();
    if (!err.empty()) {
      state.SkipWithError(err.c_str());
      return;
    }
    state.SetIterationTime(ms * 1e-3);
  }
  set_tflops(state, attention_flops(c.batch, c.hq, c.d, pairs));
  std::string explained;
  if (!c.unfused && attnkit::explain(p, &explained).is_ok()) state.SetLabel(explained.substr(0, explained.find(" |")));
}

void add(const std::string& name, const Config& c) {
  benchmark::RegisterBenchmark(name.c_str(), [c](benchmark::State& s) { run_attention(s, c); })
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond)
      ->MinTime(0.2);
}

void register_all() {
  // Dense, the FA3 paper's shapes, on the family select_kernel picks (Hopper on sm_90) and, as
  // dense_mma_sync/, on the sm_80 family forced (the same device, for the ratio between them).
  for (bool mma_sync : {false, true}) {
    for (int64_t d : {64, 128, 256}) {
      for (int64_t s : {512, 1024, 2048, 4096, 8192, 16384}) {
        for (bool causal : {false, true}) {
          Config c;
          c.batch = 16384 / s;
          c.seqlen = s;
          c.hq = c.hkv = 2048 / d;
          c.d = d;
          c.causal = causal;
          c.mma_sync = mma_sync;
          add(std::string(mma_sync ? "dense_mma_sync" : "dense") + "/d" + std::to_string(d) + "/s" + std::to_string(s) +
                  (causal ? "/causal" : "/full"),
              c);
        }
      }
    }
  }
  // GQA 64 / 8, d128, causal (cuDNN's published H200 points), 2k-16k.
  for (int64_t s : {2048, 4096, 8192, 16384}) {
    Config c;
    c.batch = 16384 / s;
    c.seqlen = s;
    c.hq = 64;
    c.hkv = 8;
    c.causal = true;
    add("gqa64_8/d128/s" + std::to_string(s) + "/causal", c);
  }
  // Feature overhead at one shape (B=4, S=4096, Hq=16, d128, causal).
  Config base;
  base.batch = 4;
  base.seqlen = 4096;
  base.causal = true;
  add("features/plain", base);
  { Config c = base; c.sinks = true; add("features/learned_sinks", c); }
  { Config c = base; c.bias = true; add("features/key_bias", c); }
  { Config c = base; c.head_scale = true; add("features/head_scale", c); }
  { Config c = base; c.gate = true; add("features/gate_elementwise", c); }
  { Config c = base; c.sinks = c.bias = c.head_scale = c.gate = true; add("features/all", c); }
  // Block-sparse, bench_peers.py's sparse cases: B=1, Hq=16, d128, 128x128 blocks.
  for (int64_t s : {8192, 16384}) {
    for (double density : {0.1, 0.25, 0.5, 1.0}) {
      Config c;
      c.batch = 1;
      c.seqlen = s;
      c.density = density;
      add("block_sparse/s" + std::to_string(s) + "/density" + std::to_string(static_cast<int>(density * 100)), c);
    }
  }
  // Unfused cuBLAS baseline (16-bit GEMMs on tensor cores, fp32 S), dense d128.
  for (int64_t s : {1024, 4096, 8192}) {
    for (bool causal : {false, true}) {
      Config c;
      c.batch = 16384 / s;
      c.seqlen = s;
      c.causal = causal;
      c.unfused = true;
      add("unfused_cublas/d128/s" + std::to_string(s) + (causal ? "/causal" : "/full"), c);
    }
  }
}

}  // namespace
}  // namespace attnkit_bench

ATTNKIT_BENCH_MAIN(attnkit_bench::register_all)
