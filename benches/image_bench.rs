//! The `image_audit` group: `igos check --image` (rules/image.pol, every recorded file hashed)
//! on a 100,000-file image beside `pkm verify` on the same files, `sha256sum` of them as the
//! floor, and `pacman -Qkk` on a pacman package of the same files when pacman, bsdtar and
//! root are there (otherwise the row says which is missing). Run with `cargo bench --bench image_bench`.
//!
//! The image is real: a DESTDIR of 100,000 files packed by `igos pack` (the library call),
//! trusted with `pkm sync` and installed with `pkm --root <image> install`. Every tool runs
//! as a fresh process over a warm page cache; each figure is the median of RUNS runs.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FILES: usize = 100_000;
const DIRS: usize = 400;
const RUNS: usize = 5;

/// xorshift64*: the same payload on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn text(rng: &mut Rng, size: usize) -> Vec<u8> {
    const WORDS: &[&[u8]] = &[b"audit ", b"image ", b"verify ", b"path ", b"squashfs ", b"chroot ", b"recipe ", b"\n"];
    let mut v = Vec::with_capacity(size + 16);
    while v.len() < size {
        v.extend_from_slice(WORDS[(rng.next() % WORDS.len() as u64) as usize]);
    }
    v.truncate(size);
    v
}

/// The DESTDIR: FILES files of 100 B to 2 KB in DIRS directories under usr/share/bench.
fn generate(dest: &Path) -> u64 {
    let mut rng = Rng(0x2012_2026_0000_0001);
    let mut bytes = 0;
    for d in 0..DIRS {
        let dir = dest.join(format!("usr/share/bench/d{d:03}"));
        fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..FILES / DIRS {
            let size = 100 + (rng.next() % 1900) as usize;
            let p = dir.join(format!("f{f:03}.txt"));
            fs::write(&p, text(&mut rng, size)).expect("write");
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).expect("chmod");
            bytes += size as u64;
        }
    }
    for d in ["usr", "usr/share", "usr/share/bench"] {
        fs::set_permissions(dest.join(d), fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for d in 0..DIRS {
        fs::set_permissions(dest.join(format!("usr/share/bench/d{d:03}")), fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    bytes
}

fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool} >/dev/null 2>&1")).status().map(|s| s.success()).unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// A pacman package of `payload` built by hand as makepkg would (`.PKGINFO`, a gzipped mtree
/// `.MTREE` with sha256 digests, the files, owner 0:0), and a pacman.conf without signatures.
fn build_pacman_pkg(work: &Path, payload: &Path, bytes: u64) -> PathBuf {
    let meta = work.join("pacmeta");
    fs::create_dir_all(&meta).expect("mkdir");
    let pkginfo = format!(
        "pkgname = benchpkg\npkgbase = benchpkg\npkgver = 1.0-1\npkgdesc = image audit benchmark payload\n\
         url = https://intergenos.invalid\nbuilddate = 0\npackager = image_bench\nsize = {bytes}\narch = any\nlicense = GPL\n"
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
            .arg("usr"),
        "bsdtar (.MTREE)",
    );
    let pkg = work.join("benchpkg-1.0-1-any.pkg.tar.gz");
    run_ok(
        Command::new("bsdtar").current_dir(&meta).arg("-czf").arg(&pkg).args(own).args([".MTREE", ".PKGINFO", "-C"]).arg(payload).arg("usr"),
        "bsdtar (package)",
    );
    fs::write(work.join("pacman.conf"), "[options]\nArchitecture = auto\nSigLevel = Never\nLocalFileSigLevel = Never\n").expect("pacman.conf");
    pkg
}

fn pacman_args(root: &Path, work: &Path) -> Vec<String> {
    let r = root.display().to_string();
    let mut v: Vec<String> = vec!["--root".into(), r.clone(), "--dbpath".into(), format!("{r}/var/lib/pacman"), "--config".into()];
    v.push(work.join("pacman.conf").display().to_string());
    for (flag, dir) in [("--cachedir", "var/cache/pacman/pkg"), ("--logfile", "var/log/pacman.log"), ("--hookdir", "etc/pacman.d/hooks"), ("--gpgdir", "etc/pacman.d/gnupg")] {
        v.push(flag.into());
        v.push(format!("{r}/{dir}"));
    }
    v.push("--noconfirm".into());
    v
}

fn run_ok(cmd: &mut Command, what: &str) {
    let o = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(o.status.success(), "{what}: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
}

/// Median wall time of RUNS fresh processes (after one warm-up run), and the warm-up's exit code.
fn time(cmd: &dyn Fn() -> Command) -> (Duration, Option<i32>) {
    let code = cmd().output().expect("warm-up").status.code();
    let mut v: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            let o = cmd().output().expect("run");
            let d = t.elapsed();
            assert_eq!(o.status.code(), code, "the same result every run");
            d
        })
        .collect();
    v.sort();
    (v[RUNS / 2], code)
}

fn main() {
    // `cargo bench` passes --bench; nothing to filter here.
    let work: PathBuf = std::env::temp_dir().join(format!("igos-image-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&work);
    let (tree, dest, image) = (work.join("tree"), work.join("dest"), work.join("image"));
    let recipe = tree.join("packages/core/bench-data");
    fs::create_dir_all(&recipe).expect("recipe dir");
    fs::write(
        recipe.join("package.yml"),
        "name: bench-data\nversion: \"1.0\"\nrelease: 1\ndescription: 100,000 small files\ntier: core\nverify_paths:\n  - /usr/share/bench/d000/f000.txt\n  - /usr/share/bench/d399/f249.txt\n",
    )
    .expect("recipe");
    let t = Instant::now();
    let bytes = generate(&dest);
    eprintln!("image_bench: {FILES} files, {:.1} MB generated in {:.1} s", bytes as f64 / 1e6, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let meta = igos::pack::read_recipe(&recipe).expect("read the recipe");
    let packed = igos::pack::pack(&meta, &dest, &work.join("out"), 1_700_000_000).expect("igos pack");
    eprintln!("image_bench: packed in {:.1} s", t.elapsed().as_secs_f64());
    let sha = igos::archive::hash_file(&packed.path).expect("hash the archive");
    let name = packed.path.file_name().expect("archive name").to_string_lossy().into_owned();
    fs::write(work.join("index.txt"), format!("igos-index 1\nbench-data 1.0 1 {sha} {name}\n")).expect("index");
    fs::create_dir_all(&image).expect("image dir");
    let pkm = env!("CARGO_BIN_EXE_pkm");
    let igos_bin = env!("CARGO_BIN_EXE_igos");
    run_ok(Command::new(pkm).arg("--root").arg(&image).arg("sync").arg(work.join("index.txt")), "pkm sync");
    let t = Instant::now();
    run_ok(Command::new(pkm).arg("--root").arg(&image).arg("install").arg(&packed.path), "pkm install");
    eprintln!("image_bench: installed in {:.1} s", t.elapsed().as_secs_f64());

    let audit = || {
        let mut c = Command::new(igos_bin);
        c.arg("check").arg("--image").arg(&image).arg("--root").arg(&tree).current_dir(&work);
        c
    };
    let verify = || {
        let mut c = Command::new(pkm);
        c.arg("--root").arg(&image).arg("verify");
        c
    };
    let floor = || {
        let mut c = Command::new("sh");
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        c.arg("-c").arg(format!("find usr -type f -print0 | xargs -0 -P{cores} -n2000 sha256sum >/dev/null")).current_dir(&image);
        c
    };
    let (t_audit, c_audit) = time(&audit);
    let (t_verify, c_verify) = time(&verify);
    let (t_floor, _) = time(&floor);
    // pacman -Qkk over the same files: a pacman package of the same DESTDIR, installed by
    // `pacman -U` into a root of its own (as pkm_bench does; needs root and bsdtar).
    let pacman: Result<(Duration, Option<i32>), String> = if !have("pacman") {
        Err("skipped: pacman is not installed".into())
    } else if !have("bsdtar") {
        Err("skipped: bsdtar is not installed (it builds the pacman package)".into())
    } else if !is_root() {
        Err("skipped: pacman -U needs root".into())
    } else {
        let pkg = build_pacman_pkg(&work, &dest, bytes);
        let pacroot = work.join("pacroot");
        for d in ["var/lib/pacman", "var/cache/pacman/pkg", "var/log", "etc/pacman.d/hooks"] {
            fs::create_dir_all(pacroot.join(d)).expect("pacman dirs");
        }
        run_ok(Command::new("pacman").args(pacman_args(&pacroot, &work)).args(["-U", "--nodeps", "--noscriptlet"]).arg(&pkg), "pacman -U");
        Ok(time(&|| {
            let mut c = Command::new("pacman");
            c.args(pacman_args(&pacroot, &work)).args(["-Qkk", "benchpkg"]);
            c
        }))
    };
    // One more audit with IGOS_TIMINGS: where its time goes.
    let o = audit().env("IGOS_TIMINGS", "1").output().expect("audit with timings");
    let breakdown = String::from_utf8_lossy(&o.stderr).into_owned();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("\nimage_audit: {FILES} files ({:.1} MB) installed by pkm, {cores} cores, median of {RUNS} warm runs\n", bytes as f64 / 1e6);
    println!("| tool | what it checks | wall | exit | vs pkm verify |");
    println!("|---|---|---:|---:|---:|");
    let row = |tool: &str, what: &str, d: Duration, code: Option<i32>| {
        println!(
            "| {tool} | {what} | {:.2} s | {} | {:.2}x |",
            d.as_secs_f64(),
            code.map_or("-".into(), |c| c.to_string()),
            d.as_secs_f64() / t_verify.as_secs_f64()
        );
    };
    row("igos check --image", "walk (lstat every path), pkm.db, every recorded file's SHA-256, type, mode, link, verify paths, setuid, unowned", t_audit, c_audit);
    row("pkm verify", "every recorded file's SHA-256, type, link", t_verify, c_verify);
    row("sha256sum (xargs -P)", "the hashes alone (the floor)", t_floor, Some(0));
    match pacman {
        Ok((d, code)) => row("pacman -Qkk", "the package's mtree: type, mode, owner, size, mtime, link, md5 and sha256 of every file", d, code),
        Err(why) => println!("| pacman -Qkk | - | - | - | {why} |"),
    }
    println!("\nwhere one `igos check --image` run spends its time (IGOS_TIMINGS=1):\n\n```\n{}```", breakdown);
    let _ = fs::remove_dir_all(&work);
}
