#!/usr/bin/env bash
# Two igos binaries alternating on one tree: old, new, old, new... N times each, then the
# median and minimum wall time of each (ms). Alternating spreads the host's drift over
# both sides, so their ratio holds where single figures move by ±30%.
#   benches/ab.sh OLD_IGOS NEW_IGOS ROOT [N=7] [extra igos check args...]
set -euo pipefail
old="$1" new="$2" root="$3" n="${4:-7}"
shift $(( $# < 4 ? $# : 4 ))
raw="$(mktemp)"
"$old" check --root "$root" "$@" >/dev/null 2>&1 || true   # warm the page cache
for _ in $(seq "$n"); do
    for side in old new; do
        exe="$old"; [ "$side" = new ] && exe="$new"
        start=$(date +%s%N)
        "$exe" check --root "$root" "$@" >/dev/null 2>&1 || true
        echo "$side $(( ($(date +%s%N) - start) / 1000 ))" >>"$raw"
    done
done
for side in old new; do
    grep "^$side " "$raw" | awk '{print $2}' | sort -n |
        awk -v s="$side" '{v[NR]=$1} END {printf "%s: median %.1f ms, min %.1f ms (%d runs)\n", s, v[int((NR+1)/2)]/1000, v[1]/1000, NR}'
done
rm -f "$raw"
