/* attnkit from C: a causal GQA attention call with a learned per-head sink (gpt-oss) and
 * a headwise sigmoid output gate (Gated Attention), on host float32 tensors.
 *
 * It shows the C API's pattern: init the params struct (C++ defaults), describe each
 * tensor with attnkit_tensor_contiguous, call, check the status, read
 * attnkit_last_error() on failure. One output row is recomputed here by hand from
 * SPEC.md's formulas as a check. Exits 0 on success. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "attnkit/attnkit.h"

enum {
  kBatch = 2,
  kSeqQ = 16,
  kSeqK = 16,
  kHeadsQ = 8,
  kHeadsKv = 2, /* GQA: 4 query heads share one kv head */
  kHeadDim = 64
};

/* A small deterministic generator, so the example needs nothing but libc. */
static float next_uniform(uint32_t* state) {
  *state = *state * 1664525u + 1013904223u;
  return (float)(*state >> 8) / 16777216.0f * 2.0f - 1.0f; /* [-1, 1) */
}

static float* make_random(size_t count, uint32_t* state) {
  float* p = (float*)malloc(count * sizeof(float));
  size_t i;
  if (p == NULL) return NULL;
  for (i = 0; i < count; ++i) p[i] = next_uniform(state);
  return p;
}

static int check(attnkit_status status, const char* what) {
  if (status == ATTNKIT_STATUS_OK) return 1;
  fprintf(stderr, "%s failed (status %d): %s\n", what, (int)status, attnkit_last_error());
  return 0;
}

/* SPEC 2-6 for one (b, i, h): causal keys j <= i + Sk - Sq, the sink in the softmax
 * denominator, then y = o * sigmoid(g). Row-major [B, S, H, D] layouts. */
static double max_row_error(const float* q, const float* k, const float* v, const float* o, const float* sink,
                            const float* gate, int b, int i, int h) {
  const int kv_head = h / (kHeadsQ / kHeadsKv);
  const int last_key = i + kSeqK - kSeqQ;
  const double scale = 1.0 / sqrt((double)kHeadDim);
  const float* qi = q + (((size_t)b * kSeqQ + i) * kHeadsQ + h) * kHeadDim;
  double logits[kSeqK], row_max = sink[h], denominator, out, gate_value, worst = 0.0;
  int j, d;
  for (j = 0; j <= last_key; ++j) {
    const float* kj = k + (((size_t)b * kSeqK + j) * kHeadsKv + kv_head) * kHeadDim;
    double dot = 0.0;
    for (d = 0; d < kHeadDim; ++d) dot += (double)qi[d] * kj[d];
    logits[j] = scale * dot;
    if (logits[j] > row_max) row_max = logits[j];
  }
  denominator = exp(sink[h] - row_max); /* the sink: a virtual key with value 0 */
  for (j = 0; j <= last_key; ++j) denominator += exp(logits[j] - row_max);
  gate_value = 1.0 / (1.0 + exp(-(double)gate[((size_t)b * kSeqQ + i) * kHeadsQ + h]));
  for (d = 0; d < kHeadDim; ++d) {
    double err;
    out = 0.0;
    for (j = 0; j <= last_key; ++j) {
      out += exp(logits[j] - row_max) / denominator *
             v[(((size_t)b * kSeqK + j) * kHeadsKv + kv_head) * kHeadDim + d];
    }
    err = fabs(out * gate_value - o[(((size_t)b * kSeqQ + i) * kHeadsQ + h) * kHeadDim + d]);
    if (err > worst) worst = err;
  }
  return worst;
}

int main(void) {
  const int64_t q_shape[4] = {kBatch, kSeqQ, kHeadsQ, kHeadDim};
  const int64_t kv_shape[4] = {kBatch, kSeqK, kHeadsKv, kHeadDim};
  const int64_t lse_shape[3] = {kBatch, kHeadsQ, kSeqQ};
  const int64_t gate_shape[3] = {kBatch, kSeqQ, kHeadsQ}; /* headwise: one gate per (token, head) */
  const int64_t head_shape[1] = {kHeadsQ};
  const size_t q_count = (size_t)kBatch * kSeqQ * kHeadsQ * kHeadDim;
  const size_t kv_count = (size_t)kBatch * kSeqK * kHeadsKv * kHeadDim;
  uint32_t state = 2024u;
  float* q = make_random(q_count, &state);
  float* k = make_random(kv_count, &state);
  float* v = make_random(kv_count, &state);
  float* gate = make_random((size_t)kBatch * kSeqQ * kHeadsQ, &state);
  float* o = (float*)calloc(q_count, sizeof(float));
  float* lse = (float*)calloc((size_t)kBatch * kHeadsQ * kSeqQ, sizeof(float));
  float sink[kHeadsQ];
  char description[512];
  size_t description_length = 0;
  attnkit_attention_params params;
  double worst = 0.0;
  int ok = 1, h;

  if (!q || !k || !v || !gate || !o || !lse) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  for (h = 0; h < kHeadsQ; ++h) sink[h] = 0.5f * (float)h - 1.0f; /* learned per-head sink logits */

  attnkit_attention_params_init(&params);
  params.q = attnkit_tensor_contiguous(q, ATTNKIT_DTYPE_FLOAT32, 4, q_shape, ATTNKIT_DEVICE_HOST);
  params.k = attnkit_tensor_contiguous(k, ATTNKIT_DTYPE_FLOAT32, 4, kv_shape, ATTNKIT_DEVICE_HOST);
  params.v = attnkit_tensor_contiguous(v, ATTNKIT_DTYPE_FLOAT32, 4, kv_shape, ATTNKIT_DEVICE_HOST);
  params.o = attnkit_tensor_contiguous(o, ATTNKIT_DTYPE_FLOAT32, 4, q_shape, ATTNKIT_DEVICE_HOST);
  params.lse = attnkit_tensor_contiguous(lse, ATTNKIT_DTYPE_FLOAT32, 3, lse_shape, ATTNKIT_DEVICE_HOST);
  params.causal = 1;
  params.sink_logit = attnkit_tensor_contiguous(sink, ATTNKIT_DTYPE_FLOAT32, 1, head_shape, ATTNKIT_DEVICE_HOST);
  params.gate.g = attnkit_tensor_contiguous(gate, ATTNKIT_DTYPE_FLOAT32, 3, gate_shape, ATTNKIT_DEVICE_HOST);
  params.gate.activation = ATTNKIT_GATE_SIGMOID;

  printf("attnkit %s\n", attnkit_version());
  ok = check(attnkit_explain(&params, description, sizeof(description), &description_length), "attnkit_explain");
  if (ok) printf("explain: %s%s\n", description, description_length >= sizeof(description) ? "..." : "");
  ok = ok && check(attnkit_forward(&params), "attnkit_forward");
  if (ok) {
    printf("o[0, 0, 0, 0:4]  = %.6f %.6f %.6f %.6f\n", o[0], o[1], o[2], o[3]);
    printf("lse[1, 7, 15]    = %.6f\n", lse[((size_t)1 * kHeadsQ + 7) * kSeqQ + 15]);
    worst = max_row_error(q, k, v, o, sink, gate, 0, 0, 0);
    if (max_row_error(q, k, v, o, sink, gate, 1, kSeqQ - 1, kHeadsQ - 1) > worst) {
      worst = max_row_error(q, k, v, o, sink, gate, 1, kSeqQ - 1, kHeadsQ - 1);
    }
    printf("max |o - hand-computed| over two rows = %.3g\n", worst);
    if (!(worst < 1e-4)) {
      fprintf(stderr, "the output disagrees with the hand-computed rows\n");
      ok = 0;
    }
  }

  /* A bad call: the error names the argument, and the library stays usable. */
  params.gate.activation = 7;
  if (attnkit_forward(&params) != ATTNKIT_STATUS_INVALID_ARGUMENT) {
    fprintf(stderr, "a bad gate activation was not rejected\n");
    ok = 0;
  } else {
    printf("rejected as expected: %s\n", attnkit_last_error());
  }

  free(q);
  free(k);
  free(v);
  free(gate);
  free(o);
  free(lse);
  printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
