#!/usr/bin/env bash
# GPU check of a build made on a machine without a GPU, run on one that has it.
#
# Here (no GPU needed):
#   cmake -S . -B build-gpu -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 -DATTNKIT_BUILD_TESTS=ON
#   ninja -C build-gpu -j2
#   mkdir -p peers && cp ../shared/peers/bench_peers.py peers/   # peers/ is git-ignored
# There (the device tool: carry build-gpu and peers; gtest is linked statically and
# libbenchmark is copied beside bench_attention, so nothing needs installing):
#   tools/gpu-check.sh build-gpu [--quick]
# Runs every test binary, compute-sanitizer memcheck and racecheck over a filtered CUDA
# test run, the benchmarks (JSON) and peers/bench_peers.py (JSON), writes logs to $OUT
# (default ./gpu-check-out; at most 8 files: tests.log, sanitizer.log, bench.log,
# bench_attention.json, bench_decode.json, peers.log, peers.json, summary.md) and prints a
# markdown summary table last.
# --quick: fewer benchmarks and peer cases. Exit status: 0 when every step passed.
set -u
BUILD=${1:?usage: tools/gpu-check.sh BUILD_DIR [--quick]}
QUICK=${2:-}
BUILD=$(cd "$BUILD" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
export LD_LIBRARY_PATH="$BUILD:$BUILD/bench:${LD_LIBRARY_PATH:-}"
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
CUDA_TESTS="$BUILD/tests/cuda/attnkit_cuda_tests"
ROWS=()
FAILED=0
row() { ROWS+=("| $1 | $2 | $3 |"); [ "$2" = pass ] || [ "$2" = skipped ] || FAILED=1; }

nvidia-smi -L 2>&1 | tee "$OUT/tests.log"

# 1. Every gtest binary of the build.
for bin in $(find "$BUILD/tests" -maxdepth 2 -type f -perm -u+x -name 'attnkit_*tests' | sort); do
  name=$(basename "$bin")
  echo "== $name" >> "$OUT/tests.log"
  if "$bin" --gtest_brief=1 >> "$OUT/tests.log" 2>&1; then status=pass; else status=FAIL; fi
  summary=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$OUT/tests.log" | tail -3 | tr '\n' ' ')
  row "$name" "$status" "${summary:-see tests.log}"
done

# 2. compute-sanitizer over a short, representative slice of the CUDA tests.
FILTER='Features/*.MatchesCpuReference/causal_sq_gt_sk_empty_rows_d128_bf16:Features/*/varlen_with_empty_d64_fp16:Features/*/block_mask_64x128_causal_d128_bf16:Features/*/everything_d256_bf16:Features/*/streaming_llm_d64_bf16:CudaBlockMask.*'
FILTER+=':Decode/*/paged256_everything_d128_bf16:Decode/*/paged256_varlen_q_d64_fp16:Decode/*/long_many_splits_d256_bf16:Decode/*/sq16_causal_gqa8_row_chunks_d128_fp16'
if [ -x "$CUDA_TESTS" ]; then
  : > "$OUT/sanitizer.log"
  for tool in memcheck racecheck; do
    log=$(mktemp)
    if "$SANITIZER" --tool "$tool" --error-exitcode 99 "$CUDA_TESTS" --gtest_filter="$FILTER" > "$log" 2>&1; then
      row "compute-sanitizer $tool" pass "$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$log" | tail -1)"
    else
      row "compute-sanitizer $tool" FAIL "$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|FAILED' "$log" | tail -2 | tr '\n' ' ')"
    fi
    { echo "== $tool"; cat "$log"; } >> "$OUT/sanitizer.log"
    rm -f "$log"
  done
fi

# 3. Benchmarks.
if [ -x "$BUILD/bench/bench_attention" ]; then
  filter='.'
  [ "$QUICK" = --quick ] && filter='dense/d128/s(1024|8192)|features/(plain|all)|block_sparse/s8192|unfused_cublas/d128/s8192'
  if "$BUILD/bench/bench_attention" --benchmark_filter="$filter" --benchmark_min_time=0.1 \
       --benchmark_out="$OUT/bench_attention.json" --benchmark_out_format=json > "$OUT/bench.log" 2>&1; then
    row bench_attention pass "$(grep -c 'TFLOP/s' "$OUT/bench.log") results in bench_attention.json"
  else
    row bench_attention FAIL "see bench.log"
  fi
fi

# 3b. Decode benchmarks (GB/s against the measured copy bandwidth); log appended to bench.log.
if [ -x "$BUILD/bench/bench_decode" ]; then
  filter='.'
  [ "$QUICK" = --quick ] && filter='decode/(contiguous|paged16)/b(1|64)/sk(16384|32768)|decode_features/contiguous/(plain|all)'
  if "$BUILD/bench/bench_decode" --benchmark_filter="$filter" --benchmark_min_time=0.1 \
       --benchmark_out="$OUT/bench_decode.json" --benchmark_out_format=json >> "$OUT/bench.log" 2>&1; then
    row bench_decode pass "$(grep -c 'GB/s' "$OUT/bench.log") results in bench_decode.json"
  else
    row bench_decode FAIL "see bench.log"
  fi
fi

# 3c. Statistics / planner benchmarks (stats pass vs dense, SparseD, Rectified SpaAttn);
# console output appended to bench.log (no new file: $OUT keeps at most 8 files).
if [ -x "$BUILD/bench/bench_stats" ]; then
  filter='.'
  [ "$QUICK" = --quick ] && filter='stats_pass/.*/s4096|sparsed_(build|sparse_step)/rho0.3/s16384'
  if "$BUILD/bench/bench_stats" --benchmark_filter="$filter" >> "$OUT/bench.log" 2>&1; then
    row bench_stats pass "$(grep -c -E '^(stats_pass|sparsed_|rectified/)' "$OUT/bench.log") results in bench.log"
  else
    row bench_stats FAIL "see bench.log"
  fi
fi

# 4. Peers (PyTorch SDPA / FlexAttention / cuBLAS) on the same shapes.
if [ -f "$ROOT/peers/bench_peers.py" ]; then
  args=(--json "$OUT/peers.json")
  [ "$QUICK" = --quick ] && args+=(--quick)
  if PYTHONUNBUFFERED=1 python3 "$ROOT/peers/bench_peers.py" "${args[@]}" > "$OUT/peers.log" 2>&1; then
    row bench_peers pass "rows in peers.json"
  else
    row bench_peers FAIL "see peers.log"
  fi
else
  row bench_peers skipped "no peers/bench_peers.py"
fi

{
  echo
  echo "| step | result | details |"
  echo "|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
  if [ -f "$OUT/bench.log" ]; then
    echo
    echo "| benchmark | ms | TFLOP/s |"
    echo "|---|---:|---:|"
    awk '/TFLOP\/s/ { for (i = 1; i <= NF; ++i) if ($i ~ /TFLOP\/s=/) { sub("TFLOP/s=", "", $i); t = $i }
                       printf "| %s | %s | %s |\n", $1, $2, t }' "$OUT/bench.log"
    if grep -q 'copy_GB/s' "$OUT/bench.log"; then
      echo
      echo "| decode benchmark | us | GB/s | of copy |"
      echo "|---|---:|---:|---:|"
      awk '/copy_GB\/s/ { g = ""; r = ""
             for (i = 1; i <= NF; ++i) { if ($i ~ /^GB\/s=/) { g = $i; sub("GB/s=", "", g) }
                                         if ($i ~ /^of_copy=/) { r = $i; sub("of_copy=", "", r) } }
             printf "| %s | %s | %s | %s |\n", $1, $2, g, r }' "$OUT/bench.log"
    fi
  fi
} | tee "$OUT/summary.md"
exit $FAILED
