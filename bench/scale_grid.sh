#!/usr/bin/env bash
# The growth curves' full grid (issue 20), in parts that each fit a quiet stretch of a
# small machine, with one frozen binary, then joined by bench/scale_merge.py
# (docs/bench.md, "In parts").
#
#   bench/scale_grid.sh [--dry-run] [--frozen DIR] [PART...]
#
# PART is objects:part-powers, e.g. 1e6:18; default: every part of the grid below. A part
# whose --out already holds all its cells (or an interrupted run's) is skipped, so the script can be rerun after a
# stop and goes on where it was. --frozen DIR: the binary to time (DIR/replicant and
# DIR/tools/); default: a copy of build/replicant and build/tools/ made the first time,
# under /var/tmp/replicant-bench/frozen-<commit>, so later builds do not change what the
# parts measure. Extra bench options: $SCALE_GRID_OPTS.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1e5:18 is its own part: the first run of 1e4,1e5:10,14,16,18 was interrupted before it;
# 1e6:10 too (its run was stopped after that cell, 2026-12-05), and 1e6:14 and 1e6:16 (one
# quiet stretch each).
PARTS_DEFAULT=(1e6:18 1e4,1e5:10,14,16,18 1e5:18 1e6:10 1e6:14 1e6:16)
dry=0
frozen=
parts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry=1 ;;
    --frozen) frozen=$2; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) parts+=("$1") ;;
  esac
  shift
done
[ ${#parts[@]} -gt 0 ] || parts=("${PARTS_DEFAULT[@]}")

if [ -z "$frozen" ]; then
  frozen=/var/tmp/replicant-bench/frozen-$(git rev-parse --short HEAD)
  if [ ! -x "$frozen/replicant" ] && [ $dry = 0 ]; then
    [ -x build/replicant ] && [ -x build/tools/partition_ref ] || {
      echo "scale_grid: build replicant and the bench tools first (bench/setup.sh)" >&2
      exit 2
    }
    mkdir -p "$frozen/tools"
    cp -p build/replicant "$frozen/"
    cp -p build/tools/* "$frozen/tools/"
  fi
fi

# The out dir of a part, e.g. 1e4,1e5:10,14 -> bench/results/scale-1e4-1e5-pp10-14
out_of() {
  local objects=${1%%:*} powers=${1#*:}
  # the runs the grid merges where a cell was measured again (docs/bench.md says why)
  case "$1" in
    1e6:18) echo bench/results/scale-1e6-pp18-one-run; return ;;
    1e6:10) echo bench/results/scale-1e6-pp10-rerun; return ;;
  esac
  echo "bench/results/scale-${objects//,/-}-pp${powers//,/-}"
}

# Whether a part's scale_cells.csv has every cell (objects x part powers).
# An interrupted run (meta.json notes it) is kept as it is: its missing cells need a part of
# their own, since rerunning it would measure its finished cells again.
part_done() {
  local cells="$(out_of "$1")/scale_cells.csv" objects=${1%%:*} powers=${1#*:}
  [ -f "$cells" ] || return 1
  if grep -q '"interrupted: partial results"' "$(out_of "$1")/meta.json" 2>/dev/null; then
    echo "scale_grid: $1 was interrupted: kept with the cells it has" >&2
    return 0
  fi
  /usr/bin/python3 - "$cells" "$objects" "$powers" <<'EOF'
import csv, sys
rows = {(int(float(r['objects'])), int(float(r['part_power'])))
        for r in csv.DictReader(open(sys.argv[1]))}
want = {(int(float(n)), int(p)) for n in sys.argv[2].split(',') for p in sys.argv[3].split(',')}
sys.exit(0 if want <= rows else 1)
EOF
}

outs=()
for part in "${parts[@]}"; do
  case "$part" in
    *:*) ;;
    *) echo "scale_grid: $part: expected objects:part-powers, e.g. 1e6:18" >&2; exit 2 ;;
  esac
  out=$(out_of "$part")
  outs+=("$out")
  if part_done "$part"; then
    echo "scale_grid: $part already in $out"
    continue
  fi
  cmd=(bench/run.sh --replicant "$frozen/replicant" --scenarios scale
       --scale-objects "${part%%:*}" --scale-part-powers "${part#*:}" --repeat 1
       --max-load 1.5 --pass-timeout 7200 --scale-share-tree --out "$out" ${SCALE_GRID_OPTS:-})
  echo "scale_grid: ${cmd[*]}"
  [ $dry = 1 ] || "${cmd[@]}"
done
# The grid joins every part measured so far, not only those named here: a run of one part
# must not drop the others' cells from bench/results/scale-grid. Listed in the default
# parts' order, then any other part named here.
joined=()
for out in $(for p in "${PARTS_DEFAULT[@]}"; do out_of "$p"; done) "${outs[@]}"; do
  [ -f "$out/scale_cells.csv" ] || continue
  case " ${joined[*]} " in *" $out "*) ;; *) joined+=("$out") ;; esac
done
merge=(/usr/bin/python3 bench/scale_merge.py --out bench/results/scale-grid "${joined[@]}")
echo "scale_grid: ${merge[*]}"
[ $dry = 1 ] || "${merge[@]}"
