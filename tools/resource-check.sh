#!/usr/bin/env bash
# Compile-time resource table of every CUDA kernel of the library, on sm_80 and sm_90, from
# ptxas -v: registers, spill stores / loads, stack frame, static and dynamic shared memory and
# CTAs per SM. Checks each figure against tools/resource_budgets.tsv. No GPU needed: each
# .cu of cuda/sources.cmake is compiled alone, device code only (nvcc --fatbin), with the
# library's device flags. docs/resources.md is the committed output.
#
#   tools/resource-check.sh [OUT_DIR] [--budgets FILE] [--docs]
#       builds OUT_DIR/resources.tsv and OUT_DIR/resources.md (OUT_DIR default build/resources;
#       ptxas logs in OUT_DIR/logs) and checks them; --docs also writes docs/resources.md.
#   tools/resource-check.sh [OUT_DIR] --check [--budgets FILE]
#       checks the existing OUT_DIR/resources.tsv again (a budget edit), no compiling.
#   tools/resource-check.sh [OUT_DIR] --self-test
#       no compiling: the table must hold every prefill / decode kernel for every arch, and
#       the check of OUT_DIR/resources.tsv must fail on every row with deliberately tiny
#       budgets, on every row with an empty budget file, and on exactly the spilling rows
#       with budgets that allow no spill.
#
# Environment: NVCC (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc); JOBS (parallel
# nvcc processes, default 2); ARCHS (default "80 90"); BUDGETS (same as --budgets).
# Exit status: 0 within budget (or self-test passed); 1 budget violation (each one listed) or
# self-test failure; 2 usage, compile or parse error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=""
MODE=build
DOCS=0
BUDGETS=${BUDGETS:-$ROOT/tools/resource_budgets.tsv}
while [ $# -gt 0 ]; do
  case "$1" in
    --budgets) BUDGETS=${2:?--budgets needs a file}; shift 2 ;;
    --budgets=*) BUDGETS=${1#--budgets=}; shift ;;
    --docs) DOCS=1; shift ;;
    --check) MODE=check; shift ;;
    --self-test) MODE=selftest; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "resource-check: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$OUT" ] || { echo "resource-check: one OUT_DIR only" >&2; exit 2; }; OUT=$1; shift ;;
  esac
done
OUT=${OUT:-$ROOT/build/resources}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TABLE=$OUT/resources.tsv
ARCHS=${ARCHS:-80 90}
JOBS=${JOBS:-2}

# ---- check: TABLE BUDGETS ANNOTATED_OUT -------------------------------------------------
# Budget lines: kernel glob, arch (sm_80, sm_90 or *), max registers, max spill store bytes,
# max spill load bytes, max static smem bytes, max smem per CTA (static + dynamic; - = no
# limit), reason (rest of the line). The first line matching (kernel, arch) applies; a kernel
# no line matches is a violation, and so is one that fits no CTA on an SM. Writes TABLE with
# its budget column recomputed to ANNOTATED_OUT; prints violations; exit 1 on any.
check() {
  awk -F'\t' -v OFS='\t' -v budgets="$2" -v annotated="$3" '
    function glob_re(g,   r, i, c) {
      r = ""
      for (i = 1; i <= length(g); i++) {
        c = substr(g, i, 1)
        if (c == "*") r = r ".*"
        else if (c == "?") r = r "."
        else if (index("\\^$.[]|()+{}", c)) r = r "\\" c
        else r = r c
      }
      return "^" r "$"
    }
    function over(value, limit) { return limit != "-" && value != "runtime" && value + 0 > limit + 0 }
    BEGIN {
      nb = 0
      while ((getline line < budgets) > 0) {
        sub(/\r$/, "", line)
        if (line ~ /^[ \t]*(#|$)/) continue
        n = split(line, f, /[ \t]+/)
        if (n < 7) { printf "resource-check: %s: malformed budget line: %s\n", budgets, line > "/dev/stderr"; bad = 1; continue }
        nb++; bre[nb] = glob_re(f[1]); bglob[nb] = f[1]; barch[nb] = f[2]
        bregs[nb] = f[3]; bst[nb] = f[4]; bld[nb] = f[5]; bstatic[nb] = f[6]; bcta[nb] = f[7]; used[nb] = 0
      }
      close(budgets)
      if (bad) exit 2
      violations = 0
    }
    NR == 1 { print $0 > annotated; next }
    {
      kernel = $1; arch = $2; regs = $5; st = $6; ld = $7; stat = $9; dyn = $10; ctas = $12
      cta_smem = dyn == "runtime" ? "runtime" : stat + dyn
      b = 0
      for (i = 1; i <= nb; i++) if (kernel ~ bre[i] && (barch[i] == "*" || barch[i] == arch)) { b = i; break }
      msg = ""
      if (!b) msg = "no budget line"
      else {
        used[b] = 1
        if (over(regs, bregs[b])) msg = msg sprintf("; registers %d > %d", regs, bregs[b])
        if (over(st, bst[b])) msg = msg sprintf("; spill stores %d B > %d", st, bst[b])
        if (over(ld, bld[b])) msg = msg sprintf("; spill loads %d B > %d", ld, bld[b])
        if (over(stat, bstatic[b])) msg = msg sprintf("; static smem %d B > %d", stat, bstatic[b])
        if (over(cta_smem, bcta[b])) msg = msg sprintf("; smem per CTA %d B > %d", cta_smem, bcta[b])
        sub(/^; /, "", msg)
      }
      if (ctas == "0") msg = msg (msg == "" ? "" : "; ") "no CTA fits on an SM"
      if (msg != "") {
        violations++
        printf "resource-check: VIOLATION %s %s: %s%s\n", arch, kernel, msg,
               b ? " (budget: " bglob[b] " " barch[b] ")" : ""
      }
      $13 = msg == "" ? "ok" : msg
      print > annotated
    }
    END {
      if (bad) exit 2
      for (i = 1; i <= nb; i++) if (!used[i]) printf "resource-check: note: budget line %s %s matches no kernel\n", bglob[i], barch[i] > "/dev/stderr"
      printf "resource-check: %d kernel x arch rows, %d over budget (%s)\n", NR - 1, violations, budgets
      exit violations ? 1 : 0
    }' "$1"
}

# ---- self-test: the check must fail where it should, on the table already built ----------
self_test() {
  [ -s "$TABLE" ] || { echo "resource-check: no $TABLE; run tools/resource-check.sh $OUT first" >&2; exit 2; }
  local tmp rows rc failed=0 d dt a
  tmp=$(mktemp -d)
  rows=$(($(wc -l < "$TABLE") - 1))
  # 1. Every prefill and decode instance is in the table for every arch (the parser found them).
  for a in $ARCHS; do
    for d in 64 128 256; do
      for dt in bf16 fp16; do
        for k in fwd_d${d}_$dt decode_split_d${d}_$dt decode_merge_d${d}_$dt fwd_d${d}_${dt}_fp8kv \
                 decode_split_d${d}_${dt}_fp8kv decode_merge_d${d}_${dt}_fp8kv; do
          if ! awk -F'\t' -v k="$k" -v a="sm_$a" '$1 == k && $2 == a { found = 1 } END { exit !found }' "$TABLE"; then
            echo "self-test FAIL: $k sm_$a missing from $TABLE"; failed=1
          fi
        done
      done
    done
  done
  # 2. Tiny budgets: every row must be reported over budget.
  printf '# deliberately tiny\n*\t*\t1\t0\t0\t0\t0\tself-test\n' > "$tmp/tiny.tsv"
  rc=0; check "$TABLE" "$tmp/tiny.tsv" "$tmp/tiny.out" > "$tmp/tiny.log" 2>&1 || rc=$?
  if [ "$rc" != 1 ] || [ "$(grep -c 'VIOLATION' "$tmp/tiny.log")" != "$rows" ]; then
    echo "self-test FAIL: tiny budgets: exit $rc, $(grep -c 'VIOLATION' "$tmp/tiny.log") violations for $rows rows"
    failed=1
  else
    echo "self-test ok: tiny budgets fail ($rows of $rows rows over budget, exit 1)"
  fi
  # 3. A spill-only budget (everything generous, spills 0) fails exactly on the rows that spill.
  printf '*\t*\t255\t0\t0\t-\t-\tself-test\n' > "$tmp/nospill.tsv"
  local spilling
  spilling=$(awk -F'\t' 'NR > 1 && ($6 > 0 || $7 > 0)' "$TABLE" | wc -l)
  rc=0; check "$TABLE" "$tmp/nospill.tsv" "$tmp/nospill.out" > "$tmp/nospill.log" 2>&1 || rc=$?
  if [ "$(grep -c 'VIOLATION.*spill' "$tmp/nospill.log")" != "$spilling" ] || { [ "$spilling" -gt 0 ] && [ "$rc" != 1 ]; }; then
    echo "self-test FAIL: spill-only budgets: exit $rc, $(grep -c 'VIOLATION.*spill' "$tmp/nospill.log") spill violations, $spilling spilling rows"
    failed=1
  else
    echo "self-test ok: spill-only budgets flag the $spilling spilling rows"
  fi
  # 4. No budget lines: every row is unbudgeted.
  : > "$tmp/empty.tsv"
  rc=0; check "$TABLE" "$tmp/empty.tsv" "$tmp/empty.out" > "$tmp/empty.log" 2>&1 || rc=$?
  if [ "$rc" != 1 ] || [ "$(grep -c 'no budget line' "$tmp/empty.log")" != "$rows" ]; then
    echo "self-test FAIL: empty budgets: exit $rc"; failed=1
  else
    echo "self-test ok: an empty budget file fails ($rows unbudgeted rows)"
  fi
  rm -rf "$tmp"
  [ "$failed" = 0 ] && echo "resource-check: self-test passed" && return 0
  echo "resource-check: self-test FAILED"; return 1
}

# ---- markdown: ANNOTATED_TABLE > markdown -------------------------------------------------
render() {
  local built=$1 table=$2
  echo "# Kernel resources"
  echo
  echo "Compile-time figures of every kernel, from \`ptxas -v\`; generated by"
  echo "\`tools/resource-check.sh --docs\` on $built"
  echo "(device flags: \`$DEVICE_FLAGS_TEXT\`). Budgets: \`tools/resource_budgets.tsv\`;"
  echo "CI runs the check after the test suite and fails on any figure over its budget."
  echo
  echo "- **Spill st / ld**: bytes of spill stores / loads per thread. **Stack**: stack frame"
  echo "  bytes (spills and local arrays)."
  echo "- **Smem**: static (\`__shared__\`, from ptxas) + dynamic (the launch's, from the traits"
  echo "  via \`tools/resource_probe.cu\`; *runtime* where the launcher sizes it from the call)."
  echo "- **CTAs/SM**: resident CTAs per SM, the smallest of: registers (per-warp allocation in"
  echo "  units of 256, 4 sub-partitions of 16384), shared memory (per CTA + 1 KB reserved, in"
  echo "  128-byte units, of 164 KB on sm_80 / 228 KB on sm_90), 64 warps and 32 CTAs. \`<=\`:"
  echo "  the dynamic shared memory is sized at run time and not counted."
  local a
  for a in $ARCHS; do
    echo
    echo "## sm_$a"
    echo
    echo "| Kernel | Source | Threads | Regs | Spill st / ld (B) | Stack (B) | Smem static + dynamic (B) | CTAs/SM (limit) | Budget |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    awk -F'\t' -v a="sm_$a" 'NR > 1 && $2 == a {
      ctas = $11 == "-" ? "-" : ($10 == "runtime" ? "<=" : "") $11 " (" $12 ")"
      printf "| `%s` | %s | %s | %d | %d / %d | %d | %d + %s | %s | %s |\n", $1, $3, $4, $5, $6, $7, $8, $9, $10, ctas, $13
    }' "$table"
  done
  echo
  echo "## Allowed spills"
  echo
  awk -F'\t' '!/^[ \t]*(#|$)/ { n = split($0, f, /[ \t]+/); if (f[4] + 0 > 0 || f[5] + 0 > 0) {
      r = ""; for (i = 8; i <= n; i++) r = r (r == "" ? "" : " ") f[i]
      printf "- `%s` %s: %s / %s B. %s\n", f[1], f[2], f[4], f[5], r; any = 1 } }
    END { if (!any) print "None." }' "$BUDGETS"
}

if [ "$MODE" = selftest ]; then
  self_test
  exit $?
fi
[ -r "$BUDGETS" ] || { echo "resource-check: cannot read budgets $BUDGETS" >&2; exit 2; }

# Device flags of the library (CMakeLists.txt: CMAKE_BUILD_TYPE Release, CUDA standard 17,
# --expt-relaxed-constexpr -lineinfo, include dirs include/ and the repository root).
DEVICE_FLAGS=(-O3 -DNDEBUG -std=c++17 --expt-relaxed-constexpr -lineinfo -DATTNKIT_WITH_CUDA=1 -I"$ROOT/include" -I"$ROOT")
DEVICE_FLAGS_TEXT="-O3 -DNDEBUG -std=c++17 --expt-relaxed-constexpr -lineinfo -DATTNKIT_WITH_CUDA=1 -Iinclude -I."
for a in $ARCHS; do DEVICE_FLAGS_TEXT+=" -gencode arch=compute_$a,code=sm_$a"; done

if [ "$MODE" = build ]; then
  NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
  [ -x "$NVCC" ] || { echo "resource-check: no nvcc (set NVCC)" >&2; exit 2; }
  command -v c++filt > /dev/null || { echo "resource-check: needs c++filt (binutils)" >&2; exit 2; }
  NVCC_VERSION=$("$NVCC" --version | sed -n 's/.*release \([0-9.]*\), \(V[0-9.]*\).*/\1 (\2)/p')
  START=$SECONDS
  rm -rf "$OUT/logs" "$TABLE" && mkdir -p "$OUT/logs"  # a failed build leaves no stale table

  # 1. Launch shapes from the traits.
  if ! "$NVCC" -std=c++17 --expt-relaxed-constexpr -I"$ROOT/include" -I"$ROOT" -o "$OUT/probe" \
      "$ROOT/tools/resource_probe.cu" > "$OUT/logs/probe.log" 2>&1 || ! "$OUT/probe" > "$OUT/launch.tsv"; then
    cat "$OUT/logs/probe.log"; echo "resource-check: tools/resource_probe.cu failed" >&2; exit 2
  fi

  # 2. ptxas -v of every translation unit, every arch in one nvcc call (device code only).
  # The instances (prefill, decode) first, then the other kernels, in sources.cmake order.
  # cuda/hopper/ is sm_90a-only code with checks of its own (tools/hopper-check.sh).
  mapfile -t TUS < <(grep -o 'cuda/[A-Za-z0-9_/]*\.cu' "$ROOT/cuda/sources.cmake" | grep -v '^cuda/hopper/' | awk '/\/instances\//' ;
                     grep -o 'cuda/[A-Za-z0-9_/]*\.cu' "$ROOT/cuda/sources.cmake" | grep -v '^cuda/hopper/' | awk '!/\/instances\//')
  [ "${#TUS[@]}" -gt 0 ] || { echo "resource-check: no .cu in cuda/sources.cmake" >&2; exit 2; }
  GENCODE=()
  for a in $ARCHS; do GENCODE+=(-gencode "arch=compute_$a,code=sm_$a"); done
  export NVCC ROOT OUT
  # shellcheck disable=SC2317  # run by xargs through bash -c
  compile_one() {
    local tu=$1 log
    log="$OUT/logs/$(echo "$tu" | tr / _).log"
    if ! "$NVCC" --fatbin -o /dev/null "${@:2}" -Xptxas -v "$ROOT/$tu" > "$log" 2>&1; then
      echo "resource-check: $tu failed to compile:" >&2; tail -n 30 "$log" >&2; return 1
    fi
  }
  export -f compile_one
  echo "resource-check: ${#TUS[@]} translation units x sm_${ARCHS// /, sm_}, $JOBS at a time (nvcc $NVCC_VERSION)"
  if ! printf '%s\n' "${TUS[@]}" | xargs -P "$JOBS" -I{} bash -c 'compile_one "$@"' _ {} "${DEVICE_FLAGS[@]}" "${GENCODE[@]}"; then
    exit 2
  fi

  # 3. Parse: one row per (kernel, arch). Function properties come after "Compiling entry
  #    function", the "Used" line closes an entry (non-entry functions have none).
  for tu in "${TUS[@]}"; do
    awk -v tu="$tu" -v OFS='\t' '
      /Compiling entry function/ {  # ... entry function (quote)NAME(quote) for (quote)sm_80(quote)
        split($0, q, "\047"); name = q[2]; arch = q[4]
        stack = st = ld = 0; inside = 1; props = 0; next
      }
      /Function properties for/ { props = inside && index($0, "for " name) > 0; next }
      props && /bytes stack frame/ {
        for (i = 1; i <= NF; i++) {
          if ($(i + 2) == "stack") stack = $i
          if ($(i + 2) == "spill" && $(i + 3) ~ /^stores/) st = $i
          if ($(i + 2) == "spill" && $(i + 3) ~ /^loads/) ld = $i
        }
      }
      inside && /Used [0-9]+ registers/ {
        regs = $0; sub(/.*Used /, "", regs); sub(/ registers.*/, "", regs)
        smem = 0
        if ($0 ~ /bytes smem/) { smem = $0; sub(/ bytes smem.*/, "", smem); sub(/.* /, "", smem) }
        print tu, arch, name, regs, st, ld, stack, smem
        inside = 0
      }' "$OUT/logs/$(echo "$tu" | tr / _).log"
  done > "$OUT/raw.tsv"
  for tu in "${TUS[@]}"; do
    case "$tu" in */instances/*)
      for a in $ARCHS; do
        awk -F'\t' -v tu="$tu" -v a="sm_$a" '$1 == tu && $2 == a { n++ } END { exit !n }' "$OUT/raw.tsv" ||
          { echo "resource-check: no kernel of $tu for sm_$a in its ptxas log (parse error?)" >&2; exit 2; }
      done ;;
    esac
  done

  # 4. Short names, launch shapes, CTAs per SM. Columns of resources.tsv:
  cut -f3 "$OUT/raw.tsv" | c++filt > "$OUT/demangled.txt"
  paste "$OUT/raw.tsv" "$OUT/demangled.txt" | awk -F'\t' -v OFS='\t' -v launch="$OUT/launch.tsv" '
    function glob_re(g,   r, i, c) {
      r = ""
      for (i = 1; i <= length(g); i++) {
        c = substr(g, i, 1)
        if (c == "*") r = r ".*"
        else if (index("\\^$.[]|()+{}?", c)) r = r "\\" c
        else r = r c
      }
      return "^" r "$"
    }
    function short(n,   i, c, depth, p) {
      sub(/^void /, "", n)
      gsub(/\(anonymous namespace\)::/, "", n)
      gsub(/[A-Za-z_][A-Za-z_0-9]*::/, "", n)
      depth = 0
      for (i = 1; i <= length(n); i++) {
        c = substr(n, i, 1)
        if (c == "<") depth++
        else if (c == ">") depth--
        else if (c == "(" && depth == 0) { n = substr(n, 1, i - 1); break }
      }
      gsub(/ /, "", n)
      if (n ~ /^(fwd_kernel<KernelTraits|decode_split_kernel<DecodeTraits|decode_merge_kernel<DecodeTraits)</) {
        split(n, p, /[<>,]/)
        sub(/_kernel$/, "", p[1])
        return p[1] "_d" p[3] "_" (p[4] == "true" ? "bf16" : "fp16") (p[5] == "true" ? "_fp8kv" : "")
      }
      return n
    }
    function ceil_div(a, b) { return int((a + b - 1) / b) }
    BEGIN {
      nl = 0
      while ((getline line < launch) > 0) { split(line, f, "\t"); nl++; lre[nl] = glob_re(f[1]); lthreads[nl] = f[2]; ldyn[nl] = f[3] }
      smem_sm["sm_80"] = 164 * 1024; smem_sm["sm_90"] = 228 * 1024
      print "kernel", "arch", "source", "threads", "regs", "spill_st", "spill_ld", "stack", "static_smem", "dyn_smem", "ctas_per_sm", "limit", "budget"
    }
    {
      tu = $1; arch = $2; regs = $4; st = $5; ld = $6; stack = $7; stat = $8
      k = short($9)
      threads = "-"; dyn = "-"
      for (i = 1; i <= nl; i++) if (k ~ lre[i]) { threads = lthreads[i]; dyn = ldyn[i]; break }
      ctas = "-"; limit = "-"
      if (threads != "-") {
        warps = ceil_div(threads, 32)
        regs_per_warp = ceil_div(regs * 32, 256) * 256
        # registers: warps are placed on 4 sub-partitions of 16384 registers each
        by_regs = regs_per_warp * 4 * ceil_div(warps, 4) > 65536 ? 0 : int(int(16384 / regs_per_warp) * 4 / warps)
        ctas = by_regs; limit = "regs"
        if (int(64 / warps) < ctas) { ctas = int(64 / warps); limit = "warps" }
        if (32 < ctas) { ctas = 32; limit = "CTAs" }
        sm = smem_sm[arch]
        if (sm) {
          per_cta = stat + (dyn == "runtime" ? 0 : dyn)
          by_smem = per_cta + 1024 > sm ? 0 : int(sm / (ceil_div(per_cta + 1024, 128) * 128))
          if (by_smem < ctas) { ctas = by_smem; limit = "smem" }
        }
      }
      print k, arch, tu, threads, regs, st, ld, stack, stat, dyn, ctas, limit, "-"
    }' > "$OUT/resources.tsv.new"
  mv "$OUT/resources.tsv.new" "$TABLE"
  echo "resource-check: $(($(wc -l < "$TABLE") - 1)) kernel x arch rows in $((SECONDS - START)) s"
  echo "$(date -u +%Y-%m-%d) with nvcc $NVCC_VERSION" > "$OUT/built.txt"
fi

[ -s "$TABLE" ] || { echo "resource-check: no $TABLE; run without --check first" >&2; exit 2; }
rc=0
check "$TABLE" "$BUDGETS" "$OUT/resources.annotated.tsv" || rc=$?
[ "$rc" = 2 ] && exit 2
mv "$OUT/resources.annotated.tsv" "$TABLE"
render "$(cat "$OUT/built.txt" 2>/dev/null || echo "an unknown date with an unknown nvcc")" "$TABLE" > "$OUT/resources.md"
if [ "$DOCS" = 1 ]; then
  cp "$OUT/resources.md" "$ROOT/docs/resources.md"
  echo "resource-check: wrote docs/resources.md"
fi
echo "resource-check: $TABLE, $OUT/resources.md"
exit "$rc"
