// Decode kernel instance: head dim 256, bf16. Every feature is a runtime flag inside.
#include "cuda/decode/decode_launch_template.cuh"

ATTNKIT_INSTANTIATE_DECODE(/*kHeadDim=*/256, /*kIsBf16=*/true, /*kKvFp8=*/false)
