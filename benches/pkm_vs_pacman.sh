#!/usr/bin/env bash
# pkm beside pacman, one run, same packages (issue 18): publish + sync of a 10,000-package
# repository, install of a 1,000-package dependency closure, install of a 10,000-file payload,
# both from a file:// repository. Needs pacman-package-manager (repo-add, pacman) and bsdtar.
#   cargo build --release --bin pkm --bin igos
#   PKM_BENCH_DIR=/tmp/pkmbench cargo test --test pkm_repo -- --ignored bench_generate_archives
#   benches/pkm_vs_pacman.sh /tmp/pkmbench
set -euo pipefail
D=${1:?usage: pkm_vs_pacman.sh DIR}
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/release}
cd "$D"
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>"$D/last.err" || { cat "$D/last.err"; exit 1; }; e=$(date +%s.%N); echo "$e - $s" | bc; }

# pacman packages: the same names, files and dependencies (.PKGINFO + payload, gzip).
if [ ! -d pac ]; then
    mkdir -p pac && python3 - <<'PY'
import io, tarfile, os
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

rm -rf prepo irepo proot iroot keys
mkdir -p prepo proot/var/lib/pacman proot/var/cache/pacman iroot/etc/igos/keys iroot/var/lib/igos
cat > pacman.conf <<CONF
[options]
Architecture = auto
SigLevel = Never
CheckSpace = false
[bench]
Server = file://$D/prepo
CONF
P="pacman --noconfirm --config $D/pacman.conf --root $D/proot --dbpath $D/proot/var/lib/pacman --cachedir $D/proot/var/cache/pacman --logfile /dev/null --noprogressbar"

"$BIN/igos" repo keygen --dir keys bench >/dev/null
cp keys/bench.pub iroot/etc/igos/keys/
echo "bench file://$D/irepo $(sed -n 's/^id //p' keys/bench.pub)" > iroot/etc/igos/repos.conf

echo "| step | pkm | pacman |"
echo "|---|---|---|"
a=$(t "$BIN/igos" repo add irepo --key keys/bench.key $(ls igos/pkg*.igos.tar.gz) igos/payload-1.0-1.igos.tar.gz)
b=$(t repo-add -q prepo/bench.db.tar.gz $(ls pac/*.pkg.tar.gz))
echo "| publish 10,001 packages (igos repo add / repo-add) | ${a}s | ${b}s |"
a=$(t "$BIN/pkm" --root iroot sync)
b=$(t $P -Sy)
echo "| sync the 10,001-package index (pkm sync / pacman -Sy) | ${a}s | ${b}s |"
a=$(t "$BIN/pkm" --root iroot install pkg999)
b=$(t $P -S pkg999)
echo "| install a 1,000-package closure (pkm install / pacman -S) | ${a}s | ${b}s |"
a=$(t "$BIN/pkm" --root iroot install payload)
b=$(t $P -S payload)
echo "| install the 10,000-file payload (pkm install / pacman -S) | ${a}s | ${b}s |"
echo
echo "pkm installed: $("$BIN/pkm" --root iroot list | wc -l), pacman installed: $($P -Q | wc -l)"
