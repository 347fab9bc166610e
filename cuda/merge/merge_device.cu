// The host side of merge_states on the GPU: what the kernel supports, its argument block
// (every part's pointers and strides, the output, the sink, the gate as FwdParams' gate
// fields) and the grid. One launch; no scratch, no synchronisation.
#include "cuda/merge/merge_device.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "cuda/attention/launch_common.hpp"
#include "cuda/merge/merge_launch.hpp"
#include "cuda/merge/merge_params.hpp"

namespace attnkit::cuda_backend {
namespace {

/// CTAs per SM the grid asks for before the kernel's grid-stride loop takes over.
constexpr int64_t kMergeCtasPerSm = 16;

/// (batch, row, head) strides of an O-side tensor: [B, S, H, X] or packed [N, H, X].
RowStrides o_side_strides(const detail::MergeProblem& pr, const TensorView& t) { return row_strides(t, pr.packed); }

/// The same axes of an LSE tensor: [B, H, S] or packed [H, N].
RowStrides lse_strides(const detail::MergeProblem& pr, const TensorView& t) {
  RowStrides s;
  if (pr.packed) {
    s.head = t.stride[0];
    s.row = t.stride[1];
  } else {
    s.batch = t.stride[0];
    s.head = t.stride[1];
    s.row = t.stride[2];
  }
  return s;
}

/// True when every chunk of 8 columns starts 16-byte aligned: an aligned base and non-last
/// strides in whole 16-byte units (4 float32 or 8 fp16 / bf16 elements).
bool chunks_aligned(const TensorView& t) {
  const int64_t unit = 16 / dtype_size(t.dtype);
  if (reinterpret_cast<uintptr_t>(t.data) % 16 != 0) return false;
  for (int d = 0; d + 1 < t.rank; ++d) {
    if (t.stride[d] % unit != 0) return false;
  }
  return true;
}

/// A FwdParams with only the gate fields set: what OutputGate (cuda/variant) reads.
FwdParams gate_params(const detail::MergeProblem& pr, const MergeStatesParams& p) {
  FwdParams g;
  if (!pr.has_gate) return g;
  const TensorView& t = p.gate.g;
  g.maybe_gate = t.data;
  g.gate_stride = o_side_strides(pr, t);
  g.gate_elementwise = pr.gate_elementwise;
  g.gate_col_stride = pr.gate_elementwise ? t.stride[t.rank - 1] : 0;
  g.gate_is_float32 = t.dtype == DType::kFloat32;
  g.gate_sigmoid = p.gate.activation == GateActivation::kSigmoid;
  return g;
}

template <int kCapacity>
Status run(const detail::MergeProblem& pr, const MergeStatesParams& p, const detail::DeviceInfo& device) {
  MergeArgs<kCapacity> a;
  a.num_parts = pr.num_parts;
  for (int i = 0; i < pr.num_parts; ++i) {
    MergePart& part = a.parts[i];
    part.o = p.o_parts[i].data;
    part.lse = static_cast<const float*>(p.lse_parts[i].data);
    part.o_stride = o_side_strides(pr, p.o_parts[i]);
    part.lse_stride = lse_strides(pr, p.lse_parts[i]);
    part.dtype = pr.part_dtype;
    part.vec = chunks_aligned(p.o_parts[i]);
  }
  a.o = p.o.data;
  a.o_stride = o_side_strides(pr, p.o);
  a.o_dtype = pr.out_dtype;
  a.o_vec = chunks_aligned(p.o);
  if (pr.has_lse) {
    a.maybe_lse = static_cast<float*>(p.lse.data);
    a.lse_stride = lse_strides(pr, p.lse);
  }
  if (pr.has_sink) {
    a.maybe_sink = static_cast<const float*>(p.sink_logit.data);
    a.sink_stride = p.sink_logit.stride[0];
  }
  a.batch = pr.batch;
  a.seqlen = pr.seqlen;
  a.heads = pr.heads;
  a.dv = static_cast<int>(pr.dv);
  const int64_t chunks = (pr.dv + kMergeChunk - 1) / kMergeChunk;
  while (a.lanes_per_pair < chunks && a.lanes_per_pair < kMergeWarpSize) a.lanes_per_pair *= 2;

  const int64_t pairs = pr.rows() * pr.heads;
  const int64_t pairs_per_cta = (kMergeThreads / kMergeWarpSize) * (kMergeWarpSize / a.lanes_per_pair);
  const int64_t ctas = std::min((pairs + pairs_per_cta - 1) / pairs_per_cta,
                                std::max<int64_t>(1, device.sms) * kMergeCtasPerSm);
  const bool gate_bf16 = pr.has_gate && p.gate.g.dtype == DType::kBFloat16;
  return launch_merge_kernel(dim3(static_cast<unsigned>(ctas)), gate_bf16, a, gate_params(pr, p),
                             static_cast<cudaStream_t>(p.stream));
}

}  // namespace

Status merge_states_device(const detail::MergeProblem& pr, const MergeStatesParams& p) {
  if (pr.num_parts > kMergeMaxParts) {
    return not_supported("num_parts = " + std::to_string(pr.num_parts) + ": the CUDA merge kernel combines at most " +
                         std::to_string(kMergeMaxParts) +
                         " parts per call; merge groups of parts (without sink_logit and gate), then merge the "
                         "groups' results with them (merging is associative)");
  }
  if (pr.dv > (int64_t{1} << 30)) {
    return not_supported("Dv = " + std::to_string(pr.dv) + ": the CUDA merge kernel takes Dv up to 2^30");
  }
  detail::DeviceInfo device;
  if (Status s = current_device_info(&device); !s) return s;
  if (Status s = check_sm80(device, "CUDA merge kernel"); !s) return s;
  if (pr.rows() == 0 || pr.heads == 0) return Status::ok();
  return pr.num_parts <= kMergeFewParts ? run<kMergeFewParts>(pr, p, device) : run<kMergeMaxParts>(pr, p, device);
}

}  // namespace attnkit::cuda_backend
