#!/usr/bin/env bash
# pkm beside pacman, in one run, on the same packages (issue 18): publish and sync of a
# 10,001-package repository (igos repo add + pkm sync / repo-add + pacman -Sy), install of a
# 1,000-package dependency closure (resolved alone with --print, then installed), install of
# a 10,000-file payload, both from a file:// repository, and a second sync on the installed
# system. Needs pacman and repo-add (Debian: pacman-package-manager), bsdtar
# (libarchive-tools, which repo-add uses), python3, bc, and gpg with pacman-key to sign
# pacman's database as pkm's index is signed.
#   cargo build --release --bin pkm --bin igos
#   PKM_BENCH_DIR=/tmp/pkmbench cargo test --test pkm_repo -- --ignored bench_generate_archives
#   benches/pkm_vs_pacman.sh /tmp/pkmbench [ROUNDS]
# Publishing runs once (repo-add takes minutes for 10,001 packages; REUSE=1 keeps the
# repositories of an earlier run with the same packages and key). Then ROUNDS rounds (default
# 3), each from empty roots on a freshly made ext4 filesystem (a loop-mounted image, as root;
# NO_MOUNT=1 or no permission: plain directories, where inodes freed by the previous round
# make creating files several times slower for whichever tool runs first); within a round each step runs pkm and pacman one after the other,
# pkm first in odd rounds and pacman first in even ones, with a `sync` (untimed) before each
# timed command. Printed: each round's times, then per step the medians and the ratio
# pkm / pacman (below 1: pkm is faster) as min, median and max over the rounds. `pacman -Sy`
# only copies the database; pacman reads it at its first query (the -S of the next step),
# while pkm parses and checks the index at sync: the "sync + closure" row adds the two steps.
set -euo pipefail
D=${1:?usage: pkm_vs_pacman.sh DIR [ROUNDS]}
ROUNDS=${2:-3}
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release}
for tool in pacman repo-add bsdtar python3 bc; do
    command -v "$tool" >/dev/null || { echo "pkm_vs_pacman.sh: $tool is not installed" >&2; exit 2; }
done
[ -x "$BIN/pkm" ] && [ -x "$BIN/igos" ] || { echo "pkm_vs_pacman.sh: build $BIN/pkm and $BIN/igos first" >&2; exit 2; }
D=$(cd "$D" && pwd)
[ -f "$D/igos/payload-1.0-1.igos.tar.gz" ] || { echo "pkm_vs_pacman.sh: generate $D/igos first (see the header)" >&2; exit 2; }
cd "$D"

# Seconds taken by a command (its output discarded; a failure stops the run with its stderr).
t() {
    local s e
    sync
    s=$(date +%s.%N)
    "$@" >/dev/null 2>"$D/last.err" || { echo "failed: $*" >&2; cat "$D/last.err" >&2; exit 1; }
    e=$(date +%s.%N)
    echo "$e - $s" | bc
}

# pacman packages: the same names, files and dependencies (.PKGINFO + payload, gzip).
if [ ! -f pac/payload-1.0-1-any.pkg.tar.gz ]; then
    rm -rf pac && mkdir -p pac && python3 - <<'PY'
import io, tarfile
def pkg(name, files, deps):
    info = f"pkgname = {name}\npkgbase = {name}\npkgver = 1.0-1\npkgdesc = bench\nbuilddate = 1700000000\npackager = bench\nsize = {64*len(files)}\narch = any\n" + "".join(f"depend = {d}\n" for d in deps)
    with tarfile.open(f"pac/{name}-1.0-1-any.pkg.tar.gz", "w:gz", compresslevel=6) as t:
        def add(path, data, mode=0o644):
            ti = tarfile.TarInfo(path); ti.size = len(data); ti.mode = mode; ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
        add(".PKGINFO", info.encode())
        dirs = set()
        for p, _ in files:
            parts = p.split("/")
            for i in range(1, len(parts)):
                dirs.add("/".join(parts[:i]))
        for d in sorted(dirs):
            ti = tarfile.TarInfo(d); ti.type = tarfile.DIRTYPE; ti.mode = 0o755; ti.mtime = 1700000000
            t.addfile(ti)
        for p, data in files:
            add(p, data)
for i in range(10000):
    deps = [f"pkg{i-d}" for d in (1, 7, 31) if i < 1000 and d <= i]
    pkg(f"pkg{i}", [(f"usr/share/pkg{i}/file", f"pkg{i}\n".encode())], deps)
pkg("payload", [(f"usr/share/payload/d{i//100}/f{i}", f"{i:064}".encode()) for i in range(10000)], [])
PY
fi
if [ "${REUSE:-0}" != 1 ] || [ ! -f prepo/bench.db.tar.gz ] || [ ! -f irepo/index.json.sig ]; then
    rm -rf keys irepo prepo && mkdir -p prepo
    "$BIN/igos" repo keygen --dir keys bench >/dev/null
    # repo-add indexes packages where they are; pacman downloads them from beside the database.
    ln pac/*.pkg.tar.gz prepo/
    a=$(t "$BIN/igos" repo add irepo --key keys/bench.key $(ls igos/pkg*.igos.tar.gz) igos/payload-1.0-1.igos.tar.gz)
    b=$(t repo-add -q prepo/bench.db.tar.gz $(ls prepo/*.pkg.tar.gz))
    echo "publish 10,001 packages (igos repo add / repo-add), once: pkm ${a}s, pacman ${b}s" | tee publish.txt >&2
else
    echo "publish: reusing the repositories of an earlier run ($(cat publish.txt 2>/dev/null))" >&2
fi
KEY_ID=$(sed -n 's/^id //p' keys/bench.pub)
# pkm checks its index's Ed25519 signature at every sync: pacman checks its database's
# OpenPGP signature too (SigLevel DatabaseRequired; packages unsigned on both sides, each
# checked against the checksum its signed index lists), as `repo-add --sign` would publish
# it: a key of its own (gpg, ed25519), the database signed, the key in pacman's keyring and
# locally signed. UNSIGNED=1: pacman verifies nothing (SigLevel Never), as earlier runs.
SIGLEVEL=Never
GPGDIR=
if [ "${UNSIGNED:-0}" != 1 ]; then
    command -v gpg >/dev/null && command -v pacman-key >/dev/null || { echo "pkm_vs_pacman.sh: gpg and pacman-key are needed to sign pacman's database (or UNSIGNED=1)" >&2; exit 2; }
    if [ ! -f prepo/bench.db.sig ] || [ ! -d pacman-gnupg ] || [ prepo/bench.db.sig -ot prepo/bench.db.tar.gz ]; then
        rm -rf gnupg-sign pacman-gnupg && mkdir -m 700 gnupg-sign
        GNUPGHOME=$D/gnupg-sign gpg -q --batch --passphrase '' --quick-gen-key "bench repository <bench@example.invalid>" ed25519 sign never 2>/dev/null
        fpr=$(GNUPGHOME=$D/gnupg-sign gpg --list-keys --with-colons | awk -F: '/^fpr/ { print $10; exit }')
        GNUPGHOME=$D/gnupg-sign gpg -q --batch --yes --detach-sign --no-armor -o prepo/bench.db.sig prepo/bench.db.tar.gz
        GNUPGHOME=$D/gnupg-sign gpg -q --export -a > bench-gpg.asc
        { pacman-key --gpgdir "$D/pacman-gnupg" --init && pacman-key --gpgdir "$D/pacman-gnupg" --add bench-gpg.asc \
            && pacman-key --gpgdir "$D/pacman-gnupg" --lsign-key "$fpr"; } >/dev/null 2>&1 \
            || { echo "pkm_vs_pacman.sh: cannot set up pacman's keyring in $D/pacman-gnupg" >&2; exit 2; }
    fi
    SIGLEVEL="DatabaseRequired PackageNever"
    GPGDIR="GPGDir = $D/pacman-gnupg"
fi
cat > pacman.conf <<CONF
[options]
Architecture = auto
$GPGDIR
SigLevel = $SIGLEVEL
[bench]
Server = file://$D/prepo
CONF
# The roots (and each tool's download cache, inside its root) live on $R.
R=$D/roots
mkdir -p "$R"
MOUNT=0
if [ "${NO_MOUNT:-0}" != 1 ] && [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null; then
    MOUNT=1
fi
fresh_roots() {
    if mountpoint -q "$R"; then umount "$R"; fi
    rm -rf "$R"/* 2>/dev/null || true
    if [ "$MOUNT" = 1 ]; then
        rm -f "$D/roots.img" && truncate -s 2G "$D/roots.img"
        mkfs.ext4 -q -F "$D/roots.img" && mount -o loop "$D/roots.img" "$R" || { echo "cannot mount a fresh filesystem; use NO_MOUNT=1" >&2; exit 2; }
    fi
    mkdir -p "$R/proot/var/lib/pacman" "$R/proot/var/cache/pacman" "$R/iroot/etc/igos/keys" "$R/iroot/var/lib/igos"
    cp keys/bench.pub "$R/iroot/etc/igos/keys/"
    echo "bench file://$D/irepo $KEY_ID" > "$R/iroot/etc/igos/repos.conf"
}
trap 'if mountpoint -q "$R"; then umount "$R"; fi' EXIT
Q="pacman --config $D/pacman.conf --root $R/proot --dbpath $R/proot/var/lib/pacman"
P="$Q --noconfirm --cachedir $R/proot/var/cache/pacman --logfile /dev/null --noprogressbar"

STEPS="sync resolve closure payload resync"
declare -A LABEL=(
    [sync]="sync the 10,001-package index (pkm sync / pacman -Sy)"
    [resolve]="resolve the 1,000-package closure (pkm install --print pkg999 / pacman -S --print pkg999)"
    [closure]="resolve and install a 1,000-package closure (pkm install pkg999 / pacman -S pkg999)"
    [payload]="install the 10,000-file payload (pkm install payload / pacman -S payload)"
    [resync]="sync again, the system installed (pkm sync / pacman -Syy, which downloads and verifies again as pkm does)"
)
pkm_step() {
    case $1 in
        sync) t "$BIN/pkm" --root "$R/iroot" sync ;;
        resolve) t "$BIN/pkm" --root "$R/iroot" install --print pkg999 ;;
        closure) t "$BIN/pkm" --root "$R/iroot" install pkg999 ;;
        payload) t "$BIN/pkm" --root "$R/iroot" install payload ;;
        resync) t "$BIN/pkm" --root "$R/iroot" sync ;;
    esac
}
pacman_step() {
    case $1 in
        sync) t $P -Sy ;;
        resolve) t $P -S --print pkg999 ;;
        closure) t $P -S pkg999 ;;
        payload) t $P -S payload ;;
        resync) t $P -Syy ;;
    esac
}

: > times.txt
for round in $(seq 1 "$ROUNDS"); do
    fresh_roots
    for step in $STEPS; do
        if [ $((round % 2)) = 1 ]; then
            a=$(pkm_step "$step"); b=$(pacman_step "$step")
        else
            b=$(pacman_step "$step"); a=$(pkm_step "$step")
        fi
        echo "$round $step $a $b" >> times.txt
        echo "round $round: $step: pkm ${a}s, pacman ${b}s" >&2
    done
    n_pkm=$("$BIN/pkm" --root "$R/iroot" list | wc -l)
    n_pac=$($Q -Q | wc -l)
    [ "$n_pkm" = 1001 ] && [ "$n_pac" = 1001 ] || { echo "round $round: installed pkm $n_pkm, pacman $n_pac (expected 1001 each)" >&2; exit 1; }
done

echo "| step | pkm (median) | pacman (median) | pkm / pacman: min | median | max |"
echo "|---|---:|---:|---:|---:|---:|"
# The sum of two steps per round, as a step of its own.
awk '$2 == "sync" { s[$1] = $3; p[$1] = $4 } $2 == "closure" { print $1, "sync+closure", s[$1] + $3, p[$1] + $4 }' times.txt >> times.txt
LABEL[sync+closure]="sync + closure: the index made usable and the closure installed"
for step in $STEPS sync+closure; do
    awk -v s="$step" -v label="${LABEL[$step]}" '
        function median(v, n,   i, j, x) {
            for (i = 2; i <= n; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
            return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        }
        $2 == s { n++; a[n] = $3; b[n] = $4; r[n] = $3 / $4 }
        END {
            # median() sorts in place: r[1] and r[n] are then the smallest and largest ratios.
            ma = median(a, n); mb = median(b, n); mr = median(r, n)
            printf "| %s | %.3f s | %.3f s | %.2f | **%.2f** | %.2f |\n", label, ma, mb, r[1], mr, r[n]
        }' times.txt
done
echo
echo "$(cat publish.txt)"
echo "pacman's SigLevel: $SIGLEVEL"
echo "rounds: $ROUNDS, roots on $([ "$MOUNT" = 1 ] && echo "a fresh ext4 filesystem each round" || echo "plain directories"); each installs 1,001 packages with pkm and with pacman; times in $D/times.txt"
