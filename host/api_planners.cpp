// Public entry points of SPEC 8's planners: SparseD (plan + schedule) and Rectified
// SpaAttn (plan + attention). Each validates every argument before writing anything.
#include <climits>
#include <cmath>
#include <string>

#include "attnkit/attention.hpp"
#include "host/planners/rectified.hpp"
#include "host/planners/sparsed.hpp"
#include "host/reference/forward.hpp"
#include "host/validate.hpp"
#include "host/validate_outputs.hpp"

#ifdef ATTNKIT_WITH_CUDA
#include "cuda/planners/planners_launch.hpp"
#endif

namespace attnkit {

namespace {

using detail::CallKind;
using detail::ceil_div;
using detail::check_required_tensor;
using detail::invalid;
using detail::Problem;

/// A planner's output mask: block sizes = bs, kv_count int32 [B, Hq, NQB],
/// kv_index int32 [B, Hq, NQB, NKB] (Hm = Hq, max_kv = NKB).
Status check_plan_mask(const Problem& pr, const BlockMask& m, int64_t bs, const std::string& name) {
  if (m.block_q != bs || m.block_k != bs) {
    return invalid(name + ".block_q/block_k = " + std::to_string(m.block_q) + "/" + std::to_string(m.block_k) +
                   ": expected options.block_size = " + std::to_string(bs) + " for both");
  }
  const int64_t nqb = ceil_div(pr.max_sq, bs), nkb = ceil_div(pr.max_sk, bs);
  if (Status s = check_required_tensor(m.kv_count, name + ".kv_count", pr.device, DType::kInt32, {pr.batch, pr.hq, nqb},
                                       "[B, Hq, ceil(Sq / block_size)]");
      !s)
    return s;
  return check_required_tensor(m.kv_index, name + ".kv_index", pr.device, DType::kInt32, {pr.batch, pr.hq, nqb, nkb},
                               "[B, Hq, ceil(Sq / block_size), ceil(Sk / block_size)]");
}

Status check_sparsed_options(const Problem& pr, const SparseDOptions& o) {
  if (o.block_size <= 0) return invalid("options.block_size = " + std::to_string(o.block_size) + ": expected > 0");
  if (!(o.rho > 0.0f && o.rho <= 1.0f)) {
    return invalid("options.rho = " + std::to_string(o.rho) + ": expected a keep ratio in (0, 1]");
  }
  const int64_t g = o.generation_start;
  if (g != -1 && (g < 0 || g >= pr.max_sk || g % o.block_size != 0)) {
    return invalid("options.generation_start = " + std::to_string(g) +
                   ": expected -1 (none) or a key position in [0, Sk = " + std::to_string(pr.max_sk) +
                   ") that is a multiple of options.block_size = " + std::to_string(o.block_size));
  }
  return Status::ok();
}

/// Everything Rectified SpaAttn requires of the call and its options (SPEC 8).
Status check_rectified_call(const Problem& pr, const AttentionParams& p, const RectifiedOptions& o) {
  if (pr.varlen) {
    return invalid("cu_seqlens_q: Rectified SpaAttn expects the batched layout [B, S, H, D]; got varlen tensors");
  }
  if (pr.max_sq != pr.max_sk) {
    return invalid("k.shape[1] = " + std::to_string(pr.max_sk) + ": expected Sk == Sq = " + std::to_string(pr.max_sq) +
                   " (Rectified SpaAttn is self-attention)");
  }
  if (p.block_mask.present() || p.block_mask.kv_index.present()) {
    return invalid("block_mask: expected absent (Rectified SpaAttn builds its own mask)");
  }
  if (p.rectify.present() || p.rectify.c.present()) {
    return invalid("rectify: expected absent (Rectified SpaAttn computes its own rectification terms)");
  }
  const int64_t bs = o.block_size, s = pr.max_sq;
  if (bs <= 0) return invalid("options.block_size = " + std::to_string(bs) + ": expected > 0");
  if (o.text_tokens < 0 || o.text_tokens > s) {
    return invalid("options.text_tokens = " + std::to_string(o.text_tokens) + ": expected in [0, S = " +
                   std::to_string(s) + "]");
  }
  const int64_t sv = s - o.text_tokens;
  if (o.text_tokens > 0 && sv % bs != 0) {
    return invalid("options.text_tokens = " + std::to_string(o.text_tokens) + ": expected S - text_tokens = " +
                   std::to_string(sv) + " (vision tokens) to be a multiple of options.block_size = " +
                   std::to_string(bs) + " when text_tokens > 0");
  }
  if (o.top_k < 0) return invalid("options.top_k = " + std::to_string(o.top_k) + ": expected >= 0 (required)");
  if (Status st = detail::check_closed_range(o.tau, "options.tau", 0.0, 1.0); !st) return st;
  if (o.forced.present()) {
    const TensorView& f = o.forced;
    const int64_t nb = ceil_div(sv, bs);
    if (Status st = detail::check_tensor_view(f, "options.forced", pr.device); !st) return st;
    if (f.dtype != DType::kUInt8) return invalid(std::string("options.forced: expected dtype uint8, got ") + dtype_name(f.dtype));
    const bool bm_ok = f.rank == 4 && (f.shape[0] == 1 || f.shape[0] == pr.batch);
    const bool hm_ok = f.rank == 4 && f.shape[1] > 0 && pr.hq % f.shape[1] == 0;
    if (!bm_ok || !hm_ok || f.shape[2] != nb || f.shape[3] != nb) {
      return invalid("options.forced: expected shape [Bm, Hm, NB, NB] with Bm in {1, B = " + std::to_string(pr.batch) +
                     "}, Hm dividing Hq = " + std::to_string(pr.hq) + ", NB = ceil(vision tokens / block_size) = " +
                     std::to_string(nb) + "; got " + detail::shape_string(f));
    }
  }
  return Status::ok();
}

/// The plan outputs (or workspace): mask and rectification terms with block sizes = bs.
Status check_rectified_plan(const Problem& pr, const RectifiedPlan& plan, int64_t bs, const std::string& name) {
  if (Status s = check_plan_mask(pr, plan.mask, bs, name + ".mask"); !s) return s;
  if (plan.rectify.block_q != bs) {
    return invalid(name + ".rectify.block_q = " + std::to_string(plan.rectify.block_q) +
                   ": expected options.block_size = " + std::to_string(bs));
  }
  const int64_t nqb = ceil_div(pr.max_sq, bs);
  if (Status s = check_required_tensor(plan.rectify.r, name + ".rectify.r", pr.device, DType::kFloat32,
                                       {pr.batch, pr.hq, nqb}, "[B, Hq, NQB]");
      !s)
    return s;
  return check_required_tensor(plan.rectify.c, name + ".rectify.c", pr.device, DType::kFloat32,
                               {pr.batch, pr.hq, nqb, pr.dv}, "[B, Hq, NQB, Dv]");
}

}  // namespace

Status sparsed_plan(const AttentionParams& params, const SparseDOptions& options, const BlockMask& out) {
  Problem pr;
  if (Status s = detail::validate_attention(params, CallKind::kPlanner, &pr); !s) return s;
  if (Status s = detail::refuse_fp8_kv_cache(pr, "sparsed_plan"); !s) return s;
  if (Status s = check_sparsed_options(pr, options); !s) return s;
  if (Status s = check_plan_mask(pr, out, options.block_size, "out"); !s) return s;
  if (pr.device != DeviceKind::kHost) {
#ifdef ATTNKIT_WITH_CUDA
    return cuda_backend::sparsed_plan_device(pr, params, options, out);
#else
    return detail::device_path_not_implemented("sparsed_plan");
#endif
  }
  planners::sparsed_plan(pr, params, options, out);
  return Status::ok();
}

int SparseDSchedule::build_step() const {
  // floor(T * skip) + 1 with the product in double, as SparseD's code; a non-finite or
  // negative product counts as 0 and a huge one saturates, so the result is always >= 1.
  const double product = static_cast<double>(total_steps) * skip;
  if (!(product >= 0.0)) return 1;
  if (product >= static_cast<double>(INT_MAX - 1)) return INT_MAX;
  return static_cast<int>(std::floor(product)) + 1;
}

SparseDStep SparseDSchedule::step_kind(int step) const {
  // Defined for every step by the comparison alone (negative steps are dense; steps past
  // total_steps follow the same rule), so a caller's off-by-one never builds twice.
  const int end = build_step();
  if (step < end) return SparseDStep::kDense;
  return step == end ? SparseDStep::kBuildPattern : SparseDStep::kSparse;
}

Status rectified_plan(const AttentionParams& params, const RectifiedOptions& options, const RectifiedPlan& out) {
  Problem pr;
  if (Status s = detail::validate_attention(params, CallKind::kPlanner, &pr); !s) return s;
  if (Status s = detail::refuse_fp8_kv_cache(pr, "rectified_plan"); !s) return s;
  if (Status s = check_rectified_call(pr, params, options); !s) return s;
  if (Status s = check_rectified_plan(pr, out, options.block_size, "out"); !s) return s;
  if (pr.device != DeviceKind::kHost) {
#ifdef ATTNKIT_WITH_CUDA
    return cuda_backend::rectified_plan_device(pr, params, options, out);
#else
    return detail::device_path_not_implemented("rectified_plan");
#endif
  }
  planners::rectified_plan(pr, params, options, out);
  return Status::ok();
}

Status rectified_attention(const AttentionParams& params, const RectifiedOptions& options,
                           const RectifiedPlan& workspace) {
  Problem pr;
  if (Status s = detail::validate_attention(params, CallKind::kForward, &pr); !s) return s;
  if (Status s = detail::refuse_fp8_kv_cache(pr, "rectified_attention"); !s) return s;
  if (Status s = check_rectified_call(pr, params, options); !s) return s;
  if (Status s = check_rectified_plan(pr, workspace, options.block_size, "workspace"); !s) return s;
  if (pr.device != DeviceKind::kHost) {
#ifdef ATTNKIT_WITH_CUDA
    return cuda_backend::rectified_attention_device(pr, params, options, workspace);
#else
    return detail::device_path_not_implemented("rectified_attention");
#endif
  }
  planners::rectified_plan(pr, params, options, workspace);

  // Step 6: block-sparse attention with the plan's mask and rectification, plus the call's
  // other options (visibility, logits, sink, gate).
  AttentionParams sparse = params;
  sparse.block_mask = workspace.mask;
  sparse.rectify = workspace.rectify;
  Problem sparse_pr;
  if (Status s = detail::validate_attention(sparse, CallKind::kForward, &sparse_pr); !s) {
    return Status(StatusCode::kInternal, "rectified_attention: the plan failed validation: " + s.message());
  }
  return reference::forward(sparse_pr, sparse);
}

}  // namespace attnkit
