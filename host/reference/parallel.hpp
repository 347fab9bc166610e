// A small std::thread parallel-for for the CPU backend (work is split over (b, h)).
#pragma once

#include <cstdint>
#include <functional>

namespace attnkit::reference {

/// \brief Calls fn(i) for i in [0, n) on up to hardware_concurrency threads. fn must not
/// throw; items are handed out dynamically so uneven sequence lengths balance.
void parallel_for(int64_t n, const std::function<void(int64_t)>& fn);

}  // namespace attnkit::reference
