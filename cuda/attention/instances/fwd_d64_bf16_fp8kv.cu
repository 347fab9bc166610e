// Forward kernel instance: head dim 64, bf16 Q / O, FP8 (E4M3 or E5M2) K / V cache. Every
// feature is a runtime flag inside.
#include "cuda/attention/launch_template.cuh"

ATTNKIT_INSTANTIATE_FWD(/*kHeadDim=*/64, /*kIsBf16=*/true, /*kKvFp8=*/true)
