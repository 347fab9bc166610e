// The C entry points of attnkit_merge.h: the plain C struct is checked and converted with the
// helpers of c_api_convert.hpp, then attnkit::merge_states runs; its Status becomes a code and
// the thread-local last error. No exception leaves this file.
#include "attnkit/attnkit_merge.h"

#include <string>
#include <vector>

#include "attnkit/merge.hpp"
#include "host/c_api_convert.hpp"

using attnkit::GateActivation;
using attnkit::MergeStatesParams;
using attnkit::Status;
using attnkit::TensorView;
using attnkit::c_api_detail::guarded;
using attnkit::c_api_detail::invalid;
using attnkit::c_api_detail::require;
using attnkit::c_api_detail::to_c;
using attnkit::c_api_detail::to_cpp;

namespace {

/// Converts `count` C views of `array` (named array[k]); a null array is left to the C++
/// validation, which names it.
Status convert_parts(const attnkit_tensor* array, int count, const char* name, std::vector<TensorView>* out) {
  out->clear();
  if (array == nullptr || count <= 0) return Status::ok();
  out->resize(static_cast<size_t>(count));
  for (int k = 0; k < count; ++k) {
    const std::string element = std::string(name) + "[" + std::to_string(k) + "]";
    if (Status s = to_cpp(array[k], element.c_str(), &(*out)[static_cast<size_t>(k)]); !s) return s;
  }
  return Status::ok();
}

}  // namespace

extern "C" {

void attnkit_merge_states_params_init(attnkit_merge_states_params* params) {
  if (params == nullptr) return;
  const MergeStatesParams d{};
  params->o_parts = nullptr;
  params->lse_parts = nullptr;
  params->num_parts = d.num_parts;
  params->o = to_c(d.o);
  params->lse = to_c(d.lse);
  params->sink_logit = to_c(d.sink_logit);
  params->gate.g = to_c(d.gate.g);
  params->gate.activation = static_cast<int>(d.gate.activation);
  params->stream = d.stream;
}

attnkit_status attnkit_merge_states(const attnkit_merge_states_params* params) {
  return guarded([&] {
    if (Status s = require(params, "params"); !s) return s;
    std::vector<TensorView> o_parts, lse_parts;
    if (Status s = convert_parts(params->o_parts, params->num_parts, "o_parts", &o_parts); !s) return s;
    if (Status s = convert_parts(params->lse_parts, params->num_parts, "lse_parts", &lse_parts); !s) return s;
    MergeStatesParams p;
    p.o_parts = params->o_parts != nullptr && params->num_parts > 0 ? o_parts.data() : nullptr;
    p.lse_parts = params->lse_parts != nullptr && params->num_parts > 0 ? lse_parts.data() : nullptr;
    p.num_parts = params->num_parts;
    if (Status s = to_cpp(params->o, "o", &p.o); !s) return s;
    if (Status s = to_cpp(params->lse, "lse", &p.lse); !s) return s;
    if (Status s = to_cpp(params->sink_logit, "sink_logit", &p.sink_logit); !s) return s;
    if (Status s = to_cpp(params->gate.g, "gate.g", &p.gate.g); !s) return s;
    const int activation = params->gate.activation;
    if (activation != static_cast<int>(GateActivation::kSigmoid) &&
        activation != static_cast<int>(GateActivation::kIdentity)) {
      return invalid("gate.activation = " + std::to_string(activation) +
                     ": expected an attnkit_gate_activation value in [0, " + std::to_string(ATTNKIT_GATE_IDENTITY) + "]");
    }
    p.gate.activation = static_cast<GateActivation>(activation);
    p.stream = params->stream;
    return attnkit::merge_states(p);
  });
}

}  // extern "C"
