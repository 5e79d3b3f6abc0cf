//! `igos pack`: a DESTDIR and its recipe become a reproducible `.igos.tar.gz` that the hardened
//! reader accepts; `--check-reproducible` proves it or names the first difference; what cannot
//! be packed is exit 2 with the path named.

mod support;

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use igos::archive::{extract_archive, EntryKind, Limits, Manifest};
use igos::pack;
use igos::report::diagnostic::{self, Style};
use support::TempDir;

const EPOCH: &str = "1700000000";

const RECIPE: &str = "\
name: demo
version: '46.0'
release: 2
description: \"A demo package — for tests\"
tier: core
dependencies:
  build:
    - gcc
  host: []
  runtime:
    - glibc
    - zlib
supersedes:
  - demo-old
";

/// A recipe at `packages/core/demo/` and a DESTDIR with nested directories, a setuid binary,
/// a config file under etc/, a symlink, and a directory with a non-default mode.
fn fixture(tag: &str) -> (TempDir, PathBuf, PathBuf) {
    let t = TempDir::new(tag);
    t.write("packages/core/demo/package.yml", RECIPE);
    t.write("dest/usr/bin/demo", "#!/bin/sh\necho demo\n");
    t.write("dest/usr/lib/libdemo.so.1", "not really a library\n");
    t.write("dest/usr/share/demo/data/words.txt", "alpha\nbeta\n");
    t.write("dest/etc/demo.conf", "setting = 1\n");
    let dest = t.path().join("dest");
    fs::set_permissions(dest.join("usr/bin/demo"), fs::Permissions::from_mode(0o4755)).expect("chmod");
    fs::set_permissions(dest.join("usr/share/demo/data"), fs::Permissions::from_mode(0o750)).expect("chmod");
    symlink("libdemo.so.1", dest.join("usr/lib/libdemo.so")).expect("symlink");
    // Modes set explicitly, whatever the umask the tests run under.
    for d in ["etc", "usr", "usr/bin", "usr/lib", "usr/share", "usr/share/demo"] {
        fs::set_permissions(dest.join(d), fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for f in ["usr/lib/libdemo.so.1", "usr/share/demo/data/words.txt", "etc/demo.conf"] {
        fs::set_permissions(dest.join(f), fs::Permissions::from_mode(0o644)).expect("chmod");
    }
    let recipe = t.path().join("packages/core/demo");
    (t, recipe, dest)
}

fn igos(args: &[&str], epoch: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_igos"));
    cmd.arg("pack").args(args).env_remove("SOURCE_DATE_EPOCH").env_remove("NO_COLOR");
    if let Some(e) = epoch {
        cmd.env("SOURCE_DATE_EPOCH", e);
    }
    cmd.output().expect("run igos")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn extract(archive: &Path, staging: &Path) -> igos::archive::Extracted {
    fs::create_dir_all(staging).expect("staging");
    extract_archive(fs::File::open(archive).expect("open archive"), staging, &Limits::default()).expect("the reader accepts the archive")
}

/// For the pkm round-trip test (written on the pkm branch): a packed archive of the fixture
/// DESTDIR and the manifest it must install. Keep the returned TempDir alive while using the
/// path. `pkm install <archive>` then `pkm verify demo` should pass, with every entry of the
/// manifest on disk (etc/demo.conf as config, usr/bin/demo setuid, usr/lib/libdemo.so a link).
#[allow(dead_code)]
pub fn packed_archive_for_pkm_round_trip(tag: &str) -> (TempDir, PathBuf, Manifest) {
    let (t, recipe, dest) = fixture(tag);
    let meta = pack::read_recipe(&recipe).expect("recipe");
    let packed = pack::pack(&meta, &dest, &t.path().join("out"), 1_700_000_000).expect("pack");
    (t, packed.path, packed.manifest)
}

#[test]
fn pack_reads_back_with_the_manifest_pkm_needs() {
    let (t, recipe, dest) = fixture("pack-readback");
    let out = t.path().join("out");
    let r = igos(&["--recipe", recipe.to_str().unwrap(), "--destdir", dest.to_str().unwrap(), "--out", out.to_str().unwrap()], Some(EPOCH));
    assert_eq!(r.status.code(), Some(0), "stderr: {}", text(&r.stderr));
    let archive = out.join("demo-46.0-2.igos.tar.gz");
    assert_eq!(files_in(&out), vec!["demo-46.0-2.igos.tar.gz"], "no temporary file is left beside the archive");
    let stdout = text(&r.stdout);
    assert!(stdout.contains("packed ") && stdout.contains("demo-46.0-2.igos.tar.gz"), "{stdout}");

    let x = extract(&archive, &t.path().join("staging"));
    assert!(stdout.contains(&format!("sha256 {}", x.archive_sha256)), "the printed SHA-256 is the archive's: {stdout}");
    let m = &x.manifest;
    assert_eq!((m.name.as_str(), m.version.as_str(), m.release, m.tier.as_str()), ("demo", "46.0", 2, "core"));
    assert_eq!(m.description, "A demo package — for tests");
    assert_eq!(m.depends, vec!["glibc", "zlib"], "runtime dependencies only");
    assert_eq!(m.supersedes, vec!["demo-old"]);

    let sha = |rel: &str| igos::archive::hash_file(&dest.join(rel)).expect("hash");
    let got: Vec<(String, String, u32, bool)> = m
        .entries
        .iter()
        .map(|e| {
            let kind = match &e.kind {
                EntryKind::Dir => "dir".to_string(),
                EntryKind::File { sha256 } => format!("file {sha256}"),
                EntryKind::Symlink { target } => format!("symlink {target}"),
            };
            (e.path.clone(), kind, e.mode, e.config)
        })
        .collect();
    let want: Vec<(String, String, u32, bool)> = vec![
        ("etc".into(), "dir".into(), 0o755, false),
        ("etc/demo.conf".into(), format!("file {}", sha("etc/demo.conf")), 0o644, true),
        ("usr".into(), "dir".into(), 0o755, false),
        ("usr/bin".into(), "dir".into(), 0o755, false),
        ("usr/bin/demo".into(), format!("file {}", sha("usr/bin/demo")), 0o4755, false),
        ("usr/lib".into(), "dir".into(), 0o755, false),
        ("usr/lib/libdemo.so".into(), "symlink libdemo.so.1".into(), 0o777, false),
        ("usr/lib/libdemo.so.1".into(), format!("file {}", sha("usr/lib/libdemo.so.1")), 0o644, false),
        ("usr/share".into(), "dir".into(), 0o755, false),
        ("usr/share/demo".into(), "dir".into(), 0o755, false),
        ("usr/share/demo/data".into(), "dir".into(), 0o750, false),
        ("usr/share/demo/data/words.txt".into(), format!("file {}", sha("usr/share/demo/data/words.txt")), 0o644, false),
    ];
    assert_eq!(got, want);
    let staged_link = fs::read_link(t.path().join("staging/usr/lib/libdemo.so")).expect("symlink extracted");
    assert_eq!(staged_link, PathBuf::from("libdemo.so.1"));
}

#[test]
fn members_are_normalised() {
    let (t, recipe, dest) = fixture("pack-normalised");
    let meta = pack::read_recipe(&recipe).expect("recipe");
    let p = pack::pack(&meta, &dest, &t.path().join("out"), 1_700_000_000).expect("pack");
    let bytes = fs::read(&p.path).expect("read");
    assert_eq!(bytes.get(4..8), Some(&[0u8, 0, 0, 0][..]), "gzip header mtime is zero");
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut names = vec![];
    for e in ar.entries().expect("entries") {
        let e = e.expect("entry");
        let h = e.header();
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
        assert_eq!(h.username().unwrap(), Some("root"));
        assert_eq!(h.groupname().unwrap(), Some("root"));
        assert_eq!(h.mtime().unwrap(), 1_700_000_000);
        names.push(String::from_utf8_lossy(&e.path_bytes()).into_owned());
    }
    assert_eq!(names.first().map(String::as_str), Some(".MANIFEST"));
    let rest = names.get(1..).unwrap_or(&[]).to_vec();
    let mut sorted = rest.clone();
    sorted.sort();
    assert_eq!(rest, sorted, "members sorted by name");
}

#[test]
fn same_inputs_twice_are_byte_identical() {
    let (t, recipe, dest) = fixture("pack-twice");
    let meta = pack::read_recipe(&recipe).expect("recipe");
    let a = pack::pack(&meta, &dest, &t.path().join("one"), 1_700_000_000).expect("pack one");
    // Touch every file between the two packs: host mtimes must not matter.
    for rel in ["usr/bin/demo", "etc/demo.conf"] {
        let f = fs::File::options().append(true).open(dest.join(rel)).expect("open");
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(42)).expect("set mtime");
    }
    let b = pack::pack(&meta, &dest, &t.path().join("two"), 1_700_000_000).expect("pack two");
    assert_eq!(fs::read(&a.path).unwrap(), fs::read(&b.path).unwrap());
    assert_eq!(a.sha256, b.sha256);
    let c = pack::pack(&meta, &dest, &t.path().join("three"), 1_700_000_001).expect("pack three");
    assert_ne!(a.sha256, c.sha256, "SOURCE_DATE_EPOCH is what stamps the members");
}

#[test]
fn check_reproducible_passes_and_prints_both_hashes() {
    let (t, recipe, dest) = fixture("pack-check-ok");
    let out = t.path().join("out");
    let r = igos(
        &["--check-reproducible", "--recipe", recipe.to_str().unwrap(), "--destdir", dest.to_str().unwrap(), "--out", out.to_str().unwrap()],
        Some(EPOCH),
    );
    let stdout = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0), "stdout: {stdout}\nstderr: {}", text(&r.stderr));
    assert!(stdout.contains("reproducible: the two archives are byte-identical"), "{stdout}");
    let hash_of = |label: &str| {
        stdout.lines().find_map(|l| l.trim().strip_prefix(label)).and_then(|rest| rest.split_whitespace().next()).map(str::to_string)
    };
    let (a, b) = (hash_of("A sha256 ").expect("A's hash"), hash_of("B sha256 ").expect("B's hash"));
    assert_eq!(a.len(), 64);
    assert_eq!(a, b);
    for condition in ["staging path", "reverse order", "umask", "mtimes"] {
        assert!(stdout.contains(condition), "the report names the varied condition `{condition}`: {stdout}");
    }
    // The kept archive is the one a plain pack writes, and the scratch directory is gone.
    assert_eq!(files_in(&out), vec!["demo-46.0-2.igos.tar.gz"]);
    let x = extract(&out.join("demo-46.0-2.igos.tar.gz"), &t.path().join("staging"));
    assert_eq!(x.archive_sha256, a);
    // The original DESTDIR is untouched by the check.
    assert_eq!(fs::metadata(dest.join("usr/bin/demo")).unwrap().permissions().mode() & 0o7777, 0o4755);
}

#[test]
fn a_perturbed_copy_is_caught_and_named() {
    let (t, recipe, dest) = fixture("pack-check-bad");
    let meta = pack::read_recipe(&recipe).expect("recipe");
    let out = t.path().join("out");
    let chmod = |copy: &Path| fs::set_permissions(copy.join("usr/lib/libdemo.so.1"), fs::Permissions::from_mode(0o600));
    let r = pack::check_reproducible(&meta, &dest, &out, 1_700_000_000, true, Some(&chmod)).expect("check runs");
    assert_ne!(r.a.sha256, r.b.sha256);
    let d = r.difference.expect("a difference");
    // The mode is recorded in the manifest first, so that is the first difference.
    assert_eq!(d.entry.as_deref(), Some(".MANIFEST"));
    assert!(d.what.contains("0600") && d.what.contains("usr/lib/libdemo.so.1"), "{d}");
    assert!(r.kept.is_none());
    assert!(files_in(&out).is_empty(), "nothing is written when the archives differ: {:?}", files_in(&out));

    let append = |copy: &Path| fs::write(copy.join("usr/share/demo/data/words.txt"), "alpha\nbeta\ngamma\n");
    let r = pack::check_reproducible(&meta, &dest, &out, 1_700_000_000, true, Some(&append)).expect("check runs");
    let d = r.difference.expect("a difference");
    assert_eq!(d.entry.as_deref(), Some(".MANIFEST"), "the content hash is in the manifest: {d}");
    assert!(d.what.contains("usr/share/demo/data/words.txt"), "{d}");
}

/// Two archives whose manifests agree but whose members differ: the comparison reaches the
/// members and names the first one, with the header field or the content.
#[test]
fn compare_names_the_first_differing_member_and_field() {
    let t = TempDir::new("pack-compare");
    t.write("s/a/one", "1\n");
    t.write("s/b/two", "2\n");
    let staged = t.path().join("s");
    let meta = igos::archive::PackageMeta { name: "x".into(), version: "1".into(), release: 1, ..Default::default() };
    let m = igos::archive::manifest_from_tree(&meta, &staged).expect("manifest");
    let write = |name: &str, mtime: u64, level: u32| {
        let p = t.path().join(name);
        let mut f = fs::File::create(&p).expect("create");
        igos::archive::write_archive(&mut f, &m, &staged, &igos::archive::WriteOptions { mtime, level }).expect("write");
        p
    };
    let a = write("a.tar.gz", 100, 6);
    assert_eq!(pack::compare_archives(&a, &write("same.tar.gz", 100, 6)).unwrap(), None);

    let d = pack::compare_archives(&a, &write("later.tar.gz", 101, 6)).unwrap().expect("differs");
    assert_eq!(d.entry.as_deref(), Some(".MANIFEST"), "the first member already differs: {d}");
    assert_eq!(d.what, "header field mtime: 00000000144 vs 00000000145");

    let d = pack::compare_archives(&a, &write("level.tar.gz", 100, 1)).unwrap().expect("differs");
    assert_eq!(d.entry, None);
    assert_eq!(d.what, "gzip header field extra flags: [00] vs [04]", "level 1 is flagged in the gzip header");
    let d = pack::compare_archives(&a, &write("level3.tar.gz", 100, 3)).unwrap().expect("differs");
    assert_eq!(d.entry, None);
    assert!(d.what.starts_with("identical tar streams, but the compressed bytes differ at byte "), "{d}");

    // Same manifest and headers, other content for b/two (same length): only the content differs.
    let p = t.path().join("content.tar.gz");
    let mut f = fs::File::create(&p).expect("create");
    // The writer checks hashes against the manifest, so forge the member through tar directly.
    let gz = flate2::GzBuilder::new().mtime(0).operating_system(255).write(&mut f, flate2::Compression::new(6));
    let mut tb = tar::Builder::new(gz);
    let mut src = tar::Archive::new(flate2::read::GzDecoder::new(fs::File::open(&a).unwrap()));
    for e in src.entries().unwrap() {
        let mut e = e.unwrap();
        let mut h = e.header().clone();
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        let mut data = vec![];
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        if name == "b/two" {
            data = b"3\n".to_vec();
        }
        tb.append_data(&mut h, &name, &data[..]).unwrap();
    }
    tb.into_inner().unwrap().finish().unwrap();
    let d = pack::compare_archives(&a, &p).unwrap().expect("differs");
    assert_eq!(d.entry.as_deref(), Some("b/two"));
    assert_eq!(d.what, "content differs from byte 0");
    assert_eq!(d.to_string(), "entry `b/two`: content differs from byte 0");
}

#[test]
fn missing_source_date_epoch_is_exit_2_with_the_variable_named() {
    let (t, recipe, dest) = fixture("pack-no-epoch");
    let out = t.path().join("out");
    let r = igos(
        &["--recipe", recipe.to_str().unwrap(), "--destdir", dest.to_str().unwrap(), "--out", out.to_str().unwrap(), "--color", "never"],
        None,
    );
    assert_eq!(r.status.code(), Some(2));
    let stderr = text(&r.stderr);
    assert!(stderr.contains("SOURCE_DATE_EPOCH is not set"), "{stderr}");
    assert!(!out.exists(), "nothing is created without the epoch");
    // The binary prints exactly the library's diagnostic, drawn plain.
    let lib = diagnostic::render(&pack::source_date_epoch(None).unwrap_err().diagnostic(), Style::PLAIN);
    assert_eq!(stderr, lib);
    insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("pack-missing-source-date-epoch", lib);
    });
}

#[test]
fn a_non_numeric_source_date_epoch_is_exit_2() {
    let (t, recipe, dest) = fixture("pack-bad-epoch");
    for bad in ["yesterday", "", "-5", "1.5", " 17"] {
        let r = igos(&["--recipe", recipe.to_str().unwrap(), "--destdir", dest.to_str().unwrap(), "--out", t.path().join("out").to_str().unwrap()], Some(bad));
        assert_eq!(r.status.code(), Some(2), "SOURCE_DATE_EPOCH=`{bad}`");
        assert!(text(&r.stderr).contains("is not a number of seconds"), "{}", text(&r.stderr));
    }
}

#[test]
fn a_fifo_in_the_destdir_is_exit_2_naming_it() {
    let (t, recipe, dest) = fixture("pack-fifo");
    let fifo = dest.join("usr/share/demo/control");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    let out = t.path().join("out");
    for extra in [&[][..], &["--check-reproducible"][..]] {
        let mut args = vec!["--recipe", recipe.to_str().unwrap(), "--destdir", dest.to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        let r = igos(&args, Some(EPOCH));
        assert_eq!(r.status.code(), Some(2), "{extra:?}");
        let stderr = text(&r.stderr);
        assert!(stderr.contains("usr/share/demo/control is a FIFO"), "{stderr}");
        assert!(stderr.contains("pack::special-file"), "{stderr}");
        assert!(!out.exists(), "no output directory and no partial archive");
    }
}

#[test]
fn symlinks_are_stored_never_followed() {
    let (t, recipe, dest) = fixture("pack-symlink");
    // A link to a directory outside the DESTDIR full of files: only the link is packed.
    t.write("elsewhere/other-package/file", "not ours\n");
    symlink(t.path().join("elsewhere"), dest.join("usr/share/outside")).expect("symlink");
    let meta = pack::read_recipe(&recipe).expect("recipe");
    let p = pack::pack(&meta, &dest, &t.path().join("out"), 1).expect("pack");
    let e = p.manifest.entry("usr/share/outside").expect("the link is an entry");
    assert_eq!(e.kind, EntryKind::Symlink { target: t.path().join("elsewhere").to_string_lossy().into_owned() });
    assert!(p.manifest.entries.iter().all(|e| !e.path.contains("other-package")), "nothing behind the link is packed");
}

#[test]
fn a_symlink_climbing_out_of_the_root_is_refused() {
    let (t, recipe, dest) = fixture("pack-link-escape");
    symlink("../../../etc/passwd", dest.join("usr/bin/escape")).expect("symlink");
    let r = igos(&["--recipe", recipe.to_str().unwrap(), "--destdir", dest.to_str().unwrap(), "--out", t.path().join("out").to_str().unwrap()], Some(EPOCH));
    assert_eq!(r.status.code(), Some(2));
    assert!(text(&r.stderr).contains("usr/bin/escape: the symlink target `../../../etc/passwd` climbs out"), "{}", text(&r.stderr));
}

#[test]
fn an_output_directory_inside_the_destdir_is_refused_before_it_is_created() {
    let (_t, recipe, dest) = fixture("pack-out-inside");
    let out = dest.join("usr/../pkgs");
    let r = igos(&["--recipe", recipe.to_str().unwrap(), "--destdir", dest.to_str().unwrap(), "--out", out.to_str().unwrap()], Some(EPOCH));
    assert_eq!(r.status.code(), Some(2));
    assert!(text(&r.stderr).contains("pack::out-in-destdir"), "{}", text(&r.stderr));
    assert!(!dest.join("pkgs").exists(), "the DESTDIR is not touched");
}

#[test]
fn an_unreadable_file_is_exit_2_naming_it() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        eprintln!("skipped: root reads a mode-000 file");
        return;
    }
    let (t, recipe, dest) = fixture("pack-unreadable");
    fs::set_permissions(dest.join("usr/lib/libdemo.so.1"), fs::Permissions::from_mode(0o000)).unwrap();
    let r = igos(&["--recipe", recipe.to_str().unwrap(), "--destdir", dest.to_str().unwrap(), "--out", t.path().join("out").to_str().unwrap()], Some(EPOCH));
    fs::set_permissions(dest.join("usr/lib/libdemo.so.1"), fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(text(&r.stderr).contains("usr/lib/libdemo.so.1: cannot read"), "{}", text(&r.stderr));
}

#[test]
fn recipe_fields_are_read_as_written() {
    let t = TempDir::new("pack-recipe");
    t.write("packages/extra/sysprof/package.yml", "name: sysprof\nversion: 46.0\ndescription: profiler\n");
    let m = pack::read_recipe(&t.path().join("packages/extra/sysprof")).expect("recipe");
    assert_eq!((m.version.as_str(), m.release, m.tier.as_str()), ("46.0", 1, "extra"), "version as written, release 1, tier from the directory");
    assert!(m.depends.is_empty() && m.supersedes.is_empty());
    assert_eq!(pack::archive_file_name(&m), "sysprof-46.0-1.igos.tar.gz");

    t.write("packages/core/folded/package.yml", "name: folded\nversion: '1'\nrelease: '3'\ndescription: >\n  two\n  lines\n");
    let m = pack::read_recipe(&t.path().join("packages/core/folded")).expect("recipe");
    assert_eq!((m.description.as_str(), m.release), ("two lines", 3), "a folded description is one manifest line");

    t.write("packages/core/bad/package.yml", "name: bad\nversion: '1'\nrelease: zero\n");
    let e = pack::read_recipe(&t.path().join("packages/core/bad/package.yml")).unwrap_err();
    assert!(e.message.contains("`release: zero` is not a positive integer"), "{}", e.message);
}

/// igos pack reads a recipe with the tree's reader: what igos check reports as a load problem
/// is refused with the same message, at its file and position, exit 2.
#[test]
fn a_bad_recipe_is_refused_at_its_position() {
    let (t, recipe, dest) = fixture("pack-bad-recipe");
    let file = recipe.join("package.yml");
    for (yml, at, says) in [
        ("name: demo\nversion: '1'\ndependencies: 5\n", ":3:1: ", "`dependencies:` is a number; expected a mapping with build, host and runtime lists"),
        ("name: demo\nversion: '1'\nsource: [\n", ":4:1: ", "YAML does not parse"),
        ("name: [demo]\nversion: '1'\n", ":1:1: ", "`name:` is a list; expected a string"),
    ] {
        fs::write(&file, yml).unwrap();
        let e = pack::read_recipe(&recipe).unwrap_err();
        assert!(e.message.starts_with(&format!("{}{at}", file.display())) && e.message.contains(says), "{yml:?}: {}", e.message);
        let r = igos(&["--recipe", recipe.to_str().unwrap(), "--destdir", dest.to_str().unwrap(), "--out", t.path().join("out").to_str().unwrap()], Some(EPOCH));
        assert_eq!(r.status.code(), Some(2), "{yml:?}");
        let err = text(&r.stderr);
        assert!(err.contains("pack::recipe") && err.contains(&format!("package.yml{}", at.trim_end())), "{yml:?}: {err}");
    }
}

#[test]
fn metadata_pkm_could_not_read_is_refused() {
    let (t, _, dest) = fixture("pack-bad-meta");
    t.write("packages/core/demo2/package.yml", "name: demo2\nversion: '1'\ndependencies:\n  runtime:\n    - glibc >= 2.38\n");
    let meta = pack::read_recipe(&t.path().join("packages/core/demo2")).expect("recipe");
    let errs = pack::pack(&meta, &dest, &t.path().join("out"), 1).unwrap_err();
    assert_eq!(errs.first().map(|e| e.code), Some("metadata"));
    assert!(errs[0].message.contains("glibc >= 2.38"), "{}", errs[0].message);
    assert!(!t.path().join("out").exists());
}

#[test]
fn help_teaches_with_an_example() {
    let r = Command::new(env!("CARGO_BIN_EXE_igos")).args(["pack", "--help"]).output().expect("run");
    let help = text(&r.stdout);
    assert_eq!(r.status.code(), Some(0));
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)"), "{help}");
    assert!(help.contains("igos pack --check-reproducible"), "{help}");
}

/// Round trip: an archive from `igos pack` installs with pkm (strict trust, against a
/// synced index) and passes `pkm verify`; its SUPERSEDES is honoured by pkm's rules.
#[test]
fn packed_archives_install_with_pkm_and_verify() {
    let (t, archive, manifest) = packed_archive_for_pkm_round_trip("pack-pkm");
    let pkm = env!("CARGO_BIN_EXE_pkm");
    let root = t.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(pkm).arg("--root").arg(&root).args(args).output().expect("pkm runs");
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    };
    // The predecessor named by SUPERSEDES, packed the same way.
    let old_dest = t.path().join("old-dest");
    std::fs::create_dir_all(old_dest.join("usr/share/demo-old")).unwrap();
    std::fs::write(old_dest.join("usr/share/demo-old/README"), "old\n").unwrap();
    let mut old_meta = igos::pack::read_recipe(&t.path().join("packages/core/demo")).expect("recipe");
    old_meta.name = "demo-old".into();
    old_meta.supersedes.clear();
    old_meta.depends.clear();
    let old = igos::pack::pack(&old_meta, &old_dest, &t.path().join("out-old"), 1_700_000_000).expect("pack old");

    let sha = |p: &std::path::Path| igos::archive::sha256_reader(std::fs::File::open(p).unwrap()).unwrap();
    let index = t.path().join("index.txt");
    let line = |m: &igos::archive::Manifest, p: &std::path::Path| {
        format!("{} {} {} {} {}\n", m.name, m.version, m.release, sha(p), p.file_name().unwrap().to_string_lossy())
    };
    std::fs::write(&index, format!("igos-index 1\n{}{}", line(&manifest, &archive), line(&old.manifest, &old.path))).unwrap();
    let (code, out) = run(&["sync", index.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");

    // Its runtime dependencies (glibc, zlib) are not packed here: --nodeps.
    // Alone, its SUPERSEDES predecessor is missing: pkm's supersede-order rule refuses it.
    let (code, out) = run(&["install", "--nodeps", archive.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("supersede-order"), "{out}");
    // In order, the queue installs and everything verifies.
    let (code, out) = run(&["install", "--nodeps", old.path.to_str().unwrap(), archive.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["verify"]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["list"]);
    assert!(code == Some(0) && out.contains("demo 46.0"), "{out}");
}
