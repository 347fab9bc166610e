#!/usr/bin/env bash
# Compile-time evidence for the Hopper (sm_90a) prefill family, no GPU needed: each instance
# of cuda/hopper/instances is compiled alone for sm_90a (device code only) and checked:
#   - ptxas -v: launch registers and spills against tools/hopper_budgets.tsv;
#   - no wgmma serialization advisory (ptxas' "wgmma.mma_async instructions are serialized",
#     the C7515 family): a serialized wgmma would forfeit the overlap the kernel is built on;
#   - the SASS (cuobjdump -sass): HGMMA inside a loop (the consumers' main loop), UTMALDG
#     (TMA) inside a loop (the producer's), and the setmaxnreg split (USETMAXREG).
# Writes OUT_DIR/hopper.tsv (instance, registers, spills, HGMMA / UTMALDG counts, setmaxnreg
# values, highest register the SASS names) and prints it.
#
#   tools/hopper-check.sh [OUT_DIR]               (default build/hopper-check)
#   tools/hopper-check.sh [OUT_DIR] --self-test   the checks must fail where they should: on
#       tools/hopper_check_probe.cu (a wgmma ptxas serializes, no TMA) and on a real instance
#       held to deliberately tiny budgets.
#
# cuobjdump and nvdisasm are not in this toolkit: they come from the PyPI wheels
# nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm, fetched once into OUT_DIR/tools (CUOBJDUMP=path
# overrides). Exit status: 0 pass; 1 a check failed (each listed); 2 setup or compile error.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF_TEST=0
ARGS=()
for a in "$@"; do
  case "$a" in
    --self-test) SELF_TEST=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) ARGS+=("$a") ;;
  esac
done
OUT=${ARGS[0]:-$ROOT/build/hopper-check}
mkdir -p "$OUT/logs"
OUT=$(cd "$OUT" && pwd)
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
BUDGETS=$ROOT/tools/hopper_budgets.tsv

# ---- cuobjdump + nvdisasm from PyPI -------------------------------------------------------
if [ -z "${CUOBJDUMP:-}" ]; then
  CUOBJDUMP=$(find "$OUT/tools" -name cuobjdump -type f 2>/dev/null | head -1 || true)
  if [ -z "$CUOBJDUMP" ]; then
    python3 -m pip download --no-deps --quiet -d "$OUT/tools/wheels" nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm \
      || { echo "hopper-check: pip download of nvidia-cuda-cuobjdump / nvidia-cuda-nvdisasm failed" >&2; exit 2; }
    for w in "$OUT"/tools/wheels/*.whl; do python3 -m zipfile -e "$w" "$OUT/tools/x" >/dev/null; done
    CUOBJDUMP=$(find "$OUT/tools/x" -name cuobjdump -type f | head -1)
    chmod +x "$(dirname "$CUOBJDUMP")"/*
  fi
fi
export PATH="$(dirname "$CUOBJDUMP"):$PATH"  # cuobjdump runs nvdisasm from PATH

# check_instance SRC BUDGETS TABLE: compiles SRC, appends its row to TABLE, prints violations;
# returns 1 on any.
check_instance() {
  local src=$1 budgets=$2 table=$3 name log sass regs st ld hgmma utma hgmma_loop utma_loop maxnreg maxreg budget verdict
  local b_regs b_st b_ld
  name=$(basename "$src" .cu)
  log=$OUT/logs/$name.ptxas
  if ! "$NVCC" -std=c++17 --expt-relaxed-constexpr -gencode arch=compute_90a,code=sm_90a -I"$ROOT" \
        -I"$ROOT/include" -Xptxas -v -Xptxas -warn-spills -c "$src" -o "$OUT/$name.o" > "$log" 2>&1; then
    cat "$log" >&2; echo "hopper-check: $name does not compile" >&2; exit 2
  fi
  regs=$(grep -oE 'Used [0-9]+ registers' "$log" | head -1 | grep -oE '[0-9]+')
  st=$(grep -oE '[0-9]+ bytes spill stores' "$log" | head -1 | grep -oE '^[0-9]+')
  ld=$(grep -oE '[0-9]+ bytes spill loads' "$log" | head -1 | grep -oE '^[0-9]+')
  sass=$OUT/logs/$name.sass
  "$CUOBJDUMP" -sass "$OUT/$name.o" > "$sass"
  # Loops: a branch to a lower address; an opcode is "in a loop" when some loop spans it.
  read -r hgmma utma hgmma_loop utma_loop < <(awk '
    function hex(s,   v, i) { v = 0; for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1; return v }
    match($0, /\/\*[0-9a-f]+\*\//) {
      addr = hex(substr($0, RSTART + 2, RLENGTH - 4)); n++; a[n] = addr; op[n] = $0
      if (match($0, /BRA (P[0-9], )?0x[0-9a-f]+/)) {
        t = substr($0, RSTART, RLENGTH); sub(/.*0x/, "", t); t = hex(t)
        if (t < addr) { nl++; lo[nl] = t; hi[nl] = addr }
      }
    }
    END {
      for (i = 1; i <= n; i++) {
        h = op[i] ~ /HGMMA/; u = op[i] ~ /UTMALDG/
        if (!h && !u) continue
        if (h) hc++; if (u) uc++
        for (j = 1; j <= nl; j++) if (a[i] >= lo[j] && a[i] <= hi[j]) { if (h) hl++; if (u) ul++; break }
      }
      printf "%d %d %d %d\n", hc, uc, hl, ul
    }' "$sass")
  maxnreg=$(grep -oE 'USETMAXREG\.[A-Z_.]+ (U?P[0-9]+, )?0x[0-9a-f]+' "$sass" | grep -oE '0x[0-9a-f]+$' | \
            while read -r x; do printf '%d ' "$x"; done | sed 's/ $//; s/ /,/g')
  maxreg=$(grep -oE '\bR[0-9]+\b' "$sass" | sed 's/R//' | sort -n | tail -1)
  verdict=""
  budget=$(awk -v n="$name" '
    function glob_re(g, r, i, c) { r = ""; for (i = 1; i <= length(g); i++) { c = substr(g, i, 1)
      if (c == "*") r = r ".*"; else if (index("\\^$.[]|()+{}?", c)) r = r "\\" c; else r = r c } return "^" r "$" }
    /^[ \t]*(#|$)/ { next } { if (n ~ glob_re($1)) { print $2, $3, $4; exit } }' "$budgets")
  if [ -z "$budget" ]; then verdict="$verdict; no budget line"; else
    read -r b_regs b_st b_ld <<< "$budget"
    [ "$regs" -le "$b_regs" ] || verdict="$verdict; registers $regs > $b_regs"
    [ "$st" -le "$b_st" ] || verdict="$verdict; spill stores $st B > $b_st"
    [ "$ld" -le "$b_ld" ] || verdict="$verdict; spill loads $ld B > $b_ld"
  fi
  if grep -qiE 'wgmma.*serializ|C75[0-9][0-9]' "$log"; then verdict="$verdict; wgmma serialized: $(grep -iE 'wgmma.*serializ|C75[0-9][0-9]' "$log" | head -1)"; fi
  [ "$hgmma" -gt 0 ] && [ "$hgmma_loop" -gt 0 ] || verdict="$verdict; no HGMMA in a loop ($hgmma HGMMA)"
  [ "$utma" -gt 0 ] && [ "$utma_loop" -gt 0 ] || verdict="$verdict; no UTMALDG in a loop ($utma UTMALDG)"
  [ -n "$maxnreg" ] || verdict="$verdict; no USETMAXREG"
  verdict=${verdict#; }
  [ -z "$verdict" ] || echo "hopper-check: VIOLATION $name: $verdict"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$regs" "$st" "$ld" "$hgmma" "$utma" "$maxnreg" "$maxreg" \
    "${verdict:-ok}" >> "$table"
  [ -z "$verdict" ]
}

header() { printf 'instance\tregisters\tspill_st\tspill_ld\thgmma\tutmaldg\tsetmaxnreg\tmax_sass_register\tverdict\n' > "$1"; }

if [ "$SELF_TEST" = 1 ]; then
  failed=0
  header "$OUT/self-test.tsv"
  if check_instance "$ROOT/tools/hopper_check_probe.cu" "$BUDGETS" "$OUT/self-test.tsv" > "$OUT/probe.log"; then
    echo "self-test FAIL: the serializing probe passed"; failed=1
  elif ! grep -q 'wgmma serialized' "$OUT/probe.log" || ! grep -q 'no UTMALDG in a loop' "$OUT/probe.log"; then
    echo "self-test FAIL: the probe failed for other reasons: $(cat "$OUT/probe.log")"; failed=1
  else
    echo "self-test ok: the probe's serialized wgmma and missing TMA are reported"
  fi
  printf 'hopper_*\t1\t0\t0\tself-test\n' > "$OUT/tiny.tsv"
  if check_instance "$ROOT/cuda/hopper/instances/hopper_d64_bf16.cu" "$OUT/tiny.tsv" "$OUT/self-test.tsv" > "$OUT/tiny.log"; then
    echo "self-test FAIL: a 1-register budget passed"; failed=1
  else
    echo "self-test ok: a 1-register budget is reported ($(grep -o 'registers [0-9]* > 1' "$OUT/tiny.log"))"
  fi
  exit "$failed"
fi

fail=0
header "$OUT/hopper.tsv"
for src in "$ROOT"/cuda/hopper/instances/*.cu; do
  check_instance "$src" "$BUDGETS" "$OUT/hopper.tsv" || fail=1
done
column -t -s $'\t' "$OUT/hopper.tsv"
[ "$fail" = 0 ] && echo "hopper-check: every sm_90a instance within budget, HGMMA and TMA in loops, no wgmma serialization"
exit "$fail"
