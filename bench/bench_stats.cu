// Benchmarks of the statistics-based GPU paths (SPEC 7-8): the statistics pass against one
// dense forward (target <= 0.6x), SparseD's mask build and its sparse steps (rho = 0.3,
// 16k / 64k), and Rectified SpaAttn at video-DiT shapes (planning share and speedup over
// dense). Counters: rel_to_dense (time / dense forward), speedup (dense / time),
// planning_share. Without a device: prints "no CUDA device" and exits 0.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "attnkit/attention.hpp"
#include "bench/bench_common.h"

namespace attnkit_bench {
namespace {

using attnkit::DType;
using attnkit::TensorView;

struct Shape {
  std::string name;
  int64_t batch = 1, seq = 16384, hq = 8, hkv = 8, d = 128;
  int64_t text = 0;  // Rectified: trailing text tokens
};

/// Device Q, K, V, O of one batched bf16 call.
struct Call {
  std::vector<std::unique_ptr<DeviceArray>> store;
  attnkit::AttentionParams params;

  void* alloc(size_t bytes) {
    store.push_back(std::make_unique<DeviceArray>(bytes));
    return store.back()->ok() ? store.back()->get() : nullptr;
  }
  TensorView tensor(DType t, std::initializer_list<int64_t> shape) {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return TensorView::contiguous(alloc(static_cast<size_t>(n) * attnkit::dtype_size(t)), t, shape,
                                  attnkit::DeviceKind::kCuda);
  }
  bool build(const Shape& s) {
    params.q = tensor(DType::kBFloat16, {s.batch, s.seq, s.hq, s.d});
    params.k = tensor(DType::kBFloat16, {s.batch, s.seq, s.hkv, s.d});
    params.v = tensor(DType::kBFloat16, {s.batch, s.seq, s.hkv, s.d});
    params.o = tensor(DType::kBFloat16, {s.batch, s.seq, s.hq, s.d});
    for (TensorView* t : {&params.q, &params.k, &params.v}) {
      if (t->data == nullptr) return false;
      fill_uniform_16bit(t->data, t->numel(), true, reinterpret_cast<uintptr_t>(t->data));
    }
    return params.o.data != nullptr && cudaDeviceSynchronize() == cudaSuccess;
  }
};

/// Median-free, simple: the mean of `reps` timed runs of fn (ms), or -1 on error.
template <class Fn>
double time_ms(Fn&& fn, int reps = 3) {
  if (!fn().is_ok()) return -1.0;  // warm-up (and error check)
  EventTimer timer;
  timer.start();
  for (int r = 0; r < reps; ++r) {
    if (!fn().is_ok()) return -1.0;
  }
  return timer.stop() / reps;
}

void stats_pass(benchmark::State& state, const Shape& s) {
  Call c;
  if (!c.build(s)) return state.SkipWithError("device allocation failed");
  const int64_t nb = (s.seq + 127) / 128;
  TensorView colmean = c.tensor(DType::kFloat32, {s.batch, s.hq, s.seq});
  TensorView blockmean = c.tensor(DType::kFloat32, {s.batch, s.hq, nb, nb});
  attnkit::StatsOutputs out;
  out.colmean = colmean;
  out.blockmean = blockmean;
  const double dense = time_ms([&] { return attnkit::forward(c.params); });
  double last = 0.0;
  for (auto _ : state) {
    const double ms = time_ms([&] { return attnkit::attention_stats(c.params, out); }, 1);
    if (ms < 0) return state.SkipWithError("attention_stats failed");
    state.SetIterationTime(ms / 1e3);
    last = ms;
  }
  state.counters["dense_ms"] = dense;
  state.counters["rel_to_dense"] = last / dense;
}

void sparsed(benchmark::State& state, const Shape& s, bool build_only) {
  Call c;
  if (!c.build(s)) return state.SkipWithError("device allocation failed");
  const int64_t nb = (s.seq + 127) / 128;
  attnkit::BlockMask mask;
  mask.kv_count = c.tensor(DType::kInt32, {s.batch, s.hq, nb});
  mask.kv_index = c.tensor(DType::kInt32, {s.batch, s.hq, nb, nb});
  attnkit::SparseDOptions o;
  o.rho = 0.3f;
  const double dense = time_ms([&] { return attnkit::forward(c.params); });
  if (!attnkit::sparsed_plan(c.params, o, mask).is_ok()) return state.SkipWithError("sparsed_plan failed");
  attnkit::AttentionParams sparse = c.params;
  sparse.block_mask = mask;
  double last = 0.0;
  for (auto _ : state) {
    const double ms = build_only ? time_ms([&] { return attnkit::sparsed_plan(c.params, o, mask); }, 1)
                                 : time_ms([&] { return attnkit::forward(sparse); }, 1);
    if (ms < 0) return state.SkipWithError("SparseD step failed");
    state.SetIterationTime(ms / 1e3);
    last = ms;
  }
  state.counters["dense_ms"] = dense;
  state.counters[build_only ? "rel_to_dense" : "speedup"] = build_only ? last / dense : dense / last;
}

void rectified(benchmark::State& state, const Shape& s) {
  Call c;
  if (!c.build(s)) return state.SkipWithError("device allocation failed");
  const int64_t nqb = (s.seq + 127) / 128, nb = (s.seq - s.text + 127) / 128;
  attnkit::RectifiedPlan plan;
  plan.mask.kv_count = c.tensor(DType::kInt32, {s.batch, s.hq, nqb});
  plan.mask.kv_index = c.tensor(DType::kInt32, {s.batch, s.hq, nqb, nqb});
  plan.rectify.r = c.tensor(DType::kFloat32, {s.batch, s.hq, nqb});
  plan.rectify.c = c.tensor(DType::kFloat32, {s.batch, s.hq, nqb, s.d});
  attnkit::RectifiedOptions o;
  o.text_tokens = s.text;
  o.top_k = static_cast<int>(nb / 10);  // ~10% of the vision blocks, plus tau's own selection
  const double dense = time_ms([&] { return attnkit::forward(c.params); });
  const double planning = time_ms([&] { return attnkit::rectified_plan(c.params, o, plan); });
  double last = 0.0;
  for (auto _ : state) {
    const double ms = time_ms([&] { return attnkit::rectified_attention(c.params, o, plan); }, 1);
    if (ms < 0) return state.SkipWithError("rectified_attention failed");
    state.SetIterationTime(ms / 1e3);
    last = ms;
  }
  state.counters["dense_ms"] = dense;
  state.counters["plan_ms"] = planning;
  state.counters["planning_share"] = planning / last;
  state.counters["speedup"] = dense / last;
}

void register_all() {
  auto reg = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(3);
  };
  for (int64_t seq : {4096, 16384}) {
    Shape s{"stats", 1, seq, 16, 16, 128};
    reg("stats_pass/d128/h16/s" + std::to_string(seq), [s](benchmark::State& st) { stats_pass(st, s); });
  }
  for (int64_t seq : {16384, 65536}) {
    // 64k: 8 heads (a scaled-down layer) so one build stays within the benchmark's time.
    Shape s{"sparsed", 1, seq, seq > 16384 ? 8 : 16, seq > 16384 ? 8 : 16, 128};
    reg("sparsed_build/rho0.3/s" + std::to_string(seq), [s](benchmark::State& st) { sparsed(st, s, true); });
    reg("sparsed_sparse_step/rho0.3/s" + std::to_string(seq), [s](benchmark::State& st) { sparsed(st, s, false); });
  }
  reg("rectified/wan2.1_like/s75600/h40", [](benchmark::State& st) { rectified(st, Shape{"wan", 1, 75600, 40, 40, 128, 0}); });
  reg("rectified/hunyuan_like/s115456_text256/h24",
      [](benchmark::State& st) { rectified(st, Shape{"hunyuan", 1, 115456, 24, 24, 128, 256}); });
}

}  // namespace
}  // namespace attnkit_bench

ATTNKIT_BENCH_MAIN(attnkit_bench::register_all)
