//! Declarative scenario suite: each scenario is packages + steps + expected state, run against a
//! real root, real archives and the real pkm binary.

mod pkm_support;
use pkm_support::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

#[derive(Clone, Debug)]
enum Step {
    /// Install keys as one queue (strict trust; the scenario's index is synced first), expect exit.
    Install(&'static [&'static str], i32),
    InstallTrust(&'static [&'static str], &'static str, i32),
    Remove(&'static [&'static str], bool, i32),
    Verify(&'static [&'static str], i32),
    Doctor(i32),
    /// Sync an index listing exactly these keys (replacing the automatic one).
    Sync(&'static [&'static str]),
    /// Sync an index where this key's hash is wrong.
    SyncTampered(&'static str),
    Write(&'static str, &'static str),
    Delete(&'static str),
    Run(&'static [&'static str], i32),
    Expect(Check),
}

#[derive(Clone, Debug)]
enum Check {
    Content(&'static str, &'static str),
    Absent(&'static str),
    IsLink(&'static str),
    IsDir(&'static str),
    Mode(&'static str, u32),
    Owner(&'static str, &'static str),
    NoOwner(&'static str),
    Installed(&'static str, &'static str),
    NotInstalled(&'static str),
    Superseded(&'static str, &'static str),
    NotSuperseded(&'static str),
    Stdout(&'static str),
    Stderr(&'static str),
    HistoryOps(&'static [&'static str]),
    Consistent,
}

struct Scenario {
    name: &'static str,
    pkgs: fn() -> Vec<(&'static str, Pkg)>,
    steps: Vec<Step>,
}

use Check::*;
use Step::*;

fn hello() -> Vec<(&'static str, Pkg)> {
    vec![
        ("hello", pkg("hello", "1.0", &[("usr/bin/hello", exe("hello 1")), ("usr/share/hello/README", file("readme 1")), ("etc/hello.conf", file("greeting=hi\n"))])),
        ("hello2", pkg("hello", "2.0", &[("usr/bin/hello", exe("hello 2")), ("usr/share/hello/NEWS", file("news 2")), ("etc/hello.conf", file("greeting=hello\n"))])),
        ("hello-same-conf", pkg("hello", "2.1", &[("usr/bin/hello", exe("hello 2.1")), ("etc/hello.conf", file("greeting=hi\n"))])),
        ("rival", pkg("rival", "1.0", &[("usr/bin/hello", exe("rival"))])),
        ("hello-ng", pkg("hello-ng", "3.0", &[("usr/bin/hello", exe("hello ng")), ("etc/hello.conf", file("greeting=ng\n"))]).supersedes(&["hello"])),
        ("libfoo", pkg("libfoo", "1.0", &[("usr/lib/libfoo.so.1", file("ELF foo")), ("usr/lib/libfoo.so", link("libfoo.so.1"))])),
        ("badlib", pkg("badlib", "1.0", &[("lib/libbad.so", file("ELF bad"))])),
        ("badbin", pkg("badbin", "1.0", &[("bin/bad", exe("bad"))])),
        ("dirclash", pkg("dirclash", "1.0", &[("usr/share/hello", file("I am a file"))])),
        ("suid", pkg("suid", "1.0", &[("usr/bin/su", Node::File(b"su".to_vec(), 0o4755)), ("usr/bin/wall", Node::File(b"wall".to_vec(), 0o2755))])),
        ("sharedir", pkg("sharedir", "1.0", &[("usr/share/hello/extra", file("extra"))])),
        ("odd-paths", pkg("odd-paths", "1.0", &[
            ("usr/share/odd/a path with spaces %20 and percent.txt", file("spaces")),
            ("usr/share/odd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/long-name-beyond-100-bytes.txt", file("long")),
            ("usr/share/odd/ünïcödé", file("utf8")),
        ])),
        ("abslink", pkg("abslink", "1.0", &[("usr/share/xkb", link("/usr/share/xkeyboard-config-2"))])),
    ]
}

fn util_linux() -> Vec<(&'static str, Pkg)> {
    vec![
        ("ul", pkg("util-linux", "2.39", &[
            ("usr/bin/mount", Node::File(b"mount 2.39".to_vec(), 0o4755)),
            ("usr/bin/umount", exe("umount 2.39")),
            ("usr/bin/fdisk", exe("fdisk 2.39")),
            ("usr/bin/cal", exe("cal 2.39")),
            ("usr/bin/rename", exe("rename 2.39")),
            ("usr/lib/libblkid.so.1", file("blkid 2.39")),
            ("etc/fstab", file("# fstab\n")),
        ])),
        ("core", pkg("util-linux-core", "2.40", &[
            ("usr/bin/mount", Node::File(b"mount 2.40".to_vec(), 0o4755)),
            ("usr/bin/umount", exe("umount 2.40")),
            ("usr/lib/libblkid.so.1", file("blkid 2.40")),
            ("etc/fstab", file("# fstab 2.40\n")),
        ]).supersedes(&["util-linux"])),
        ("extra", pkg("util-linux-extra", "2.40", &[
            ("usr/bin/fdisk", exe("fdisk 2.40")),
            ("usr/bin/cal", exe("cal 2.40")),
        ]).supersedes(&["util-linux"])),
        ("stray", pkg("stray", "1.0", &[("usr/bin/rename", exe("stray rename"))])),
    ]
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario { name: "install-basic", pkgs: hello, steps: vec![
            Install(&["hello"], 0),
            Expect(Content("usr/bin/hello", "hello 1")), Expect(Mode("usr/bin/hello", 0o755)),
            Expect(Owner("usr/bin/hello", "hello")), Expect(Installed("hello", "1.0")),
            Expect(Content("var/lib/igos/packages/hello-1.0", "name: hello")), Expect(HistoryOps(&["sync", "install"])), Expect(Consistent),
        ]},
        Scenario { name: "install-twice-rejected", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Install(&["hello"], 1), Expect(Stderr("already-installed")), Expect(Consistent),
        ]},
        Scenario { name: "install-missing-archive-exit-2", pkgs: hello, steps: vec![
            Run(&["install", "/nonexistent/x.igos.tar.gz"], 2), Expect(Stderr("archive::missing")),
        ]},
        Scenario { name: "library-and-symlink", pkgs: hello, steps: vec![
            Install(&["libfoo"], 0), Expect(IsLink("usr/lib/libfoo.so")), Expect(Content("usr/lib/libfoo.so", "ELF foo")),
            Expect(Owner("usr/lib/libfoo.so", "libfoo")), Expect(Consistent),
        ]},
        Scenario { name: "absolute-symlink-target-accepted", pkgs: hello, steps: vec![
            Install(&["abslink"], 0), Expect(IsLink("usr/share/xkb")), Expect(Consistent),
        ]},
        Scenario { name: "setuid-setgid-restored", pkgs: hello, steps: vec![
            Install(&["suid"], 0), Expect(Mode("usr/bin/su", 0o4755)), Expect(Mode("usr/bin/wall", 0o2755)), Expect(Consistent),
        ]},
        Scenario { name: "lib-symlink-not-turned-into-dir", pkgs: hello, steps: vec![
            Install(&["badlib"], 1), Expect(Stderr("rule::directory-collision")), Expect(Stderr("/lib")), Expect(IsLink("lib")),
            Expect(NotInstalled("badlib")), Expect(Absent("usr/lib/libbad.so")),
        ]},
        Scenario { name: "bin-symlink-not-turned-into-dir", pkgs: hello, steps: vec![
            Install(&["badbin"], 1), Expect(Stderr("directory-collision")), Expect(IsLink("bin")), Expect(NotInstalled("badbin")),
        ]},
        Scenario { name: "file-over-directory-rejected", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Install(&["dirclash"], 1), Expect(Stderr("directory-collision")), Expect(IsDir("usr/share/hello")),
            Expect(NotInstalled("dirclash")), Expect(Consistent),
        ]},
        Scenario { name: "file-conflict-rejected", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Install(&["rival"], 1), Expect(Stderr("rule::file-conflict")), Expect(Stderr("owned by hello")),
            Expect(Content("usr/bin/hello", "hello 1")), Expect(Owner("usr/bin/hello", "hello")), Expect(NotInstalled("rival")), Expect(Consistent),
        ]},
        Scenario { name: "file-conflict-within-queue", pkgs: hello, steps: vec![
            Install(&["hello", "rival"], 1), Expect(Stderr("file-conflict")), Expect(NotInstalled("hello")), Expect(NotInstalled("rival")), Expect(Absent("usr/bin/hello")),
        ]},
        Scenario { name: "shared-directory-two-owners", pkgs: hello, steps: vec![
            Install(&["hello", "sharedir"], 0), Expect(Content("usr/share/hello/extra", "extra")),
            Remove(&["sharedir"], false, 0), Expect(IsDir("usr/share/hello")), Expect(Absent("usr/share/hello/extra")), Expect(Consistent),
        ]},
        Scenario { name: "supersede-basic", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Install(&["hello-ng"], 0),
            Expect(Content("usr/bin/hello", "hello ng")), Expect(Owner("usr/bin/hello", "hello-ng")),
            Expect(Superseded("hello", "hello-ng")), Expect(Owner("usr/share/hello/README", "hello")),
            Expect(Content("usr/share/hello/README", "readme 1")), Expect(HistoryOps(&["sync", "install", "install", "supersede"])), Expect(Consistent),
        ]},
        Scenario { name: "supersede-same-queue-in-order", pkgs: hello, steps: vec![
            Install(&["hello", "hello-ng"], 0), Expect(Superseded("hello", "hello-ng")), Expect(Owner("usr/bin/hello", "hello-ng")), Expect(Consistent),
        ]},
        Scenario { name: "supersede-queue-wrong-order", pkgs: hello, steps: vec![
            Install(&["hello-ng", "hello"], 1), Expect(Stderr("rule::supersede-order")), Expect(Stderr("later in the install queue")),
            Expect(NotInstalled("hello")), Expect(NotInstalled("hello-ng")), Expect(Absent("usr/bin/hello")),
        ]},
        Scenario { name: "supersede-missing-predecessor", pkgs: hello, steps: vec![
            Install(&["hello-ng"], 1), Expect(Stderr("supersede-order")), Expect(Stderr("neither installed nor earlier")), Expect(NotInstalled("hello-ng")),
        ]},
        Scenario { name: "superseded-cannot-reinstall", pkgs: hello, steps: vec![
            Install(&["hello", "hello-ng"], 0), Install(&["hello2"], 1), Expect(Stderr("superseded")),
        ]},
        Scenario { name: "util-linux-split", pkgs: util_linux, steps: vec![
            Install(&["ul"], 0), Install(&["core", "extra"], 0),
            Expect(Owner("usr/bin/mount", "util-linux-core")), Expect(Owner("usr/lib/libblkid.so.1", "util-linux-core")),
            Expect(Owner("usr/bin/fdisk", "util-linux-extra")), Expect(Owner("usr/bin/cal", "util-linux-extra")),
            Expect(Owner("usr/bin/rename", "util-linux")), Expect(Content("usr/bin/rename", "rename 2.39")),
            Expect(Content("usr/bin/mount", "mount 2.40")), Expect(Mode("usr/bin/mount", 0o4755)),
            Expect(Superseded("util-linux", "util-linux-core,util-linux-extra")),
            Expect(NotSuperseded("util-linux-core")), Expect(Consistent),
        ]},
        Scenario { name: "util-linux-split-separate-runs", pkgs: util_linux, steps: vec![
            Install(&["ul"], 0), Install(&["extra"], 0), Install(&["core"], 0),
            Expect(Owner("usr/bin/fdisk", "util-linux-extra")), Expect(Owner("usr/bin/mount", "util-linux-core")),
            Expect(Superseded("util-linux", "util-linux-extra,util-linux-core")), Verify(&[], 0), Expect(Consistent),
        ]},
        Scenario { name: "util-linux-split-all-in-one-queue", pkgs: util_linux, steps: vec![
            Install(&["ul", "core", "extra"], 0), Expect(Owner("usr/bin/cal", "util-linux-extra")), Expect(Consistent),
        ]},
        Scenario { name: "util-linux-split-wrong-order", pkgs: util_linux, steps: vec![
            Install(&["core", "ul"], 1), Expect(Stderr("supersede-order")), Expect(NotInstalled("util-linux")),
        ]},
        Scenario { name: "residual-file-conflict-after-split", pkgs: util_linux, steps: vec![
            Install(&["ul", "core", "extra"], 0), Install(&["stray"], 1), Expect(Stderr("file-conflict")), Expect(Stderr("owned by util-linux")),
        ]},
        Scenario { name: "split-then-remove-predecessor-residue", pkgs: util_linux, steps: vec![
            Install(&["ul", "core", "extra"], 0), Remove(&["util-linux"], false, 0),
            Expect(Absent("usr/bin/rename")), Expect(NoOwner("usr/bin/rename")), Expect(Content("usr/bin/mount", "mount 2.40")), Expect(Owner("usr/bin/mount", "util-linux-core")), Expect(Consistent),
        ]},
        Scenario { name: "upgrade-same-name", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Install(&["hello2"], 0),
            Expect(Installed("hello", "2.0")), Expect(Content("usr/bin/hello", "hello 2")), Expect(Absent("usr/share/hello/README")),
            Expect(Content("usr/share/hello/NEWS", "news 2")), Expect(Absent("var/lib/igos/packages/hello-1.0")),
            Expect(Content("etc/hello.conf", "greeting=hello\n")), Expect(HistoryOps(&["sync", "install", "upgrade"])), Expect(Consistent),
        ]},
        Scenario { name: "config-unmodified-replaced", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Install(&["hello2"], 0), Expect(Content("etc/hello.conf", "greeting=hello\n")), Expect(Absent("etc/hello.conf.new")),
        ]},
        Scenario { name: "config-modified-kept-new-beside", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Write("etc/hello.conf", "greeting=mine\n"), Install(&["hello2"], 0),
            Expect(Content("etc/hello.conf", "greeting=mine\n")), Expect(Content("etc/hello.conf.new", "greeting=hello\n")),
            Expect(Absent("etc/hello.conf.pkmnew")), Expect(Stdout("hello.conf.new")), Verify(&[], 0), Expect(Stdout("CONFIG-DRIFT /etc/hello.conf")),
        ]},
        Scenario { name: "config-modified-kept-through-supersede", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Write("etc/hello.conf", "greeting=mine\n"), Install(&["hello-ng"], 0),
            Expect(Content("etc/hello.conf", "greeting=mine\n")), Expect(Content("etc/hello.conf.new", "greeting=ng\n")), Expect(Owner("etc/hello.conf", "hello-ng")),
        ]},
        Scenario { name: "config-identical-to-new-no-dotnew", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Write("etc/hello.conf", "greeting=hi\n"), Install(&["hello-same-conf"], 0), Expect(Absent("etc/hello.conf.new")),
        ]},
        Scenario { name: "config-preexisting-unowned-kept", pkgs: hello, steps: vec![
            Write("etc/hello.conf", "local admin file\n"), Install(&["hello"], 0),
            Expect(Content("etc/hello.conf", "local admin file\n")), Expect(Content("etc/hello.conf.new", "greeting=hi\n")),
        ]},
        Scenario { name: "remove-keeps-config", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Remove(&["hello"], false, 0),
            Expect(Absent("usr/bin/hello")), Expect(Absent("usr/share/hello")), Expect(Content("etc/hello.conf", "greeting=hi\n")),
            Expect(NotInstalled("hello")), Expect(Absent("var/lib/igos/packages/hello-1.0")), Expect(IsDir("usr/bin")), Expect(Stdout("kept config /etc/hello.conf")),
            Expect(HistoryOps(&["sync", "install", "remove"])), Expect(Consistent),
        ]},
        Scenario { name: "remove-force-removes-config", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Remove(&["hello"], true, 0), Expect(Absent("etc/hello.conf")), Expect(IsDir("etc")),
        ]},
        Scenario { name: "remove-modified-file-warns", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Write("usr/bin/hello", "tampered"), Remove(&["hello"], false, 0),
            Expect(Absent("usr/bin/hello")), Expect(Stdout("modified since install; removed anyway")),
        ]},
        Scenario { name: "remove-not-installed", pkgs: hello, steps: vec![
            Remove(&["nothere"], false, 1), Expect(Stderr("not installed")),
        ]},
        Scenario { name: "remove-keeps-nonempty-dir", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Write("usr/share/hello/local-notes", "mine"), Remove(&["hello"], false, 0),
            Expect(IsDir("usr/share/hello")), Expect(Content("usr/share/hello/local-notes", "mine")),
        ]},
        Scenario { name: "remove-then-reinstall", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Remove(&["hello"], true, 0), Install(&["hello"], 0), Expect(Installed("hello", "1.0")), Expect(Consistent),
        ]},
        Scenario { name: "verify-clean", pkgs: hello, steps: vec![
            Install(&["hello", "libfoo"], 0), Verify(&[], 0), Expect(Stdout("0 findings")),
        ]},
        Scenario { name: "verify-modified-binary", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Write("usr/bin/hello", "evil"), Verify(&[], 1), Expect(Stdout("MODIFIED /usr/bin/hello (hello)")),
        ]},
        Scenario { name: "verify-modified-library-named", pkgs: hello, steps: vec![
            Install(&["hello", "libfoo"], 0), Write("usr/lib/libfoo.so.1", "patched"), Verify(&["libfoo"], 1), Expect(Stdout("MODIFIED /usr/lib/libfoo.so.1 (libfoo)")),
        ]},
        Scenario { name: "verify-config-drift-only", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Write("etc/hello.conf", "edited"), Verify(&[], 0), Expect(Stdout("CONFIG-DRIFT /etc/hello.conf (hello)")), Expect(Stdout("0 findings, 1 config drift")),
        ]},
        Scenario { name: "verify-missing-file", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Delete("usr/share/hello/README"), Verify(&[], 1), Expect(Stdout("MISSING /usr/share/hello/README")),
        ]},
        Scenario { name: "trust-strict-not-in-index", pkgs: hello, steps: vec![
            Sync(&["libfoo"]), Install(&["hello"], 1), Expect(Stderr("trust::untrusted")), Expect(Stderr("pkm sync")), Expect(NotInstalled("hello")), Expect(Absent("usr/bin/hello")),
        ]},
        Scenario { name: "trust-strict-hash-mismatch", pkgs: hello, steps: vec![
            SyncTampered("hello"), Install(&["hello"], 1), Expect(Stderr("trust::hash-mismatch")), Expect(Stderr("stop")), Expect(NotInstalled("hello")),
        ]},
        Scenario { name: "trust-loose-warns", pkgs: hello, steps: vec![
            SyncTampered("hello"), InstallTrust(&["hello"], "loose", 0), Expect(Stdout("warning")), Expect(Installed("hello", "1.0")),
        ]},
        Scenario { name: "trust-repo-only-accepts-published", pkgs: hello, steps: vec![
            InstallTrust(&["hello"], "repo-only", 0), Expect(Installed("hello", "1.0")),
        ]},
        Scenario { name: "trust-repo-only-rejects-renamed", pkgs: hello, steps: vec![
            Run(&["install", "--archive-trust", "repo-only", "@renamed:hello"], 1), Expect(Stderr("trust::not-repo")), Expect(NotInstalled("hello")),
        ]},
        Scenario { name: "trust-never-synced", pkgs: hello, steps: vec![
            Sync(&[]), Install(&["hello"], 1), Expect(Stderr("not in the synced index")),
        ]},
        Scenario { name: "owns-and-files", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Run(&["owns", "/usr/bin/hello"], 0), Expect(Stdout("/usr/bin/hello is owned by hello")),
            Run(&["owns", "/usr/bin/nothing"], 1), Run(&["files", "hello"], 0), Expect(Stdout("/usr/share/hello/README")),
            Run(&["info", "hello"], 0), Expect(Stdout("version: 1.0")), Run(&["list"], 0), Expect(Stdout("hello 1.0-1")),
        ]},
        Scenario { name: "doctor-rewrites-divergent-manifest", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Write("var/lib/igos/packages/hello-1.0", "format: igos-archive 1\nname: hello\nversion: 1.0\nfiles:\n"),
            Write("var/lib/igos/packages/ghost-9", "junk"), Doctor(1), Expect(Stdout("divergence")), Expect(Stdout("ghost-9")), Doctor(0), Expect(Consistent),
        ]},
        Scenario { name: "doctor-missing-manifest", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Delete("var/lib/igos/packages/hello-1.0"), Doctor(1), Expect(Content("var/lib/igos/packages/hello-1.0", "usr/bin/hello")), Doctor(0),
        ]},
        Scenario { name: "remove-successor-clears-superseded-by", pkgs: util_linux, steps: vec![
            Install(&["ul", "core", "extra"], 0), Remove(&["util-linux-extra"], false, 0), Expect(Superseded("util-linux", "util-linux-core")),
            Remove(&["util-linux-core"], false, 0), Expect(NotSuperseded("util-linux")), Expect(Consistent),
        ]},
        Scenario { name: "corrupt-database-exit-2", pkgs: hello, steps: vec![
            Write("var/lib/igos/pkm.db", "this is not sqlite, it is garbage of some length........................................................"),
            Run(&["list"], 2), Expect(Stderr("pkm::db")),
        ]},
        Scenario { name: "long-spaced-unicode-paths-round-trip", pkgs: hello, steps: vec![
            Install(&["odd-paths"], 0), Expect(Content("usr/share/odd/a path with spaces %20 and percent.txt", "spaces")),
            Expect(Content("usr/share/odd/ünïcödé", "utf8")), Expect(Owner("usr/share/odd/ünïcödé", "odd-paths")),
            Run(&["owns", "/usr/share/odd/a path with spaces %20 and percent.txt"], 0), Verify(&[], 0), Expect(Consistent),
            Remove(&["odd-paths"], false, 0), Expect(Absent("usr/share/odd")),
        ]},
        Scenario { name: "history-append-only", pkgs: hello, steps: vec![
            Install(&["hello"], 0), Expect(HistoryOps(&["sync", "install"])),
        ]},
    ]
}

fn run_scenario(s: &Scenario) {
    let root = fresh_root();
    let arch = TempDir::new("arch");
    let pkgs: BTreeMap<&str, (Pkg, std::path::PathBuf)> = (s.pkgs)()
        .into_iter()
        .map(|(k, p)| {
            let d = arch.path().join(k);
            fs::create_dir_all(&d).unwrap();
            let a = p.build(&d);
            (k, (p, a))
        })
        .collect();
    let sync = |keys: &[&str], tamper: Option<&str>| {
        let mut txt = String::from("igos-index 1\n");
        for k in keys {
            let (p, a) = &pkgs[k];
            let mut sha = igos::archive::hash_file(a).unwrap();
            if Some(*k) == tamper {
                sha = "0".repeat(64);
            }
            txt.push_str(&format!("{} {} 1 {sha} {}\n", p.name, p.version, p.file_name()));
        }
        let idx = arch.path().join("index.txt");
        fs::write(&idx, txt).unwrap();
        let o = pkm(root.path(), &["sync", idx.to_str().unwrap()], &[]);
        assert_eq!(o.code, 0, "{}: sync failed: {}", s.name, o.stderr);
    };
    let all: Vec<&str> = pkgs.keys().copied().collect();
    sync(&all, None);
    let mut last = Out { code: 0, stdout: String::new(), stderr: String::new() };
    let r = root.path();
    let ctx = |i: usize, st: &Step, o: &Out| format!("scenario {} step {i} {st:?}\nstdout:\n{}\nstderr:\n{}", s.name, o.stdout, o.stderr);
    for (i, st) in s.steps.iter().enumerate() {
        let archives = |keys: &[&str]| keys.iter().map(|k| pkgs[k].1.to_str().unwrap().to_string()).collect::<Vec<_>>();
        let mut run = |args: Vec<String>, want: i32| {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            last = pkm(r, &a, &[]);
            assert_eq!(last.code, want, "{}", ctx(i, st, &last));
        };
        match st {
            Install(keys, want) => run([vec!["install".to_string()], archives(keys)].concat(), *want),
            InstallTrust(keys, mode, want) => run([vec!["install".into(), "--archive-trust".into(), mode.to_string()], archives(keys)].concat(), *want),
            Remove(keys, force, want) => {
                let mut a = vec!["remove".to_string()];
                if *force {
                    a.push("--force".into());
                }
                a.extend(keys.iter().map(|k| k.to_string()));
                run(a, *want)
            }
            Verify(names, want) => run([vec!["verify".to_string()], names.iter().map(|n| n.to_string()).collect()].concat(), *want),
            Doctor(want) => run(vec!["doctor".into()], *want),
            Sync(keys) => sync(keys, None),
            SyncTampered(k) => sync(&all, Some(k)),
            Write(p, c) => {
                let dest = r.join(p);
                fs::create_dir_all(dest.parent().unwrap()).unwrap();
                fs::write(dest, c).unwrap()
            }
            Delete(p) => fs::remove_file(r.join(p)).unwrap(),
            Run(args, want) => {
                let a = args
                    .iter()
                    .map(|x| match x.strip_prefix("@renamed:") {
                        Some(k) => {
                            let dst = arch.path().join("renamed.igos.tar.gz");
                            fs::copy(&pkgs[k].1, &dst).unwrap();
                            dst.to_str().unwrap().to_string()
                        }
                        None => x.to_string(),
                    })
                    .collect();
                run(a, *want)
            }
            Expect(c) => check(r, c, &last, &ctx(i, st, &last)),
        }
    }
}

fn check(r: &Path, c: &Check, last: &Out, ctx: &str) {
    let owner = |p: &str| -> Vec<String> {
        let c = db(r);
        let mut st = c.prepare("SELECT i.name FROM files f JOIN installed i ON i.id=f.package_id WHERE f.path=?1 AND f.is_dir=0").unwrap();
        st.query_map([p], |r| r.get(0)).unwrap().map(|x| x.unwrap()).collect()
    };
    let installed = |n: &str| -> Option<(String, Option<String>)> {
        db(r).query_row("SELECT version, superseded_by FROM installed WHERE name=?1", [n], |r| Ok((r.get(0)?, r.get(1)?))).ok()
    };
    match c {
        Content(p, want) => {
            let got = fs::read_to_string(r.join(p)).unwrap_or_else(|e| panic!("{ctx}\n/{p}: {e}"));
            assert!(got.contains(want), "{ctx}\n/{p} = {got:?}, wanted {want:?}");
        }
        Absent(p) => assert!(fs::symlink_metadata(r.join(p)).is_err(), "{ctx}\n/{p} exists"),
        IsLink(p) => assert!(fs::symlink_metadata(r.join(p)).unwrap().file_type().is_symlink(), "{ctx}\n/{p} not a symlink"),
        IsDir(p) => assert!(fs::symlink_metadata(r.join(p)).map(|m| m.is_dir()).unwrap_or(false), "{ctx}\n/{p} not a dir"),
        Mode(p, m) => assert_eq!(fs::symlink_metadata(r.join(p)).unwrap().permissions().mode() & 0o7777, *m, "{ctx}"),
        Owner(p, o) => assert_eq!(owner(p), vec![o.to_string()], "{ctx}"),
        NoOwner(p) => assert!(owner(p).is_empty(), "{ctx}"),
        Installed(n, v) => assert_eq!(installed(n).map(|x| x.0), Some(v.to_string()), "{ctx}"),
        NotInstalled(n) => assert!(installed(n).is_none(), "{ctx}\n{n} installed"),
        Superseded(n, by) => assert_eq!(installed(n).and_then(|x| x.1), Some(by.to_string()), "{ctx}"),
        NotSuperseded(n) => assert_eq!(installed(n).map(|x| x.1), Some(None), "{ctx}"),
        Stdout(s) => assert!(last.stdout.contains(s), "{ctx}\nstdout lacks {s:?}"),
        Stderr(s) => assert!(last.stderr.contains(s), "{ctx}\nstderr lacks {s:?}"),
        HistoryOps(ops) => assert_eq!(query_strings(r, "SELECT operation FROM history ORDER BY id"), ops.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{ctx}"),
        Consistent => assert_consistent(r),
    }
}

#[test]
fn scenario_suite() {
    let all = scenarios();
    assert!(all.len() >= 40, "only {} scenarios", all.len());
    let mut names = std::collections::BTreeSet::new();
    for s in &all {
        assert!(names.insert(s.name), "duplicate scenario {}", s.name);
    }
    let filter = std::env::var("PKM_SCENARIO").ok();
    let mut failed = Vec::new();
    for s in &all {
        if filter.as_deref().map(|f| s.name.contains(f)).unwrap_or(true)
            && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_scenario(s))).is_err()
        {
            failed.push(s.name);
        }
    }
    assert!(failed.is_empty(), "{} of {} scenarios failed: {failed:?}", failed.len(), all.len());
}

#[test]
fn history_is_append_only_in_the_database() {
    let root = fresh_root();
    let o = pkm(root.path(), &["doctor"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let c = db(root.path());
    c.execute("INSERT INTO history(timestamp, operation, package_name) VALUES ('t', 'x', 'y')", []).unwrap();
    assert!(c.execute("UPDATE history SET operation='z'", []).is_err());
    assert!(c.execute("DELETE FROM history", []).is_err());
    let v: i64 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, igos::pkm::schema::SCHEMA_VERSION);
    let j: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(j, "wal");
}

#[test]
fn writer_is_deterministic() {
    let a = TempDir::new("det-a");
    let b = TempDir::new("det-b");
    let p = &hello()[0].1;
    let x = fs::read(p.build(a.path())).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let y = fs::read(p.build(b.path())).unwrap();
    assert_eq!(x, y);
}

#[test]
fn a_database_from_a_newer_pkm_is_refused_with_exit_2() {
    let root = fresh_root();
    assert_eq!(pkm(root.path(), &["doctor"], &[]).code, 0);
    db(root.path()).execute_batch("PRAGMA user_version = 99").unwrap();
    let o = pkm(root.path(), &["list"], &[]);
    assert_eq!(o.code, 2, "{}", o.stderr);
    assert!(o.stderr.contains("pkm::db::newer-schema"), "{}", o.stderr);
}
