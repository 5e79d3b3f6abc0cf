//! `pkm install` and `pkm verify` against `tar -xzf`, `bsdtar -xzf`, `pacman -U`, `sha256sum`
//! and `pacman -Qkk` on the same payload, run with `cargo bench --bench pkm_bench`.
//!
//! The payload imitates a large real package: 10,000 regular files (mostly small text, eight
//! large binaries that compress about 2:1), 300 directories and 50 symlinks, about 230 MB,
//! generated deterministically. Every command runs N times (`PKM_BENCH_RUNS`, default 5),
//! round-robin, each run into a freshly made ext4 filesystem (a loop-mounted image; as root) or,
//! where mounting is not possible or `PKM_BENCH_NO_MOUNT` is set, a fresh directory. `sync` runs
//! (untimed) before each timed command so no command pays for the previous one's dirty pages.
//! (A fresh filesystem matters: on an ext4 without a journal, creating inodes right after many
//! were deleted is several times slower, which made repeated runs in directories unstable.) Figures are medians; ratios are against baselines measured in the
//! same run. The table is printed and written to `benches/pkm-results.md`.
//!
//! Tools that are not installed are reported as "skipped: <tool> not installed" and the rest
//! still runs. `pacman -U` needs root (it chowns); without root it is skipped too.
//! `PKM_BENCH_DIR` chooses the scratch directory (default: the system temp dir);
//! `PKM_BENCH_KEEP=1` keeps it (payload, archives, the last roots) for profiling.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use igos::archive::{manifest_from_tree, write_archive, EntryKind, PackageMeta, WriteOptions};

const N_FILES: usize = 10_000;
const N_BIG: usize = 8;
const BIG_SIZE: usize = 18 << 20; // 8 x 18 MiB = 144 MiB of binaries
const N_SYMLINKS: usize = 50;
const N_CONFIG: usize = 20;
const N_BIN: usize = 42; // small executables in usr/bin, each with a symlink alias

/// xorshift64*: deterministic, fast, good enough for test data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "the", "package", "manager", "installs", "files", "into", "root", "and", "records", "them", "in", "its", "database",
    "kernel", "library", "function", "return", "value", "struct", "const", "static", "if", "else", "for", "while",
    "error", "warning", "config", "option", "default", "path", "directory", "symlink", "target", "mode", "owner",
    "InterGenOS", "build", "phase", "tier", "core", "base", "desktop", "extra", "gcc", "glibc", "binutils", "make",
    "0", "1", "42", "255", "4096", "0x7f", "{", "}", "(", ")", ";", "=", "->", "#", "//", "*",
];

fn text(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size + 16);
    let mut col = 0;
    while v.len() < size {
        let w = WORDS[rng.below(WORDS.len() as u64) as usize];
        v.extend_from_slice(w.as_bytes());
        col += w.len() + 1;
        if col > 60 + rng.below(20) as usize {
            v.push(b'\n');
            col = 0;
        } else {
            v.push(b' ');
        }
    }
    v.truncate(size);
    v
}

/// Binary-like content: random stretches, repeats of earlier stretches and low-entropy
/// "opcode" runs, so it compresses roughly 2:1 like real executables, not to nothing.
fn binary(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut v: Vec<u8> = Vec::with_capacity(size);
    while v.len() < size {
        let run = 256 + rng.below(4096) as usize;
        match rng.below(10) {
            0..=3 => {
                for _ in 0..run / 8 {
                    v.extend_from_slice(&rng.next().to_le_bytes());
                }
            }
            4..=6 if v.len() > 65_536 => {
                let start = v.len() - 1 - rng.below(65_000) as usize;
                for i in 0..run {
                    let b = v[start + i % (v.len() - start)];
                    v.push(b);
                }
            }
            _ => {
                for _ in 0..run / 8 {
                    let r = rng.next();
                    for k in 0..8 {
                        v.push(((r >> (k * 8)) & 0x0f) as u8 * 17);
                    }
                }
            }
        }
    }
    v.truncate(size);
    v
}

struct Payload {
    files: usize,
    dirs: usize,
    links: usize,
    bytes: u64,
}

fn write_file(p: &Path, data: &[u8], mode: u32) {
    fs::write(p, data).expect("write payload file");
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn mkdir(p: &Path, dirs: &mut usize) {
    fs::create_dir(p).expect("mkdir");
    fs::set_permissions(p, fs::Permissions::from_mode(0o755)).expect("chmod");
    *dirs += 1;
}

fn generate(root: &Path) -> Payload {
    let mut rng = Rng(0x1605_2026_0000_0001);
    let (mut files, mut dirs, mut links, mut bytes) = (0usize, 0usize, 0usize, 0u64);
    for d in ["usr", "usr/bin", "usr/lib", "usr/share", "usr/share/bench", "etc", "etc/bench"] {
        mkdir(&root.join(d), &mut dirs);
    }
    // 293 leaf directories: 13 groups x 22 subdirectories + the 13 groups themselves.
    let mut leaves = Vec::new();
    for g in 0..13 {
        let gd = root.join(format!("usr/share/bench/group{g:02}"));
        mkdir(&gd, &mut dirs);
        for s in 0..21 {
            let sd = gd.join(format!("sub{s:02}"));
            mkdir(&sd, &mut dirs);
            leaves.push(sd);
        }
        leaves.push(gd);
    }
    for i in 0..N_BIG {
        let data = binary(&mut rng, BIG_SIZE - i * 4096);
        write_file(&root.join(format!("usr/lib/libbench{i}.so.1.0")), &data, 0o755);
        files += 1;
        bytes += data.len() as u64;
    }
    for i in 0..N_CONFIG {
        let size = 200 + rng.below(3000) as usize;
        let data = text(&mut rng, size);
        write_file(&root.join(format!("etc/bench/bench{i:02}.conf")), &data, 0o644);
        files += 1;
        bytes += data.len() as u64;
    }
    for i in 0..N_BIN {
        let mut data = b"#!/bin/sh\n".to_vec();
        let size = 1000 + rng.below(20_000) as usize;
        data.extend(text(&mut rng, size));
        write_file(&root.join(format!("usr/bin/bench-tool{i:02}")), &data, 0o755);
        files += 1;
        bytes += data.len() as u64;
    }
    let small = N_FILES - files;
    for i in 0..small {
        let dir = &leaves[i % leaves.len()];
        let size = 512 + rng.below(16_384) as usize;
        let data = text(&mut rng, size);
        write_file(&dir.join(format!("doc{i:05}.txt")), &data, 0o644);
        files += 1;
        bytes += data.len() as u64;
    }
    for i in 0..N_BIG {
        symlink(format!("libbench{i}.so.1.0"), root.join(format!("usr/lib/libbench{i}.so"))).expect("symlink");
        links += 1;
    }
    for i in 0..N_SYMLINKS - N_BIG {
        symlink(format!("bench-tool{i:02}"), root.join(format!("usr/bin/bench-alias{i:02}"))).expect("symlink");
        links += 1;
    }
    Payload { files, dirs, links, bytes }
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool} >/dev/null 2>&1")).status().map(|s| s.success()).unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn sync_all() {
    let _ = Command::new("sync").status();
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Build a pacman package of `payload` by hand, as makepkg would: `.PKGINFO`, a gzipped mtree
/// `.MTREE` (with sha256digest), then the files; uid/gid 0.
fn build_pacman_pkg(work: &Path, payload: &Path, bytes: u64) -> PathBuf {
    let meta = work.join("pacmeta");
    fs::create_dir_all(&meta).expect("mkdir");
    let pkginfo = format!(
        "# Generated by pkm_bench\npkgname = benchpkg\npkgbase = benchpkg\npkgver = 1.0-1\npkgdesc = pkm benchmark payload\n\
         url = https://intergenos.invalid\nbuilddate = 0\npackager = pkm_bench\nsize = {bytes}\narch = any\nlicense = GPL\n"
    );
    fs::write(meta.join(".PKGINFO"), pkginfo).expect("write .PKGINFO");
    let own = ["--uid", "0", "--gid", "0", "--uname", "root", "--gname", "root"];
    run_ok(
        Command::new("bsdtar")
            .current_dir(&meta)
            .args(["-czf", ".MTREE", "--format=mtree", "--options=!all,use-set,type,uid,gid,mode,time,size,md5,sha256,link"])
            .args(own)
            .args([".PKGINFO", "-C"])
            .arg(payload)
            .args(["etc", "usr"]),
        "bsdtar (.MTREE)",
    );
    let pkg = work.join("benchpkg-1.0-1-any.pkg.tar.gz");
    run_ok(
        Command::new("bsdtar")
            .current_dir(&meta)
            .args(["-czf"])
            .arg(&pkg)
            .args(own)
            .args([".MTREE", ".PKGINFO", "-C"])
            .arg(payload)
            .args(["etc", "usr"]),
        "bsdtar (package)",
    );
    fs::write(
        work.join("pacman.conf"),
        "[options]\nArchitecture = auto\nSigLevel = Never\nLocalFileSigLevel = Never\n",
    )
    .expect("pacman.conf");
    pkg
}

fn pacman_args(root: &Path, work: &Path) -> Vec<String> {
    let r = root.display().to_string();
    vec![
        "--root".into(),
        r.clone(),
        "--dbpath".into(),
        format!("{r}/var/lib/pacman"),
        "--config".into(),
        work.join("pacman.conf").display().to_string(),
        "--cachedir".into(),
        format!("{r}/var/cache/pacman/pkg"),
        "--logfile".into(),
        format!("{r}/var/log/pacman.log"),
        "--hookdir".into(),
        format!("{r}/etc/pacman.d/hooks"),
        "--gpgdir".into(),
        format!("{r}/etc/pacman.d/gnupg"),
        "--noconfirm".into(),
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

struct Row {
    name: String,
    median: Option<Duration>,
    runs: Vec<Duration>,
    note: String,
}

fn skipped(name: &str, why: &str) -> Row {
    Row { name: name.into(), median: None, runs: vec![], note: format!("skipped: {why}") }
}

/// Where each timed install lands: a freshly made ext4 filesystem (loop-mounted image, made
/// again before every run) when we are root and can mount, else a fresh directory.
enum Fresh {
    Fs { mkfs: String },
    Dir,
}

impl Fresh {
    fn detect(work: &Path) -> Fresh {
        if std::env::var_os("PKM_BENCH_NO_MOUNT").is_some() || !is_root() || !have("mkfs.ext4") || !have("mount") {
            return Fresh::Dir;
        }
        let f = Fresh::Fs { mkfs: "mkfs.ext4".into() };
        let probe = work.join("probe-root");
        match f.make(work, "probe", &probe) {
            Ok(()) => {
                f.drop_root(&probe, "probe", work);
                f
            }
            Err(e) => {
                eprintln!("pkm_bench: cannot mount a fresh filesystem ({e}); using fresh directories");
                Fresh::Dir
            }
        }
    }
    fn describe(&self) -> String {
        match self {
            Fresh::Fs { mkfs } => format!("a new ext4 filesystem for every run ({mkfs} on a 1 GiB loop-mounted image, default options: journal on)"),
            Fresh::Dir => "a new directory for every run (no mount available), on the scratch filesystem".into(),
        }
    }
    fn make(&self, work: &Path, tag: &str, root: &Path) -> Result<(), String> {
        fs::create_dir_all(root).map_err(|e| e.to_string())?;
        if let Fresh::Fs { mkfs } = self {
            let img = work.join(format!("{tag}.img"));
            let _ = fs::remove_file(&img);
            let f = fs::File::create(&img).map_err(|e| e.to_string())?;
            f.set_len(1 << 30).map_err(|e| e.to_string())?;
            let st = Command::new(mkfs).args(["-q", "-F"]).arg(&img).stdout(Stdio::null()).stderr(Stdio::null()).status();
            if !st.map(|s| s.success()).unwrap_or(false) {
                return Err(format!("{mkfs} failed"));
            }
            let st = Command::new("mount").args(["-o", "loop"]).arg(&img).arg(root).stdout(Stdio::null()).stderr(Stdio::null()).status();
            if !st.map(|s| s.success()).unwrap_or(false) {
                return Err("mount -o loop failed".into());
            }
        }
        Ok(())
    }
    fn drop_root(&self, root: &Path, tag: &str, work: &Path) {
        if let Fresh::Fs { .. } = self {
            let _ = Command::new("umount").arg(root).status();
            let _ = fs::remove_file(work.join(format!("{tag}.img")));
        }
        let _ = fs::remove_dir_all(root);
    }
}

struct Tool<'a> {
    name: &'static str,
    tag: &'static str,
    prep: &'a dyn Fn(&Path),
    cmd: &'a dyn Fn(&Path) -> Command,
    keep_last: bool,
}

/// Run every tool `n` times, round-robin (so load from other processes spreads over all of
/// them), each run into a fresh root. Returns the runs per tool and the kept last roots.
fn time_fresh(n: usize, work: &Path, fresh: &Fresh, tools: &[Tool]) -> (Vec<Vec<Duration>>, Vec<Option<PathBuf>>) {
    let mut runs = vec![Vec::new(); tools.len()];
    let mut kept = vec![None; tools.len()];
    for i in 0..n {
        for (k, t) in tools.iter().enumerate() {
            eprintln!("pkm_bench: {} run {}/{n}", t.name, i + 1);
            let root = work.join(format!("root-{}-{i}", t.tag));
            let tag = format!("{}-{i}", t.tag);
            fresh.make(work, &tag, &root).expect("fresh root");
            (t.prep)(&root);
            sync_all();
            let mut c = (t.cmd)(&root);
            c.stdout(Stdio::null()).stderr(Stdio::piped());
            let start = Instant::now();
            let out = c.output().expect("spawn");
            let d = start.elapsed();
            assert!(out.status.success(), "{} run {i} failed: {}", t.name, String::from_utf8_lossy(&out.stderr));
            runs[k].push(d);
            if t.keep_last && i + 1 == n {
                kept[k] = Some(root);
            } else {
                fresh.drop_root(&root, &tag, work);
            }
        }
    }
    (runs, kept)
}

fn time_same(n: usize, tag: &str, cmd: &dyn Fn() -> Command) -> Vec<Duration> {
    (0..n)
        .map(|i| {
            sync_all();
            let mut c = cmd();
            c.stdout(Stdio::null()).stderr(Stdio::piped());
            let t = Instant::now();
            let out = c.output().expect("spawn");
            let d = t.elapsed();
            assert!(out.status.success(), "{tag} run {i} failed: {}", String::from_utf8_lossy(&out.stderr));
            d
        })
        .collect()
}

fn s(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

fn table(title: &str, rows: &[Row], subject: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "### {title}\n");
    let _ = writeln!(t, "| command | median | runs (s) | this / {subject} |");
    let _ = writeln!(t, "|---|---:|---|---:|");
    let subj = rows.iter().find(|r| r.name == subject).and_then(|r| r.median);
    for r in rows {
        let runs = r.runs.iter().map(|d| format!("{:.2}", d.as_secs_f64())).collect::<Vec<_>>().join(" ");
        let (m, ratio) = match (r.median, subj) {
            (Some(m), Some(sj)) => (s(m), format!("{:.2}", m.as_secs_f64() / sj.as_secs_f64())),
            (Some(m), None) => (s(m), "-".into()),
            (None, _) => (r.note.clone(), "-".into()),
        };
        let _ = writeln!(t, "| `{}` | {m} | {runs} | {ratio} |", r.name);
    }
    t
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let runs: usize = std::env::var("PKM_BENCH_RUNS").ok().and_then(|s| s.parse().ok()).unwrap_or(5).max(1);
    let pkm = env!("CARGO_BIN_EXE_pkm");
    let base = std::env::var_os("PKM_BENCH_DIR").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
    let work = base.join(format!("pkm-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).expect("mkdir work");
    let payload_dir = work.join("payload");
    fs::create_dir(&payload_dir).expect("mkdir payload");

    let t = Instant::now();
    let p = generate(&payload_dir);
    eprintln!(
        "pkm_bench: payload {} files, {} dirs, {} symlinks, {:.1} MB in {:.1} s",
        p.files,
        p.dirs,
        p.links,
        p.bytes as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    // The igos archive, with the project's own writer.
    let t = Instant::now();
    let meta = PackageMeta {
        name: "benchpkg".into(),
        version: "1.0".into(),
        release: 1,
        tier: "extra".into(),
        description: "pkm benchmark payload".into(),
        ..Default::default()
    };
    let manifest = manifest_from_tree(&meta, &payload_dir).expect("manifest");
    let archive = work.join("benchpkg-1.0-1.igos.tar.gz");
    {
        let f = fs::File::create(&archive).expect("create archive");
        let mut w = std::io::BufWriter::with_capacity(1 << 20, f);
        write_archive(&mut w, &manifest, &payload_dir, &WriteOptions { mtime: 1_700_000_000, level: 6 }).expect("write archive");
        w.flush().expect("flush");
    }
    let archive_size = fs::metadata(&archive).map(|m| m.len()).unwrap_or(0);
    eprintln!("pkm_bench: igos archive {:.1} MB in {:.1} s", archive_size as f64 / 1e6, t.elapsed().as_secs_f64());
    // sha256sum -c list of the same files (paths relative to the root).
    let mut sums = String::new();
    for e in &manifest.entries {
        if let EntryKind::File { sha256 } = &e.kind {
            let _ = writeln!(sums, "{sha256}  {}", e.path);
        }
    }
    let sums_file = work.join("sums.txt");
    fs::write(&sums_file, sums).expect("sums");

    let has_tar = have("tar");
    let has_bsdtar = have("bsdtar");
    let has_pacman = have("pacman");
    let has_sha = have("sha256sum");
    let root_user = is_root();
    let pacman_pkg = if has_pacman && has_bsdtar && root_user {
        let t = Instant::now();
        let pkg = build_pacman_pkg(&work, &payload_dir, p.bytes);
        let sz = fs::metadata(&pkg).map(|m| m.len()).unwrap_or(0);
        eprintln!("pkm_bench: pacman package {:.1} MB in {:.1} s", sz as f64 / 1e6, t.elapsed().as_secs_f64());
        Some((pkg, sz))
    } else {
        None
    };
    let pacman_skip = if !has_pacman {
        "pacman not installed"
    } else if !has_bsdtar {
        "bsdtar not installed (needed to build the pacman package)"
    } else {
        "pacman -U needs root"
    };

    let fresh = Fresh::detect(&work);
    eprintln!("pkm_bench: install target: {}", fresh.describe());
    let none: &dyn Fn(&Path) = &|_| {};
    let pkm_cmd = |root: &Path| {
        let mut c = Command::new(pkm);
        c.arg("--root").arg(root).args(["install", "--archive-trust", "loose"]).arg(&archive);
        c
    };
    let tar_cmd = |root: &Path| {
        let mut c = Command::new("tar");
        c.arg("-xzf").arg(&archive).arg("-C").arg(root);
        c
    };
    let tar_sync_cmd = |root: &Path| {
        let mut c = Command::new("sh");
        c.arg("-c").arg("tar -xzf \"$1\" -C \"$2\" && sync -f \"$2\"").arg("sh").arg(&archive).arg(root);
        c
    };
    let bsdtar_cmd = |root: &Path| {
        let mut c = Command::new("bsdtar");
        c.arg("-xzf").arg(&archive).arg("-C").arg(root);
        c
    };
    let pacman_prep = |root: &Path| {
        for d in ["var/lib/pacman", "var/cache/pacman/pkg", "var/log", "etc/pacman.d/hooks"] {
            fs::create_dir_all(root.join(d)).expect("mkdir pacman dirs");
        }
    };
    let pacman_cmd = |root: &Path| {
        let mut c = Command::new("pacman");
        c.args(pacman_args(root, &work)).args(["-U", "--nodeps", "--noscriptlet"]);
        if let Some((pkg, _)) = &pacman_pkg {
            c.arg(pkg);
        }
        c
    };
    let pacman_sync_cmd = |root: &Path| {
        let mut c = Command::new("sh");
        c.arg("-c").arg("pacman \"$@\" && sync -f \"$0\"").arg(root);
        c.args(pacman_args(root, &work)).args(["-U", "--nodeps", "--noscriptlet"]);
        if let Some((pkg, _)) = &pacman_pkg {
            c.arg(pkg);
        }
        c
    };
    let mut tools = vec![Tool { name: "pkm install", tag: "pkm", prep: none, cmd: &pkm_cmd, keep_last: true }];
    let mut install_rows_skipped = Vec::new();
    if has_tar {
        tools.push(Tool { name: "tar -xzf", tag: "tar", prep: none, cmd: &tar_cmd, keep_last: false });
        tools.push(Tool { name: "tar -xzf && sync -f", tag: "tarsync", prep: none, cmd: &tar_sync_cmd, keep_last: false });
    } else {
        install_rows_skipped.push(skipped("tar -xzf", "tar not installed"));
    }
    if has_bsdtar {
        tools.push(Tool { name: "bsdtar -xzf", tag: "bsdtar", prep: none, cmd: &bsdtar_cmd, keep_last: false });
    } else {
        install_rows_skipped.push(skipped("bsdtar -xzf", "bsdtar not installed"));
    }
    if pacman_pkg.is_some() {
        tools.push(Tool { name: "pacman -U", tag: "pacman", prep: &pacman_prep, cmd: &pacman_cmd, keep_last: true });
        tools.push(Tool { name: "pacman -U && sync -f", tag: "pacmansync", prep: &pacman_prep, cmd: &pacman_sync_cmd, keep_last: false });
    } else {
        install_rows_skipped.push(skipped("pacman -U", pacman_skip));
    }
    let (install_runs, kept) = time_fresh(runs, &work, &fresh, &tools);
    let mut install_rows: Vec<Row> = tools
        .iter()
        .zip(install_runs)
        .map(|(t, r)| Row { name: t.name.into(), median: Some(median(r.clone())), runs: r, note: String::new() })
        .collect();
    install_rows.extend(install_rows_skipped);
    let pkm_root = kept[0].clone().expect("pkm root kept");
    let pacman_root = tools.iter().position(|t| t.tag == "pacman").and_then(|k| kept[k].clone());
    let mut verify_rows = Vec::new();

    // Verify, page cache warm for every command (each reads files it just wrote).
    eprintln!("pkm_bench: verify x{runs}");
    let r = time_same(runs, "pkm verify", &|| {
        let mut c = Command::new(pkm);
        c.arg("--root").arg(&pkm_root).arg("verify");
        c
    });
    verify_rows.push(Row { name: "pkm verify".into(), median: Some(median(r.clone())), runs: r, note: String::new() });
    if has_sha {
        let r = time_same(runs, "sha256sum -c", &|| {
            let mut c = Command::new("sha256sum");
            c.current_dir(&pkm_root).args(["--quiet", "--strict", "-c"]).arg(&sums_file);
            c
        });
        verify_rows.push(Row { name: "sha256sum -c (list)".into(), median: Some(median(r.clone())), runs: r, note: String::new() });
        let r = time_same(runs, "find | xargs -P2 sha256sum", &|| {
            let mut c = Command::new("sh");
            c.current_dir(&pkm_root)
                .arg("-c")
                .arg("find etc usr -type f -print0 | xargs -0 -P2 -n 2500 sha256sum >/dev/null");
            c
        });
        verify_rows.push(Row { name: "find | xargs -0 -P2 sha256sum".into(), median: Some(median(r.clone())), runs: r, note: String::new() });
    } else {
        verify_rows.push(skipped("sha256sum -c (list)", "sha256sum not installed"));
    }
    if let Some(root) = &pacman_root {
        let r = time_same(runs, "pacman -Qkk", &|| {
            let mut c = Command::new("pacman");
            c.args(pacman_args(root, &work)).args(["-Qkk", "benchpkg"]);
            c
        });
        verify_rows.push(Row { name: "pacman -Qkk".into(), median: Some(median(r.clone())), runs: r, note: String::new() });
    } else {
        verify_rows.push(skipped("pacman -Qkk", pacman_skip));
    }

    // Report.
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_else(|| "unknown".into());
    let sha_ni = fs::read_to_string("/proc/cpuinfo").map(|c| c.contains(" sha_ni")).unwrap_or(false);
    let nproc = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let date = Command::new("date").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let fs_type = Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(&work)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(md, "## pkm_bench run\n");
    let _ = writeln!(md, "- date: {date}");
    let _ = writeln!(md, "- machine: {nproc} CPUs, {cpu}, sha_ni: {}", if sha_ni { "yes" } else { "no" });
    let _ = writeln!(md, "- load average at the end: {}", load.trim());
    let _ = writeln!(md, "- scratch filesystem: {fs_type} ({})", work.display());
    let _ = writeln!(md, "- install target: {}", fresh.describe());
    let _ = writeln!(
        md,
        "- payload: {} files, {} directories, {} symlinks, {:.1} MB; igos archive {:.1} MB (gzip level 6){}",
        p.files,
        p.dirs,
        p.links,
        p.bytes as f64 / 1e6,
        archive_size as f64 / 1e6,
        pacman_pkg.as_ref().map(|(_, s)| format!("; pacman package {:.1} MB (bsdtar gzip)", *s as f64 / 1e6)).unwrap_or_default()
    );
    let _ = writeln!(md, "- N = {runs} runs per command, round-robin, medians; `sync` before every timed run (untimed)\n");
    md.push_str(&table("Install (fresh root each run)", &install_rows, "pkm install"));
    md.push('\n');
    md.push_str(&table("Verify (page cache warm)", &verify_rows, "pkm verify"));
    md.push_str(
        "\nRatio = that command's median / pkm's median: above 1 means pkm is faster.\n\n\
         Durability: `pkm install` makes the deployed files durable (one syncfs(2) of the root's\n\
         filesystem before the database commit) and commits its SQLite database with\n\
         synchronous=FULL; `tar`, `bsdtar` and `pacman -U` do not fsync extracted files.\n\
         `tar -xzf && sync -f` and `pacman -U && sync -f` add the same syncfs(2) to them.\n\
         `pacman -Qkk` compares the package's mtree (type, mode, owner, size, mtime, link\n\
         target and content checksums: the mtree carries md5 and sha256 digests, as makepkg\n\
         writes it); `pkm verify` and `sha256sum` hash every byte with SHA-256.\n",
    );
    println!("\n{md}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/pkm-results.md");
    let mut prev = fs::read_to_string(&out).unwrap_or_default();
    if prev.is_empty() {
        prev = "# pkm benchmark results\n\nWritten by `cargo bench --bench pkm_bench` (newest run first).\n\n".into();
    }
    let (head, tail) = match prev.find("## pkm_bench run") {
        Some(i) => prev.split_at(i),
        None => (prev.as_str(), ""),
    };
    let _ = fs::write(&out, format!("{head}{md}\n{tail}"));
    eprintln!("pkm_bench: written {}", out.display());
    for (t, k) in tools.iter().zip(&kept) {
        if let Some(root) = k {
            if std::env::var_os("PKM_BENCH_KEEP").is_none() {
                fresh.drop_root(root, &format!("{}-{}", t.tag, runs - 1), &work);
            }
        }
    }
    if std::env::var_os("PKM_BENCH_KEEP").is_some() {
        eprintln!("pkm_bench: PKM_BENCH_KEEP set, kept {}", work.display());
    } else {
        let _ = fs::remove_dir_all(&work);
    }
}
