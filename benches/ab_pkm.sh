#!/usr/bin/env bash
# Two pkm binaries alternating on one archive: old, new, old, new... N times each, every
# install into a freshly made ext4 filesystem (a 1 GiB loop-mounted image; needs root), with
# `sync` before each timed run, as pkm_bench does. Prints "old|new <ms>" per run.
# Alternating spreads the host's load drift over both sides.
#   benches/ab_pkm.sh OLD_PKM NEW_PKM ARCHIVE [N=5]
# (ARCHIVE: e.g. the bench's payload, kept with PKM_BENCH_KEEP=1.)
set -euo pipefail
old="$1" new="$2" arch="$3" n="${4:-5}"
d="$(mktemp -d)"; mkdir -p "$d/mnt"
for _ in $(seq "$n"); do
    for side in old new; do
        exe="$old"; [ "$side" = new ] && exe="$new"
        truncate -s 1G "$d/img"; mkfs.ext4 -q -F "$d/img"; mount -o loop "$d/img" "$d/mnt"
        mkdir -p "$d/mnt/var/lib/igos"; sync
        start=$(date +%s%N)
        "$exe" --root "$d/mnt" install --archive-trust loose "$arch" >/dev/null
        echo "$side $(( ($(date +%s%N) - start) / 1000000 ))"
        umount "$d/mnt"; rm -f "$d/img"
    done
done
rm -rf "$d"
