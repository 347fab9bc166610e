// select_decode_kernel and run_decode: the one place that turns a validated few-row call
// (contiguous or paged KV) into a DecodeParams block, picks the (head dim, dtype) instance
// and the number of key splits, and owns the split-KV workspace.
#include "cuda/decode/decode_launch.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <type_traits>

#include "cuda/decode/decode_instances.hpp"
#include "cuda/decode/decode_params.hpp"
#include "cuda/decode/decode_traits.cuh"
#include "cuda/attention/launch_common.hpp"

namespace attnkit::cuda_backend {
namespace {

constexpr int64_t kMaxCtas = INT_MAX;             // the grid is flattened into blockIdx.x
constexpr int kKeysPerTile = kDecodeKeysPerTile;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

/// Everything select_decode_kernel learns about the device and the instance.
struct DecodePlan {
  detail::DeviceInfo device;
  int smem = 0;
  int rows_per_cta = 0;
  int64_t row_chunks = 0;
  int num_splits = 1;
};

DecodeParams build_params(const detail::Problem& problem, const AttentionParams& a, const DecodePlan& plan) {
  DecodeParams d;
  d.fwd = build_fwd_params(problem, a);  // Q, O, LSE and every SPEC 2-6 feature, as in prefill
  FwdParams& p = d.fwd;
  const bool varlen = problem.varlen;  // Q varlen (and K/V too unless paged)
  d.hkv = static_cast<int>(problem.hkv);
  d.max_seqlen_q = static_cast<int>(problem.max_sq);
  if (varlen) d.cu_seqlens_q_stride = a.cu_seqlens_q.stride[0];
  if (problem.paged) {
    // The key side is the cache's: build_fwd_params' K/V row strides do not apply.
    p.k_stride = RowStrides{};
    p.v_stride = RowStrides{};
    p.maybe_cu_seqlens_k = nullptr;
    const TensorView& table = a.paged_kv.page_table;
    d.maybe_page_table = static_cast<const int32_t*>(table.data);
    d.page_table_stride[0] = table.stride[0];
    d.page_table_stride[1] = table.stride[1];
    d.maybe_seqlens_k = static_cast<const int32_t*>(a.paged_kv.seqlens_k.data);
    d.seqlens_k_stride = a.paged_kv.seqlens_k.stride[0];
    d.page_size = static_cast<int>(problem.page_size);
    d.page_capacity = clamp_int(table.shape[1] * problem.page_size, 0, INT_MAX);
    d.k_page_stride = a.k.stride[0];
    d.k_slot_stride = a.k.stride[1];
    d.k_head_stride = a.k.stride[2];
    d.v_page_stride = a.v.stride[0];
    d.v_slot_stride = a.v.stride[1];
    d.v_head_stride = a.v.stride[2];
  } else if (varlen) {
    d.cu_seqlens_k_stride = a.cu_seqlens_k.stride[0];
  }
  d.num_splits = plan.num_splits;
  d.row_chunks = static_cast<int>(plan.row_chunks);
  return d;
}

/// The one function behind select_decode_kernel and run_decode: checks, device and
/// instance queries, and the split count.
Status plan_decode(const detail::Problem& problem, const AttentionParams& params, DecodePlan* plan) {
  if (Status s = check_dtype_and_length(problem, "CUDA decode kernel"); !s) return s;
  if (Status s = check_mma_head_dims(problem, "CUDA decode kernel"); !s) return s;
  if (problem.page_size >= kMaxSeqLen) {
    return not_supported("page_size " + std::to_string(problem.page_size) +
                         ": the CUDA decode kernel takes pages shorter than 2^30");
  }
  if (problem.hq >= kMaxSeqLen || problem.batch >= kMaxSeqLen) {
    return not_supported("batch = " + std::to_string(problem.batch) + ", Hq = " + std::to_string(problem.hq) +
                         ": the CUDA decode kernel supports fewer than 2^30 of each");
  }
  for (const auto& [t, name] : {std::pair{&params.q, "q"}, std::pair{&params.k, "k"}, std::pair{&params.v, "v"},
                                std::pair{&params.o, "o"}}) {
    if (Status s = check_row_alignment(*t, name, "CUDA decode kernel"); !s) return s;
  }

  if (Status s = current_device_info(&plan->device); !s) return s;
  if (Status s = check_sm80(plan->device, "CUDA decode kernel"); !s) return s;
  Status status = switch_instance(problem.dtype, problem.d, problem.kv_fp8, [&](auto head_dim, auto is_bf16, auto kv_fp8) -> Status {
      constexpr int kD = decltype(head_dim)::value;
      constexpr bool kBf16 = decltype(is_bf16)::value;
      constexpr bool kFp8 = decltype(kv_fp8)::value;
      cudaFuncAttributes attributes{};
      const cudaError_t e = decode_kernel_attributes<kD, kBf16, kFp8>(&attributes);
      if (e != cudaSuccess) {
        return not_supported("no decode kernel image for " + sm_name(plan->device) + " (" + cudaGetErrorString(e) +
                             "): rebuild attnkit with CMAKE_CUDA_ARCHITECTURES including " +
                             std::to_string(plan->device.major) + std::to_string(plan->device.minor));
      }
      plan->smem = decode_smem_bytes<kD, kBf16, kFp8>();
      plan->rows_per_cta = decode_rows_per_cta<kD, kBf16, kFp8>();
      return Status::ok();
  });
  if (!status) return status;
  if (plan->smem > plan->device.smem_optin) {
    return not_supported("head dim " + std::to_string(problem.d) + " needs " + std::to_string(plan->smem) +
                         " bytes of shared memory per block in the decode kernel; device " +
                         std::to_string(plan->device.ordinal) + " allows " + std::to_string(plan->device.smem_optin));
  }

  detail::KernelChoice grid;  // the one grid formula (common/kernel_choice.hpp)
  grid.family = detail::KernelFamily::kDecode;
  grid.cta_rows = plan->rows_per_cta;
  detail::size_grid(problem, &grid);
  plan->row_chunks = grid.row_chunks;
  const int64_t base_ctas = problem.batch * problem.hkv * plan->row_chunks;
  const DecodeSplitTuning tuning = split_tuning(problem.d);
  const int64_t ctas_per_sm = std::max<int64_t>(1, std::min<int64_t>(tuning.ctas_per_sm, plan->device.smem_per_sm / (plan->smem + 1024)));
  const int64_t want = ceil_div(plan->device.sms * ctas_per_sm, std::max<int64_t>(1, base_ctas));
  const int64_t by_length = std::max<int64_t>(1, problem.max_sk / tuning.min_keys_per_split);
  plan->num_splits = static_cast<int>(std::clamp<int64_t>(std::min(want, by_length), 1, tuning.max_splits));
  if (base_ctas * plan->num_splits > kMaxCtas) {
    return not_supported("batch x Hkv x row chunks = " + std::to_string(base_ctas) +
                         ": the CUDA decode grid holds at most 2^31 - 1 CTAs");
  }
  const int64_t merge_items = problem.batch * problem.max_sq * problem.hq * (problem.d / 8);
  if (plan->num_splits > 1 && ceil_div(merge_items, 256) > kMaxCtas) plan->num_splits = 1;
  return Status::ok();
}

}  // namespace

Status select_decode_kernel(const detail::Problem& problem, const AttentionParams& params, detail::KernelChoice* choice) {
  DecodePlan plan;
  if (Status s = plan_decode(problem, params, &plan); !s) return s;
  *choice = detail::KernelChoice{};
  choice->backend = detail::Backend::kCuda;
  choice->family = detail::KernelFamily::kDecode;
  choice->kernel = std::string("decode_sm80<") + dtype_tag(problem.dtype) + ",d" + std::to_string(problem.d) +
                   (problem.kv_fp8 ? std::string(",kv=") + dtype_name(problem.kv_dtype) : std::string()) + ">";
  choice->head_dim = static_cast<int>(problem.d);
  choice->dtype = problem.dtype;
  const int64_t packed = problem.group * problem.max_sq;
  choice->tile_q = static_cast<int>(std::min<int64_t>(plan.rows_per_cta, ceil_div(std::max<int64_t>(packed, 1), 16) * 16));
  choice->tile_k = kKeysPerTile;
  choice->num_warps = 4;
  choice->smem_bytes = plan.smem;
  choice->row_chunks = plan.row_chunks;
  choice->cta_rows = plan.rows_per_cta;
  choice->num_splits = plan.num_splits;
  choice->device = plan.device;
  choice->why = "split-KV decode kernel (flash-decoding, mma.sync, sm_80 family) on " + sm_name(plan.device) + " with " +
                std::to_string(plan.device.sms) + " SMs: GQA packing of " +
                std::to_string(problem.group) + " query heads x " + std::to_string(problem.max_sq) +
                " rows per kv head into 16-row mma tiles, so K and V are read once per kv head; " +
                (problem.paged ? "paged KV cache (page size " + std::to_string(problem.page_size) + ")"
                               : std::string(problem.varlen ? "contiguous varlen KV" : "contiguous batched KV")) +
                (problem.kv_fp8 ? std::string(" in ") + dtype_name(problem.kv_dtype) +
                                      " (half the bytes; staged, converted exactly to 16-bit in shared memory, "
                                      "scales folded into the logits and the output)"
                                : std::string()) +
                " streamed in " + std::to_string(kKeysPerTile) + "-key cp.async " +
                (problem.kv_fp8 ? "tiles; " : "double-buffered tiles; ") +
                std::to_string(plan.num_splits) + " key split(s) per sequence" +
                (plan.num_splits > 1 ? " merged by LSE in a second kernel" : ", O written directly") + "; " +
                std::to_string(plan.smem / 1024) + " KB shared memory";
  return Status::ok();
}

Status run_decode(const detail::Problem& problem, const AttentionParams& params, const detail::KernelChoice& choice,
                  void* workspace) {
  if (choice.backend != detail::Backend::kCuda || choice.family != detail::KernelFamily::kDecode ||
      choice.head_dim != problem.d || choice.dtype != problem.dtype || choice.row_chunks < 1) {
    return Status(StatusCode::kInternal, "cuda_backend::run_decode called with a choice other than the decode kernel for this call");
  }
  if (problem.batch == 0 || problem.hq == 0 || problem.max_sq == 0) return Status::ok();  // nothing to write
  DecodePlan plan;  // what select_decode_kernel planned, as explain() reported it
  plan.row_chunks = choice.row_chunks;
  plan.num_splits = std::max(1, choice.num_splits);
  if (static_cast<int64_t>(plan.num_splits) * problem.batch * problem.hkv * plan.row_chunks > kMaxCtas) {
    return not_supported("batch x Hkv x row chunks x splits: the CUDA decode grid holds at most 2^31 - 1 CTAs");
  }
  DecodeParams p = build_params(problem, params, plan);
  if (p.num_splits > 1) {  // the caller's workspace (detail::workspace_bytes): o partials, then (m, l)
    if (workspace == nullptr) return Status(StatusCode::kInternal, "run_decode: split-KV without a workspace");
    const int64_t slots = static_cast<int64_t>(p.num_splits) * problem.batch * problem.max_sq * problem.hq;
    p.maybe_partial_o = static_cast<float*>(workspace);
    p.maybe_partial_ml = p.maybe_partial_o + slots * problem.d;
  }
  const cudaStream_t stream = static_cast<cudaStream_t>(params.stream);
  return switch_instance(problem.dtype, problem.d, problem.kv_fp8, [&](auto head_dim, auto is_bf16, auto kv_fp8) {
    return launch_decode<decltype(head_dim)::value, decltype(is_bf16)::value, decltype(kv_fp8)::value>(p, stream);
  });
}

Status allocate_workspace(size_t bytes, void* stream, void** workspace) {
  *workspace = nullptr;
  if (bytes == 0) return Status::ok();
  const cudaError_t err = cudaMallocAsync(workspace, bytes, static_cast<cudaStream_t>(stream));
  if (err != cudaSuccess) return cuda_error("cudaMallocAsync of a " + std::to_string(bytes) + "-byte workspace failed", err);
  return Status::ok();
}

Status free_workspace(void* workspace, void* stream) {
  if (workspace == nullptr) return Status::ok();
  const cudaError_t err = cudaFreeAsync(workspace, static_cast<cudaStream_t>(stream));
  return err == cudaSuccess ? Status::ok() : cuda_error("cudaFreeAsync of a workspace failed", err);
}

}  // namespace attnkit::cuda_backend
