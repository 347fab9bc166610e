// Forward kernel instance: head dim 256, fp16. Every variant is a runtime flag inside.
#include "cuda/attention/launch_template.cuh"

ATTNKIT_INSTANTIATE_FWD(/*kHeadDim=*/256, /*kIsBf16=*/false, /*kKvFp8=*/false)
