// Public entry points of SPEC 7: attention statistics and ACT. Each validates every
// argument before writing anything; the host path runs the CPU reference.
#include <string>
#include <tuple>
#include <utility>

#include "attnkit/attention.hpp"
#include "host/reference/act.hpp"
#include "host/reference/stats.hpp"
#include "host/validate.hpp"
#include "host/validate_outputs.hpp"

#ifdef ATTNKIT_WITH_CUDA
#include "cuda/stats/stats_launch.hpp"
#endif

namespace attnkit {

namespace {

using detail::CallKind;
using detail::check_closed_range;
using detail::check_exact_tensor;
using detail::check_required_tensor;
using detail::invalid;
using detail::Problem;

Status check_stats_outputs(const Problem& pr, const StatsOutputs& out) {
  const bool cols = out.colsum.present() || out.colcount.present() || out.colmean.present();
  const bool blocks = out.blockmass.present() || out.blockmean.present();
  if (!cols && !blocks) {
    return invalid("out: expected at least one of colsum, colcount, colmean, blockmass, blockmean; got none");
  }
  for (auto [t, name, dtype] : {std::tuple{&out.colsum, "out.colsum", DType::kFloat32},
                                {&out.colcount, "out.colcount", DType::kInt32},
                                {&out.colmean, "out.colmean", DType::kFloat32}}) {
    if (!t->present()) continue;
    Status s = pr.varlen ? check_exact_tensor(*t, name, pr.device, dtype, {pr.hq, pr.total_k}, "[Hq, total_k]")
                         : check_exact_tensor(*t, name, pr.device, dtype, {pr.batch, pr.hq, pr.max_sk}, "[B, Hq, Sk]");
    if (!s) return s;
  }
  if (blocks) {
    if (out.block_q <= 0) return invalid("out.block_q = " + std::to_string(out.block_q) + ": expected > 0");
    if (out.block_k <= 0) return invalid("out.block_k = " + std::to_string(out.block_k) + ": expected > 0");
    const int64_t nqb = detail::ceil_div(pr.max_sq, out.block_q), nkb = detail::ceil_div(pr.max_sk, out.block_k);
    for (auto [t, name] : {std::pair{&out.blockmass, "out.blockmass"}, {&out.blockmean, "out.blockmean"}}) {
      if (!t->present()) continue;
      if (Status s = check_exact_tensor(*t, name, pr.device, DType::kFloat32, {pr.batch, pr.hq, nqb, nkb},
                                        "[B, Hq, ceil(Sq / block_q), ceil(Sk / block_k)]");
          !s)
        return s;
    }
  }
  return Status::ok();
}

Status check_act_options(const Problem& pr, const ActOptions& o) {
  if (Status s = check_closed_range(o.theta, "options.theta", 0.0, 1.0); !s) return s;
  if (Status s = check_closed_range(o.beta, "options.beta", 0.0, 1.0); !s) return s;
  if (o.max_sinks < 1) return invalid("options.max_sinks = " + std::to_string(o.max_sinks) + ": expected >= 1");
  if (o.head_mask.present()) {
    if (Status s = check_exact_tensor(o.head_mask, "options.head_mask", pr.device, DType::kUInt8, {pr.hq}, "[Hq]"); !s) {
      return s;
    }
  }
  return Status::ok();
}

/// Sets written by detect: count [B, Hq], index [B, Hq, max_sinks].
Status check_sink_sets_output(const Problem& pr, const ActOptions& o, const SinkSets& sets, const std::string& name) {
  if (Status s = check_required_tensor(sets.count, name + ".count", pr.device, DType::kInt32, {pr.batch, pr.hq},
                                       "[B, Hq]");
      !s)
    return s;
  return check_required_tensor(sets.index, name + ".index", pr.device, DType::kInt32, {pr.batch, pr.hq, o.max_sinks},
                               "[B, Hq, options.max_sinks]");
}

/// Sets given by the caller: count [B, Hq], index [B, Hq, K] for any K; on the host every
/// count in [0, K] and its entries strictly ascending key positions in [0, Sk_b).
Status check_sink_sets_input(const Problem& pr, const SinkSets& sets) {
  if (Status s = check_required_tensor(sets.count, "sets.count", pr.device, DType::kInt32, {pr.batch, pr.hq}, "[B, Hq]");
      !s)
    return s;
  const TensorView& x = sets.index;
  if (!x.present()) return invalid("sets.index: required, got an absent tensor");
  if (Status s = detail::check_tensor_view(x, "sets.index", pr.device); !s) return s;
  if (x.dtype != DType::kInt32) return invalid(std::string("sets.index: expected dtype int32, got ") + dtype_name(x.dtype));
  if (x.rank != 3 || x.shape[0] != pr.batch || x.shape[1] != pr.hq) {
    return invalid("sets.index: expected shape [B, Hq, K] = [" + std::to_string(pr.batch) + ", " + std::to_string(pr.hq) +
                   ", K], got " + detail::shape_string(x));
  }
  if (pr.device != DeviceKind::kHost) return Status::ok();  // device sets cannot be read here
  const TensorView& c = sets.count;
  const int32_t* pc = static_cast<const int32_t*>(c.data);
  const int32_t* px = static_cast<const int32_t*>(x.data);
  for (int64_t b = 0; b < pr.batch; ++b) {
    for (int64_t h = 0; h < pr.hq; ++h) {
      // Built piecewise: GCC 12 warns (-Wrestrict, a false positive) on "[" + to_string(...).
      std::string where = "[";
      where += std::to_string(b) + ", " + std::to_string(h) + "]";
      const int64_t count = pc[b * c.stride[0] + h * c.stride[1]];
      if (count < 0 || count > x.shape[2]) {
        return invalid("sets.count" + where + " = " + std::to_string(count) + ": expected in [0, " +
                       std::to_string(x.shape[2]) + "] (K, the last dim of sets.index)");
      }
      int64_t prev = -1;
      for (int64_t e = 0; e < count; ++e) {
        const int64_t j = px[b * x.stride[0] + h * x.stride[1] + e * x.stride[2]];
        if (j < 0 || j >= pr.sk[b]) {
          return invalid("sets.index" + where + "[" + std::to_string(e) + "] = " + std::to_string(j) +
                         ": expected a key position in [0, Sk_b = " + std::to_string(pr.sk[b]) + ")");
        }
        if (j <= prev) {
          return invalid("sets.index" + where + "[" + std::to_string(e) + "] = " + std::to_string(j) +
                         ": expected strictly ascending positions (previous is " + std::to_string(prev) + ")");
        }
        prev = j;
      }
    }
  }
  return Status::ok();
}

}  // namespace

Status attention_stats(const AttentionParams& params, const StatsOutputs& out) {
  Problem pr;
  if (Status s = detail::validate_attention(params, CallKind::kStats, &pr); !s) return s;
  if (Status s = detail::refuse_fp8_kv_cache(pr, "attention_stats"); !s) return s;
  if (Status s = check_stats_outputs(pr, out); !s) return s;
  if (pr.device != DeviceKind::kHost) {
#ifdef ATTNKIT_WITH_CUDA
    return cuda_backend::attention_stats_device(pr, params, out);
#else
    return detail::device_path_not_implemented("attention_stats");
#endif
  }
  return reference::attention_stats(pr, params, out);
}

Status act_detect(const AttentionParams& params, const ActOptions& options, const SinkSets& out) {
  Problem pr;
  if (Status s = detail::validate_attention(params, CallKind::kStats, &pr); !s) return s;
  if (Status s = detail::refuse_fp8_kv_cache(pr, "act_detect"); !s) return s;
  if (Status s = check_act_options(pr, options); !s) return s;
  if (Status s = check_sink_sets_output(pr, options, out, "out"); !s) return s;
  if (pr.device != DeviceKind::kHost) {
#ifdef ATTNKIT_WITH_CUDA
    return cuda_backend::act_detect_device(pr, params, options, out);
#else
    return detail::device_path_not_implemented("act_detect");
#endif
  }
  reference::write_sink_sets(pr, reference::act_detect(pr, params, options), out);
  return Status::ok();
}

Status act_forward(const AttentionParams& params, const ActOptions& options, const SinkSets* detected) {
  Problem pr;
  if (Status s = detail::validate_attention(params, CallKind::kForward, &pr); !s) return s;
  if (Status s = detail::refuse_fp8_kv_cache(pr, "act_forward"); !s) return s;
  if (Status s = check_act_options(pr, options); !s) return s;
  if (detected != nullptr) {
    if (Status s = check_sink_sets_output(pr, options, *detected, "detected"); !s) return s;
  }
  if (pr.device != DeviceKind::kHost) {
#ifdef ATTNKIT_WITH_CUDA
    return cuda_backend::act_forward_device(pr, params, options, detected, /*given_sets=*/nullptr);
#else
    return detail::device_path_not_implemented("act_forward");
#endif
  }
  const reference::SinkSetList sets = reference::act_detect(pr, params, options);
  if (detected != nullptr) reference::write_sink_sets(pr, sets, *detected);
  return reference::act_forward(pr, params, options, sets);
}

Status act_forward_with_sets(const AttentionParams& params, const ActOptions& options, const SinkSets& sets) {
  Problem pr;
  if (Status s = detail::validate_attention(params, CallKind::kForward, &pr); !s) return s;
  if (Status s = detail::refuse_fp8_kv_cache(pr, "act_forward_with_sets"); !s) return s;
  if (Status s = check_act_options(pr, options); !s) return s;
  if (Status s = check_sink_sets_input(pr, sets); !s) return s;
  if (pr.device != DeviceKind::kHost) {
#ifdef ATTNKIT_WITH_CUDA
    return cuda_backend::act_forward_device(pr, params, options, /*detected=*/nullptr, &sets);
#else
    return detail::device_path_not_implemented("act_forward_with_sets");
#endif
  }
  return reference::act_forward(pr, params, options, reference::read_sink_sets(pr, options, sets));
}

}  // namespace attnkit
