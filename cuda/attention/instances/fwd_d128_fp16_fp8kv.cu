// Forward kernel instance: head dim 128, fp16 Q / O, FP8 (E4M3 or E5M2) K / V cache. Every
// feature is a runtime flag inside.
#include "cuda/attention/launch_template.cuh"

ATTNKIT_INSTANTIATE_FWD(/*kHeadDim=*/128, /*kIsBf16=*/false, /*kKvFp8=*/true)
