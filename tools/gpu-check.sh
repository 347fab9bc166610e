#!/usr/bin/env bash
# GPU check of a build made on a machine without a GPU, run on one that has it, within one
# 10-minute device call (machine start included, so the steps' budgets add up to 540 s).
#
# Here (no GPU needed):
#   cmake -S . -B build-gpu -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 -DATTNKIT_BUILD_TESTS=ON
#   ninja -C build-gpu -j2
#   mkdir -p peers && cp ../shared/peers/bench_peers.py peers/   # peers/ is git-ignored
#   tools/gpu-check.sh --dry-run build-gpu   # the plan, budgets and total; runs nothing
# There (the device tool: carry build-gpu and peers; gtest is linked statically and
# libbenchmark is copied beside the benchmarks, so nothing needs installing):
#   tools/gpu-check.sh build-gpu
#
# Steps, in this order, each under `timeout` with its own budget (a step that runs out is
# reported as TIMEOUT and the script goes on with the next one):
#   1. correctness: nvidia-smi; attnkit_cuda_tests in three slices (forward, decode, the
#      rest: a hang costs one slice, not the suite); every other gtest binary of the build;
#   2. quick benchmarks: bench_attention, bench_decode, bench_stats (short filters) and
#      peers/bench_peers.py --quick;
#   3. compute-sanitizer memcheck, racecheck and synccheck over small CUDA test slices;
#   4. tools/bench_plot (when built): bench.svg and the benchmark tables of summary.md.
# A step gets SIGTERM a few seconds before its budget and SIGKILL at it; no step starts
# past --limit (600 s) after the script started. summary.md is rewritten after every step,
# so a run cut short still reports what it did. $OUT (default ./gpu-check-out) holds at
# most 9 files: summary.md, tests.log, sanitizer.log, bench.log, bench_attention.json,
# bench_decode.json, peers.log, peers.json, bench.svg.
#
# Usage: tools/gpu-check.sh [--dry-run] [--full] [--limit S] BUILD_DIR
#   --dry-run  print the planned steps (budget, rough expected time, whether the program is
#              there) and "planned total: N s (limit L s)"; exit 1 when N > L. Runs nothing.
#   --full     every benchmark and peer case, longer budgets (about 47 min: not one device call).
#   --limit S  wall-clock limit in seconds (default 600; 3600 with --full).
#   --quick    accepted for compatibility: the default.
# Exit status: 0 when every step passed or was skipped (a missing program is skipped).
set -u

usage() { sed -n '/^# Usage:/,/^# Exit status/p' "$0" | sed 's/^# \{0,1\}//'; }

BUILD="" DRY=0 MODE=quick LIMIT=""
while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) DRY=1 ;;
    --quick) MODE=quick ;;
    --full) MODE=full ;;
    --limit) LIMIT=${2:?--limit needs seconds}; shift ;;
    --limit=*) LIMIT=${1#--limit=} ;;
    -h | --help) usage; exit 0 ;;
    -*) echo "gpu-check: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) [ -z "$BUILD" ] || { echo "gpu-check: one BUILD_DIR only" >&2; exit 2; }; BUILD=$1 ;;
  esac
  shift
done
[ -n "$LIMIT" ] || { [ "$MODE" = full ] && LIMIT=3600 || LIMIT=600; }
case $LIMIT in '' | *[!0-9]*) echo "gpu-check: --limit wants whole seconds" >&2; exit 2 ;; esac
if [ -z "$BUILD" ] && [ "$DRY" = 0 ]; then usage >&2; exit 2; fi
[ -d "$BUILD" ] && BUILD=$(cd "$BUILD" && pwd)
[ -n "$BUILD" ] || BUILD=BUILD_DIR  # dry run without a build: every program "missing"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SANITIZER=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
CUDA_TESTS="$BUILD/tests/cuda/attnkit_cuda_tests"

# ---- the plan ----------------------------------------------------------------------------
# One step: name, budget (s), expected (s, a guess until a GPU run says otherwise), phase,
# program, runner function, argument (a gtest or benchmark filter, or a tool name).
S_NAME=() S_BUDGET=() S_EXPECT=() S_PHASE=() S_PROG=() S_RUN=() S_ARG=()
add_step() {
  S_NAME+=("$1") S_BUDGET+=("$2") S_EXPECT+=("$3") S_PHASE+=("$4") S_PROG+=("$5") S_RUN+=("$6") S_ARG+=("${7:-}")
}

# gtest slices of attnkit_cuda_tests. Parameterised names: Features/CudaForwardVsReference.
# MatchesCpuReference/<case>_d<D>_<dtype>, Decode/CudaDecodeVsReference.MatchesCpuReference/...
FWD='Features/CudaForwardVsReference.*'
DEC='Decode/*:CudaDecode*'
# Sanitizer slices: memcheck (every access checked) gets a wider one than racecheck and
# synccheck, which are several times slower on the shared-memory-heavy kernels.
MEMCHECK_FILTER='Features/*.MatchesCpuReference/causal_sq_gt_sk_empty_rows_d128_bf16:Features/*/varlen_with_empty_d64_fp16'
MEMCHECK_FILTER+=':Features/*/block_mask_64x128_causal_d128_bf16:Features/*/everything_d256_bf16:Features/*/streaming_llm_d64_bf16'
MEMCHECK_FILTER+=':CudaBlockMask.*:Decode/*/paged*_everything_d128_bf16:Decode/*/paged*_varlen_q_d64_fp16'
MEMCHECK_FILTER+=':Decode/*/long_many_splits_d256_bf16:Decode/*/sq16_causal_gqa8_row_chunks_d128_fp16'
MEMCHECK_FILTER+=':Features/CudaStats.*/block_mask_64_causal_hm2_d128_*:Features/CudaAct.*/act_causal_gqa_lse_*'
SYNC_FILTER='Features/*/everything_d128_bf16:Features/*/varlen_with_empty_d64_fp16'
SYNC_FILTER+=':Decode/*/paged*_everything_d128_bf16:Decode/*/sq16_causal_gqa8_row_chunks_d128_fp16'
SYNC_FILTER+=':Features/CudaStats.*/block_mask_64_causal_hm2_d128_bf16'

if [ "$MODE" = quick ]; then
  # Benchmark names end in /min_time:... or /iterations:3, then /manual_time.
  ATT_FILTER='^(dense/d(64|128|256)/s(1024|2048|8192|16384)|dense_mma_sync/d128/s(2048|8192)|gqa64_8/d128/s(2048|8192|16384)|features/(plain|all)|block_sparse/s8192/density(25|100)|unfused_cublas/d128/s(1024|8192)/(full|causal))(/|$)'
  DEC_FILTER='^(decode(_fp8)?/(contiguous|paged16)/b(1|64)/sk(1024|4096|16384|32768)|decode_features/contiguous/(plain|all))(/|$)'
  STATS_FILTER='^(stats_pass/.*/s4096|sparsed_(build|sparse_step)/rho0.3/s16384)(/|$)'
  B_ATT=45 B_DEC=30 B_STATS=30 B_PEERS=110 E_ATT=20 E_DEC=10 E_STATS=15 E_PEERS=90
else
  ATT_FILTER='.' DEC_FILTER='.' STATS_FILTER='.'
  B_ATT=300 B_DEC=240 B_STATS=420 B_PEERS=1500 E_ATT=150 E_DEC=100 E_STATS=240 E_PEERS=1000
fi

add_step "gpu info (nvidia-smi)" 5 1 correctness "$(command -v nvidia-smi || echo nvidia-smi)" step_info
add_step "attnkit_cuda_tests [forward]" 50 20 correctness "$CUDA_TESTS" step_gtest "$FWD"
add_step "attnkit_cuda_tests [decode]" 30 10 correctness "$CUDA_TESTS" step_gtest "$DEC"
add_step "attnkit_cuda_tests [rest]" 40 20 correctness "$CUDA_TESTS" step_gtest "-$FWD:$DEC"
# Every other gtest binary: the ones this build has, and the known ones even if missing
# (so that a dry run without a build still plans them).
gtest_budget() {
  case $1 in
    attnkit_reference_tests | attnkit_api_tests | attnkit_planner_tests) echo "10 1" ;;
    attnkit_reliability_tests) echo "15 2" ;;
    attnkit_kernel_emulation_tests) echo "20 8" ;;  # CPU only; about 7 s on 2 cores
    *) echo "30 10" ;;
  esac
}
declare -A GTESTS=(
  [attnkit_reference_tests]=$BUILD/tests/attnkit_reference_tests
  [attnkit_api_tests]=$BUILD/tests/attnkit_api_tests
  [attnkit_planner_tests]=$BUILD/tests/attnkit_planner_tests
  [attnkit_reliability_tests]=$BUILD/tests/attnkit_reliability_tests
  [attnkit_kernel_emulation_tests]=$BUILD/tests/emulation/attnkit_kernel_emulation_tests)
if [ -d "$BUILD/tests" ]; then
  while IFS= read -r bin; do GTESTS[$(basename "$bin")]=$bin; done < <(
    find "$BUILD/tests" -maxdepth 2 -type f -perm -u+x -name 'attnkit_*tests' ! -name attnkit_cuda_tests)
fi
for name in $(printf '%s\n' "${!GTESTS[@]}" | sort); do
  read -r budget expect <<< "$(gtest_budget "$name")"
  add_step "$name" "$budget" "$expect" correctness "${GTESTS[$name]}" step_gtest ""
done
add_step bench_attention "$B_ATT" "$E_ATT" benchmarks "$BUILD/bench/bench_attention" step_bench "$ATT_FILTER"
add_step bench_decode "$B_DEC" "$E_DEC" benchmarks "$BUILD/bench/bench_decode" step_bench "$DEC_FILTER"
add_step bench_stats "$B_STATS" "$E_STATS" benchmarks "$BUILD/bench/bench_stats" step_bench "$STATS_FILTER"
add_step "bench_peers.py$([ "$MODE" = quick ] && echo ' --quick')" "$B_PEERS" "$E_PEERS" benchmarks \
  "$ROOT/peers/bench_peers.py" step_peers
add_step "compute-sanitizer memcheck" 55 30 sanitizers "$SANITIZER" step_sanitizer memcheck
add_step "compute-sanitizer racecheck" 50 30 sanitizers "$SANITIZER" step_sanitizer racecheck
add_step "compute-sanitizer synccheck" 25 12 sanitizers "$SANITIZER" step_sanitizer synccheck
add_step "bench_plot (bench.svg)" 5 1 plot "$BUILD/tools/bench_plot" step_plot

PLANNED=0
for b in "${S_BUDGET[@]}"; do PLANNED=$((PLANNED + b)); done

step_filter() {  # the filter or tool a step runs with, for the dry run
  case ${S_RUN[$1]} in
    step_sanitizer) [ "${S_ARG[$1]}" = memcheck ] && echo "$MEMCHECK_FILTER" || echo "$SYNC_FILTER" ;;
    step_peers) [ "$MODE" = quick ] && echo "--quick --json" || echo "--json" ;;
    *) echo "${S_ARG[$1]}" ;;
  esac
}

if [ "$DRY" = 1 ]; then
  echo "gpu-check plan: build $BUILD, $MODE mode, limit $LIMIT s (nothing runs)"
  printf '%3s  %-32s %-12s %7s %9s  %s\n' "#" step phase budget expected program
  declare -A PHASE_SUM=()
  EXPECTED=0
  for i in "${!S_NAME[@]}"; do
    prog=${S_PROG[$i]}
    if [ -e "$prog" ] || command -v "$prog" > /dev/null 2>&1; then where=$prog; else where="$prog (missing)"; fi
    [ "${S_RUN[$i]}" = step_sanitizer ] && [ ! -x "$CUDA_TESTS" ] && where+=" + attnkit_cuda_tests (missing)"
    printf '%3d  %-32s %-12s %5d s %7d s  %s\n' $((i + 1)) "${S_NAME[$i]}" "${S_PHASE[$i]}" \
      "${S_BUDGET[$i]}" "${S_EXPECT[$i]}" "$where"
    f=$(step_filter "$i")
    [ -n "$f" ] && [ "${S_RUN[$i]}" != step_info ] && printf '%3s  %s\n' "" "filter: ${f:0:150}$([ ${#f} -gt 150 ] && echo ...)"
    PHASE_SUM[${S_PHASE[$i]}]=$((${PHASE_SUM[${S_PHASE[$i]}]:-0} + S_BUDGET[i]))
    EXPECTED=$((EXPECTED + S_EXPECT[i]))
  done
  echo "budget by phase: correctness ${PHASE_SUM[correctness]} s, benchmarks ${PHASE_SUM[benchmarks]} s," \
    "sanitizers ${PHASE_SUM[sanitizers]} s, plot ${PHASE_SUM[plot]} s; expected about $EXPECTED s (a guess)"
  echo "planned total: $PLANNED s (limit $LIMIT s)"
  if [ "$PLANNED" -gt "$LIMIT" ]; then
    echo "gpu-check: the planned budgets exceed the limit by $((PLANNED - LIMIT)) s" >&2
    exit 1
  fi
  exit 0
fi

# ---- running -----------------------------------------------------------------------------
[ -d "$BUILD" ] || { echo "gpu-check: no build directory $BUILD" >&2; exit 2; }
OUT=${OUT:-$PWD/gpu-check-out}
mkdir -p "$OUT"
rm -f "$OUT"/{summary.md,tests.log,sanitizer.log,bench.log,bench_attention.json,bench_decode.json,peers.log,peers.json,bench.svg}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export LD_LIBRARY_PATH="$BUILD:$BUILD/bench:${LD_LIBRARY_PATH:-}"
START=$SECONDS
ROWS=() FAILED=0 CURRENT="" GPU_NAME="(no nvidia-smi)"

write_summary() {  # rewritten whole after every step; renamed into place
  {
    echo "# GPU check"
    echo
    echo "$GPU_NAME; build \`$BUILD\`; $MODE mode; budgets $PLANNED s of a $LIMIT s limit;" \
      "$((SECONDS - START)) s elapsed"
    [ -n "$CURRENT" ] && echo && echo "**Running now:** $CURRENT (a run cut short ends here)"
    echo
    echo "| step | result | s | budget s | details |"
    echo "|---|---|---:|---:|---|"
    [ ${#ROWS[@]} -gt 0 ] && printf '%s\n' "${ROWS[@]}"
    [ -s "$TMP/tables.md" ] && echo && cat "$TMP/tables.md"
    if [ -s "$OUT/peers.log" ] && grep -q '^| case | peer |' "$OUT/peers.log"; then
      echo
      echo "Peers (bench_peers.py):"
      echo
      sed -n '/^| case | peer |/,$p' "$OUT/peers.log" | grep '^|'
    fi
  } > "$OUT/.summary.md.tmp" && mv -f "$OUT/.summary.md.tmp" "$OUT/summary.md"
}

record() {  # name status seconds budget details
  local detail=${5//|//}
  ROWS+=("| $1 | $2 | $3 | $4 | $detail |")
  case $2 in pass | skipped*) ;; *) FAILED=1 ;; esac
  printf '%-32s %-8s %4s s  %s\n' "$1" "$2" "$3" "$detail"
}

# timed SECONDS LOG CMD...: CMD under timeout (SIGTERM a little before SECONDS, SIGKILL at
# SECONDS, to the whole process group), stdout and stderr to LOG. Sets RC and R_STATUS.
timed() {
  local secs=$1 log=$2 grace=5 t0=$SECONDS
  shift 2
  [ "$secs" -lt 20 ] && grace=1
  timeout --kill-after="$grace" "$((secs - grace))" "$@" < /dev/null > "$log" 2>&1
  RC=$?
  case $RC in
    0) R_STATUS=pass ;;
    124 | 137) [ $((SECONDS - t0)) -ge $((secs - grace - 1)) ] && R_STATUS=TIMEOUT || R_STATUS=FAIL ;;
    *) R_STATUS=FAIL ;;
  esac
}

# append LOG DEST HEADER: LOG without gtest's per-test RUN/OK lines, at most 1500 + 300 lines.
append() {
  local n
  n=$(grep -c -v -E '^\[ +(RUN|OK) +\] ' "$1")
  {
    echo "== $3 ($R_STATUS, exit $RC)"
    if [ "$n" -le 1800 ]; then
      grep -v -E '^\[ +(RUN|OK) +\] ' "$1"
    else
      grep -v -E '^\[ +(RUN|OK) +\] ' "$1" | head -n 1500
      echo "... $((n - 1800)) lines left out ..."
      grep -v -E '^\[ +(RUN|OK) +\] ' "$1" | tail -n 300
    fi
    [ "$R_STATUS" != pass ] && [ -n "$(last_unfinished "$1")" ] && echo "== stopped in: $(last_unfinished "$1")"
  } >> "$2"
}

last_unfinished() {  # LOG -> the test gtest started last when it has no result line
  local last
  last=$(grep -E '^\[ RUN      \] ' "$1" | tail -1 | sed 's/^\[ RUN      \] //')
  # A result line is "[       OK ] NAME (N ms)" or "[  FAILED  ] NAME, where GetParam() = ...".
  [ -n "$last" ] && ! grep -q -F -e "] $last (" -e "] $last, " "$1" && printf '%s' "$last"
}

gtest_counts() {  # LOG -> "P passed, F failed, S skipped[; stopped in TEST]"
  local p f s last
  p=$(grep -c -E '^\[       OK \] .*\([0-9]+ ms\)$' "$1")
  f=$(grep -c -E '^\[  FAILED  \] .*\([0-9]+ ms\)$' "$1")
  s=$(grep -c -E '^\[  SKIPPED \] .*\([0-9]+ ms\)$' "$1")
  printf '%s passed, %s failed, %s skipped' "$p" "$f" "$s"
  if [ "$f" -gt 0 ]; then
    printf ' (%s)' "$(grep -E '^\[  FAILED  \] .*\([0-9]+ ms\)$' "$1" | head -3 | sed -E 's/^\[  FAILED  \] //; s/,? where .*| \([0-9]+ ms\)$//' | paste -sd ' ')"
  fi
  last=$(last_unfinished "$1")
  [ "$R_STATUS" != pass ] && [ -n "$last" ] && printf '; stopped in %s' "$last"
}

step_info() {  # budget prog
  if ! command -v "$2" > /dev/null 2>&1; then R_STATUS=FAIL R_DETAIL="nvidia-smi not found"; return; fi
  timed "$1" "$TMP/step.log" "$2" --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
  { echo "== nvidia-smi"; cat "$TMP/step.log"; } >> "$OUT/tests.log"
  R_DETAIL=$(head -3 "$TMP/step.log" | paste -sd ';')
  [ "$R_STATUS" = pass ] && GPU_NAME=$(head -1 "$TMP/step.log" | cut -d, -f1)
}

step_gtest() {  # budget binary filter
  [ -x "$2" ] || { R_STATUS=skipped R_DETAIL="missing: $2"; return; }
  local args=()
  [ -n "$3" ] && args+=("--gtest_filter=$3")
  timed "$1" "$TMP/step.log" "$2" "${args[@]}"
  R_DETAIL=$(gtest_counts "$TMP/step.log")
  [ "$R_STATUS" = FAIL ] && ! grep -q -E '^\[  FAILED  \]' "$TMP/step.log" && R_DETAIL="exit $RC (crash?); $R_DETAIL"
  append "$TMP/step.log" "$OUT/tests.log" "$NAME"
}

step_bench() {  # budget binary filter
  [ -x "$2" ] || { R_STATUS=skipped R_DETAIL="missing: $2"; return; }
  local name json="" args=(--benchmark_filter="$3")
  name=$(basename "$2")
  # bench_stats' console output is enough (its JSON would be a 10th file).
  [ "$name" != bench_stats ] && json="$OUT/$name.json" && args+=(--benchmark_out="$json" --benchmark_out_format=json)
  timed "$1" "$TMP/step.log" "$2" "${args[@]}"
  { echo "== $name ($R_STATUS, exit $RC)"; cat "$TMP/step.log"; } >> "$OUT/bench.log"
  if grep -q '^no CUDA device' "$TMP/step.log"; then
    R_STATUS="skipped (no device)" R_DETAIL=$(grep -m1 '^no CUDA device' "$TMP/step.log")
    return
  fi
  local n errors
  n=$(grep -c -E '^[a-z_]+/[^ ]+ +[0-9.]+ [mun]?s ' "$TMP/step.log")
  errors=$(grep -c 'ERROR OCCURRED' "$TMP/step.log")
  R_DETAIL="$n results, $errors errors$([ -n "$json" ] && echo " in $name.json" || echo " in bench.log")"
  if [ "$errors" -gt 0 ] && [ "$R_STATUS" = pass ]; then  # SkipWithError: a failed call
    R_STATUS=FAIL
    R_DETAIL+="; $(grep -m1 'ERROR OCCURRED' "$TMP/step.log" | cut -c1-160)"
  fi
}

step_peers() {  # budget script
  [ -f "$2" ] || { R_STATUS=skipped R_DETAIL="no peers/bench_peers.py (cp ../shared/peers/bench_peers.py peers/)"; return; }
  command -v python3 > /dev/null || { R_STATUS=skipped R_DETAIL="no python3"; return; }
  local args=(--json "$OUT/peers.json")
  [ "$MODE" = quick ] && args+=(--quick)
  timed "$1" "$OUT/peers.log" env PYTHONUNBUFFERED=1 python3 "$2" "${args[@]}"
  if [ -f "$OUT/peers.json" ]; then
    R_DETAIL="$(grep -c '"case":' "$OUT/peers.json") rows ($(grep -c '"note": "n/a' "$OUT/peers.json") n/a) in peers.json"
  else
    R_DETAIL="no peers.json: $(tail -1 "$OUT/peers.log" | cut -c1-160)"
  fi
}

step_sanitizer() {  # budget compute-sanitizer tool
  [ -x "$2" ] || { R_STATUS=skipped R_DETAIL="no compute-sanitizer"; return; }
  [ -x "$CUDA_TESTS" ] || { R_STATUS=skipped R_DETAIL="missing: $CUDA_TESTS"; return; }
  local filter=$SYNC_FILTER
  [ "$3" = memcheck ] && filter=$MEMCHECK_FILTER
  timed "$1" "$TMP/step.log" "$2" --tool "$3" --error-exitcode 99 "$CUDA_TESTS" --gtest_filter="$filter"
  R_DETAIL="$(grep -E '(ERROR|RACECHECK) SUMMARY' "$TMP/step.log" | tail -2 | sed 's/^=* *//' | paste -sd ';'); $(gtest_counts "$TMP/step.log")"
  append "$TMP/step.log" "$OUT/sanitizer.log" "$NAME"
}

step_plot() {  # budget bench_plot
  [ -x "$2" ] || { R_STATUS=skipped R_DETAIL="bench_plot not built (ATTNKIT_BUILD_TESTS=OFF?)"; return; }
  local args=() f
  for f in attention:bench_attention decode:bench_decode peers:peers; do
    [ -s "$OUT/${f#*:}.json" ] && args+=("--${f%%:*}" "$OUT/${f#*:}.json")
  done
  [ ${#args[@]} -gt 0 ] || { R_STATUS=skipped R_DETAIL="no benchmark JSON to plot"; return; }
  timed "$1" "$TMP/step.log" "$2" "${args[@]}" -o "$OUT/bench.svg" --markdown "$TMP/tables.md"
  { echo "== bench_plot ($R_STATUS, exit $RC)"; cat "$TMP/step.log"; } >> "$OUT/bench.log"
  R_DETAIL=$(grep -E '^(bench_plot|warning):' "$TMP/step.log" | head -3 | paste -sd ';')
}

echo "gpu-check: $((${#S_NAME[@]})) steps, budgets $PLANNED s, limit $LIMIT s; logs in $OUT"
write_summary
for i in "${!S_NAME[@]}"; do
  NAME=${S_NAME[$i]} budget=${S_BUDGET[$i]}
  left=$((LIMIT - (SECONDS - START)))
  [ "$left" -lt "$budget" ] && budget=$left
  if [ "$budget" -lt 3 ]; then
    record "$NAME" "skipped (limit)" 0 "${S_BUDGET[$i]}" "not started: the $LIMIT s limit is spent"
    continue
  fi
  CURRENT="$NAME (since $((SECONDS - START)) s, budget $budget s)"
  write_summary
  t0=$SECONDS R_STATUS="" R_DETAIL=""
  "${S_RUN[$i]}" "$budget" "${S_PROG[$i]}" "${S_ARG[$i]}"
  record "$NAME" "$R_STATUS" $((SECONDS - t0)) "${S_BUDGET[$i]}" "$R_DETAIL"
  CURRENT=""
  write_summary
done
echo "gpu-check: finished in $((SECONDS - START)) s"
cat "$OUT/summary.md"
exit $FAILED
