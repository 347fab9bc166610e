// Ring attention over NCCL (context parallelism): one process, one thread and one GPU per
// rank. Rank r holds query shard r and KV shard r; the KV shards rotate around the ring with
// ncclSend / ncclRecv while each rank runs attnkit::forward (LSE on, no sink) on the shard
// it holds, and merge_states accumulates the steps, adding the learned sinks at the final
// merge (ring_attention.hpp: the schedule and the merge order, shared with the CPU test
// tests/merge/test_ring_attention.cpp). Non-causal, bf16, GQA. The result is checked
// against one forward over all keys on the CPU backend. Without a GPU it says so and exits 0.
//
//   attnkit_ring_attention_nccl [world]     (default: every visible GPU, at most 8)
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "attnkit/attention.hpp"
#include "attnkit/merge.hpp"
#include "example_backend.hpp"
#include "ring_attention.hpp"

namespace {

using attnkit::DeviceKind;
using attnkit::DType;
using attnkit::TensorView;

constexpr int64_t kShardQ = 256, kShardKv = 384, kHq = 8, kHkv = 2, kHeadDim = 128;

#define CUDA_OK(call)                                                                            \
  do {                                                                                           \
    const cudaError_t err_ = (call);                                                             \
    if (err_ != cudaSuccess) {                                                                   \
      std::fprintf(stderr, "rank %d: %s failed: %s\n", rank, #call, cudaGetErrorString(err_));  \
      return false;                                                                              \
    }                                                                                            \
  } while (0)
#define NCCL_OK(call)                                                                            \
  do {                                                                                           \
    const ncclResult_t res_ = (call);                                                            \
    if (res_ != ncclSuccess) {                                                                   \
      std::fprintf(stderr, "rank %d: %s failed: %s\n", rank, #call, ncclGetErrorString(res_));  \
      return false;                                                                              \
    }                                                                                            \
  } while (0)

/// The whole problem on the host: Q [1, world * kShardQ, Hq, D], K and V
/// [1, world * kShardKv, Hkv, D] in bf16, sinks float32 [Hq], and the gathered output.
struct Problem {
  int world = 1;
  std::vector<uint16_t> q, k, v, o;
  std::vector<float> sinks;

  int64_t sq() const { return world * kShardQ; }
  int64_t sk() const { return world * kShardKv; }
};

/// One rank: its GPU, its shards, and the ring loop. KV shard r travels as one buffer
/// [K | V] so that each exchange is one send and one receive.
bool run_rank(int rank, ncclComm_t comm, Problem* pr) {
  const ring::RingSchedule schedule{pr->world, rank};
  CUDA_OK(cudaSetDevice(rank));
  cudaStream_t compute = nullptr, comm_stream = nullptr;
  CUDA_OK(cudaStreamCreateWithFlags(&compute, cudaStreamNonBlocking));
  CUDA_OK(cudaStreamCreateWithFlags(&comm_stream, cudaStreamNonBlocking));

  const size_t q_elems = kShardQ * kHq * kHeadDim, kv_elems = kShardKv * kHkv * kHeadDim;
  void *q = nullptr, *kv[2] = {nullptr, nullptr}, *step_o = nullptr, *run_o = nullptr, *out_o = nullptr;
  float *step_lse = nullptr, *run_lse = nullptr, *sinks = nullptr;
  CUDA_OK(cudaMalloc(&q, q_elems * 2));
  CUDA_OK(cudaMalloc(&kv[0], 2 * kv_elems * 2));
  CUDA_OK(cudaMalloc(&kv[1], 2 * kv_elems * 2));
  CUDA_OK(cudaMalloc(&step_o, q_elems * 2));
  CUDA_OK(cudaMalloc(&run_o, q_elems * 2));
  CUDA_OK(cudaMalloc(&out_o, q_elems * 2));
  CUDA_OK(cudaMalloc(&step_lse, kHq * kShardQ * sizeof(float)));
  CUDA_OK(cudaMalloc(&run_lse, kHq * kShardQ * sizeof(float)));
  CUDA_OK(cudaMalloc(&sinks, kHq * sizeof(float)));
  CUDA_OK(cudaMemcpy(q, pr->q.data() + rank * q_elems, q_elems * 2, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(kv[0], pr->k.data() + rank * kv_elems, kv_elems * 2, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(static_cast<uint16_t*>(kv[0]) + kv_elems, pr->v.data() + rank * kv_elems, kv_elems * 2,
                     cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(sinks, pr->sinks.data(), kHq * sizeof(float), cudaMemcpyHostToDevice));

  const DeviceKind gpu = DeviceKind::kCuda;
  ring::RingOutputs out;
  out.run_o = TensorView::contiguous(run_o, DType::kBFloat16, {1, kShardQ, kHq, kHeadDim}, gpu);
  out.run_lse = TensorView::contiguous(run_lse, DType::kFloat32, {1, kHq, kShardQ}, gpu);
  out.out_o = TensorView::contiguous(out_o, DType::kBFloat16, {1, kShardQ, kHq, kHeadDim}, gpu);
  out.sink = TensorView::contiguous(sinks, DType::kFloat32, {kHq}, gpu);

  int cur = 0;
  for (int step = 0; step < schedule.steps(); ++step) {
    // Start passing the shard on while this step computes with it (both only read it).
    if (schedule.exchange_after(step)) {
      NCCL_OK(ncclGroupStart());
      NCCL_OK(ncclSend(kv[cur], 2 * kv_elems * 2, ncclUint8, schedule.send_to(), comm, comm_stream));
      NCCL_OK(ncclRecv(kv[1 - cur], 2 * kv_elems * 2, ncclUint8, schedule.recv_from(), comm, comm_stream));
      NCCL_OK(ncclGroupEnd());
    }
    attnkit::AttentionParams p;
    p.q = TensorView::contiguous(q, DType::kBFloat16, {1, kShardQ, kHq, kHeadDim}, gpu);
    p.k = TensorView::contiguous(kv[cur], DType::kBFloat16, {1, kShardKv, kHkv, kHeadDim}, gpu);
    p.v = TensorView::contiguous(static_cast<uint16_t*>(kv[cur]) + kv_elems, DType::kBFloat16,
                                 {1, kShardKv, kHkv, kHeadDim}, gpu);
    p.o = TensorView::contiguous(step_o, DType::kBFloat16, {1, kShardQ, kHq, kHeadDim}, gpu);
    p.lse = TensorView::contiguous(step_lse, DType::kFloat32, {1, kHq, kShardQ}, gpu);
    p.stream = compute;  // no sink here: merge_states adds it once, at the last step
    if (!example::check(attnkit::forward(p), "forward")) return false;
    if (!example::check(ring::merge_step(schedule, step, p.o, p.lse, out, compute), "merge_states")) return false;
    // The next step reads the received shard, and the next exchange overwrites this one.
    CUDA_OK(cudaStreamSynchronize(comm_stream));
    CUDA_OK(cudaStreamSynchronize(compute));
    cur = 1 - cur;
  }
  CUDA_OK(cudaMemcpy(pr->o.data() + rank * q_elems, out_o, q_elems * 2, cudaMemcpyDeviceToHost));
  for (void* ptr : {q, kv[0], kv[1], step_o, run_o, out_o, static_cast<void*>(step_lse), static_cast<void*>(run_lse),
                    static_cast<void*>(sinks)}) {
    cudaFree(ptr);
  }
  cudaStreamDestroy(compute);
  cudaStreamDestroy(comm_stream);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices < 1) {
    std::printf("ring_attention_nccl: no CUDA device; skipping (tests/merge/test_ring_attention.cpp runs the same "
                "schedule on the CPU backend)\n");
    return 0;
  }
  Problem pr;
  pr.world = std::min(devices, 8);
  if (argc > 1) pr.world = std::max(1, std::min(std::atoi(argv[1]), devices));
  std::mt19937 gen(2024);
  std::normal_distribution<float> dist;
  auto fill = [&](std::vector<uint16_t>& x, size_t n) {
    x.resize(n);
    for (auto& e : x) e = example::to_bf16(dist(gen));
  };
  fill(pr.q, pr.sq() * kHq * kHeadDim);
  fill(pr.k, pr.sk() * kHkv * kHeadDim);
  fill(pr.v, pr.sk() * kHkv * kHeadDim);
  pr.o.assign(pr.q.size(), 0);
  for (int64_t h = 0; h < kHq; ++h) pr.sinks.push_back(0.25f * static_cast<float>(h));

  std::vector<ncclComm_t> comms(static_cast<size_t>(pr.world));
  std::vector<int> devs(static_cast<size_t>(pr.world));
  for (int r = 0; r < pr.world; ++r) devs[r] = r;
  if (const ncclResult_t res = ncclCommInitAll(comms.data(), pr.world, devs.data()); res != ncclSuccess) {
    std::fprintf(stderr, "ncclCommInitAll failed: %s\n", ncclGetErrorString(res));
    return 1;
  }
  std::vector<char> ok(static_cast<size_t>(pr.world), 0);
  std::vector<std::thread> ranks;
  for (int r = 0; r < pr.world; ++r) ranks.emplace_back([&, r] { ok[r] = run_rank(r, comms[r], &pr) ? 1 : 0; });
  for (auto& t : ranks) t.join();
  for (ncclComm_t c : comms) ncclCommDestroy(c);
  if (std::count(ok.begin(), ok.end(), 1) != pr.world) return 1;

  // One forward over all keys with the sinks, on the CPU backend.
  std::vector<uint16_t> ref(pr.q.size());
  attnkit::AttentionParams one;
  one.q = TensorView::contiguous(pr.q.data(), DType::kBFloat16, {1, pr.sq(), kHq, kHeadDim});
  one.k = TensorView::contiguous(pr.k.data(), DType::kBFloat16, {1, pr.sk(), kHkv, kHeadDim});
  one.v = TensorView::contiguous(pr.v.data(), DType::kBFloat16, {1, pr.sk(), kHkv, kHeadDim});
  one.o = TensorView::contiguous(ref.data(), DType::kBFloat16, {1, pr.sq(), kHq, kHeadDim});
  one.sink_logit = TensorView::contiguous(pr.sinks.data(), DType::kFloat32, {kHq});
  if (!example::check(attnkit::forward(one), "CPU forward")) return 1;
  double max_err = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_err = std::max(max_err, std::fabs(static_cast<double>(example::from_bf16(pr.o[i])) - example::from_bf16(ref[i])));
  }
  std::printf("ring attention over %d GPU(s): %lld queries x %lld keys, max |O - O_cpu| = %.3g\n", pr.world,
              static_cast<long long>(pr.sq()), static_cast<long long>(pr.sk()), max_err);
  return max_err < 6e-2 ? 0 : 1;
}
