// Forward kernel instance: head dim 256, bf16. Every variant is a runtime flag inside.
#include "cuda/attention/launch_template.cuh"

ATTNKIT_INSTANTIATE_FWD(/*kHeadDim=*/256, /*kIsBf16=*/true, /*kKvFp8=*/false)
