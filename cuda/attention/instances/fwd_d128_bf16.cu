// Forward kernel instance: head dim 128, bf16. Every variant is a runtime flag inside.
#include "cuda/attention/launch_template.cuh"

ATTNKIT_INSTANTIATE_FWD(/*kHeadDim=*/128, /*kIsBf16=*/true, /*kKvFp8=*/false)
