//! Hostile inputs at the edges, one row per case: FIFOs, devices and links to them,
//! directories where files belong, permissions as a non-root user, very long lines, and
//! control, bidi and invisible characters in every data source. Each row sets up a real
//! tree, runs the real binary (under `timeout`, so a hang fails the row instead of the CI,
//! and under an address-space limit, so a read that never ends fails it too) and states
//! the exit code. Every row also holds these invariants: no panic, no backtrace, the
//! named path or text in the output, and no raw control, bidi or invisible character from
//! the data on the terminal. The rendered diagnostics of all rows are one snapshot
//! (`io-hostile-inputs`), reviewed as a table.

mod support;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use support::{valid_tree, TempDir};

/// A run that takes longer than this is a hang.
const TIMEOUT_S: &str = "30";
/// Address space allowed to igos (bytes): reading /dev/zero would pass it in a second.
const MEMORY_LIMIT: &str = "3000000000";

#[derive(Clone, Copy, PartialEq)]
enum User {
    Root,
    /// uid/gid 65534 with no groups: permissions apply (the tests run as root).
    Nobody,
}

struct Case {
    name: &'static str,
    setup: Box<dyn Fn(&Path)>,
    /// Arguments; `{root}` is the tree, `{rules}` its rules/ directory.
    args: Vec<&'static str>,
    code: i32,
    /// Text the output must contain (a path, a file name, a reason; `A && B`: both).
    names: &'static str,
    user: User,
}

fn case(name: &'static str, args: &[&'static str], code: i32, names: &'static str, setup: impl Fn(&Path) + 'static) -> Case {
    Case { name, setup: Box::new(setup), args: args.to_vec(), code, names, user: User::Root }
}

fn as_nobody(mut c: Case) -> Case {
    c.user = User::Nobody;
    c
}

// ---- setup helpers --------------------------------------------------------------------------

fn fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("parent");
    }
    let ok = Command::new("mkfifo").arg(path).status().expect("mkfifo").success();
    assert!(ok, "mkfifo {}", path.display());
}

fn link(target: &str, path: &Path) {
    let _ = std::fs::remove_file(path);
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("parent");
    }
    symlink(target, path).expect("symlink");
}

fn dir(path: &Path) {
    let _ = std::fs::remove_file(path);
    std::fs::create_dir_all(path).expect("dir");
}

fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).expect("parent");
    }
    std::fs::write(path, bytes).expect("write");
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// The project's rules copied into `root/rules`, plus one more file (if any).
fn rules(root: &Path) {
    for (path, text) in igos::rules::BUILT_IN {
        write(&root.join(path), text);
    }
}

fn rules_with(root: &Path, text: impl AsRef<[u8]>) {
    rules(root);
    write(&root.join("rules/zz-extra.pol"), text);
}

/// A reference naming one log for `bat` (Gate 5 reads it).
fn reference(root: &Path, log: &str) {
    write(
        &root.join("build/reference.json"),
        format!("{{\"format\": \"igos-reference/1\", \"packages\": {{\"bat\": {{\"deps\": [\"zlib\"], \"log\": \"{log}\", \"version\": \"1.2.3\"}}}}}}\n"),
    );
}

fn recipe(root: &Path, rel: &str) -> std::path::PathBuf {
    root.join("packages").join(rel)
}

/// A line long enough to pass miette's 65,535 display columns before the label.
fn tabs() -> String {
    "\t".repeat(17_000)
}
fn cjk() -> String {
    "漢".repeat(33_000)
}
fn megabyte() -> String {
    "x".repeat(1_000_000)
}

/// A rule file whose syntax error follows a long run of `pad` on its line.
fn long_rule(pad: &str) -> String {
    format!("policy 1\n\nset padded {{\n  a\n}}\n{pad} set broken {{ ]\n")
}

/// A recipe whose `tier:` line carries `pad` before the value (the tier-move and
/// tier-dir findings point at it).
fn long_recipe(root: &Path, pad: &str) {
    let path = recipe(root, "core/xz/package.yml");
    let text = std::fs::read_to_string(&path).expect("recipe");
    write(&path, text.replace("tier: core\n", &format!("tier: {pad}extra\n")));
}

/// A YAML recipe line that cannot parse, after `pad`.
fn long_bad_yaml(root: &Path, pad: &str) {
    let path = recipe(root, "core/xz/package.yml");
    let text = std::fs::read_to_string(&path).expect("recipe");
    write(&path, format!("{text}extra: [{pad}\n"));
}

fn with_dep(root: &Path, dep_yaml: &str) {
    let path = recipe(root, "base/bat/package.yml");
    let text = std::fs::read_to_string(&path).expect("recipe");
    write(&path, text.replace("  build:\n    - zlib\n", &format!("  build:\n    - zlib\n    - {dep_yaml}\n")));
}

fn with_name(root: &Path, name_yaml: &str) {
    let path = recipe(root, "base/bat/package.yml");
    let text = std::fs::read_to_string(&path).expect("recipe");
    write(&path, text.replace("name: bat\n", &format!("name: {name_yaml}\n")));
}

fn list_line(root: &Path, line: &str) {
    write(&root.join("builders/chroot-build-base.list"), format!("# base\nbat\n{line}\n"));
}

// ---- the table ------------------------------------------------------------------------------

const CHECK: &[&str] = &["check", "--root", "{root}", "--color", "never"];
const CHECK_RULES: &[&str] = &["check", "--root", "{root}", "--rules", "{rules}", "--color", "never"];
const CHECK_JSON_RULES: &[&str] = &["check", "--root", "{root}", "--rules", "{rules}", "--format", "json"];
const CHECK_JSON: &[&str] = &["check", "--root", "{root}", "--format", "json"];
const CHECKS_RULES: &[&str] = &["checks", "--rules", "{rules}", "--color", "never"];
const EXPLAIN_RULES: &[&str] = &["explain", "--root", "{root}", "--rules", "{rules}", "--color", "never", "bat"];
const EXPLAIN: &[&str] = &["explain", "--root", "{root}", "--color", "never", "bat"];
const EXPLAIN_XZ: &[&str] = &["explain", "--root", "{root}", "--color", "never", "xz"];
const PLAN_RULES: &[&str] = &["build", "--plan", "--root", "{root}", "--rules", "{rules}", "--color", "never"];
const FMT_CHECK: &[&str] = &["fmt", "--check", "--color", "never", "{rules}/zz-extra.pol"];
const FMT_CHECK_ALL: &[&str] = &["fmt", "--check", "--color", "never"];
const AGGREGATE: &[&str] = &["audit", "aggregate", "--root", "{root}", "--color", "never"];
const REF_SHOW: &[&str] = &["reference", "show", "--root", "{root}", "--color", "never"];

/// Every command that reads rule files, on the same setup.
fn rules_commands(out: &mut Vec<Case>, tag: &'static str, code: i32, names: &'static str, setup: impl Fn(&Path) + Clone + 'static) {
    let fmt_code = if code == 0 { 0 } else { 2 };
    out.push(case(leak(format!("{tag}: check")), CHECK_RULES, code, names, setup.clone()));
    out.push(case(leak(format!("{tag}: check --format json")), CHECK_JSON_RULES, code, names, setup.clone()));
    out.push(case(leak(format!("{tag}: checks")), CHECKS_RULES, code, names, setup.clone()));
    out.push(case(leak(format!("{tag}: explain")), EXPLAIN_RULES, code, names, setup.clone()));
    out.push(case(leak(format!("{tag}: build --plan")), PLAN_RULES, code, names, setup.clone()));
    out.push(case(leak(format!("{tag}: fmt --check")), FMT_CHECK, fmt_code, names, setup));
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn table() -> Vec<Case> {
    let mut t: Vec<Case> = vec![];

    // FIFOs: refused at once, never waited on.
    rules_commands(&mut t, "a rule file that is a FIFO", 2, "zz-extra.pol && not a regular file (a FIFO)", |r| {
        rules(r);
        fifo(&r.join("rules/zz-extra.pol"));
    });
    // A record the database does not hold is pending without a read; one it holds is read.
    t.push(case("a new audit record that is a FIFO: check", CHECK, 1, "zz", |r| fifo(&r.join("audits/zz.json"))));
    t.push(case("an audit record that is a FIFO: aggregate", AGGREGATE, 2, "audits/zz.json && not a regular file (a FIFO)", |r| fifo(&r.join("audits/zz.json"))));
    t.push(case("a changed audit record that is a FIFO: check", CHECK, 2, "audits/bat.json && not a regular file (a FIFO)", |r| fifo(&r.join("audits/bat.json"))));
    t.push(case("audit.db that is a FIFO: check", CHECK, 2, "build/audit.db && not a regular file (a FIFO)", |r| fifo(&r.join("build/audit.db"))));
    t.push(case("audit.db's WAL that is a FIFO: check", CHECK, 2, "build/audit.db-wal && not a regular file (a FIFO)", |r| fifo(&r.join("build/audit.db-wal"))));
    t.push(case("audit.db's journal linked to /dev/zero: aggregate", AGGREGATE, 2, "build/audit.db-journal && not a regular file", |r| {
        link("/dev/zero", &r.join("build/audit.db-journal"))
    }));
    t.push(case("audit.db that is a FIFO: aggregate", AGGREGATE, 2, "build/audit.db && not a regular file (a FIFO)", |r| fifo(&r.join("build/audit.db"))));
    t.push(case("audit.db that is a FIFO: explain", &["explain", "--root", "{root}", "--color", "never", "tier-move", "bat"], 2, "not a regular file (a FIFO)", |r| {
        fifo(&r.join("build/audit.db"))
    }));
    t.push(case("reference.json that is a FIFO: check", CHECK, 2, "build/reference.json && not a regular file (a FIFO)", |r| fifo(&r.join("build/reference.json"))));
    t.push(case("reference.json that is a FIFO: reference show", REF_SHOW, 2, "build/reference.json && not a regular file (a FIFO)", |r| {
        fifo(&r.join("build/reference.json"))
    }));
    t.push(case("a build log that is a FIFO: check", CHECK, 2, "logs/bat.log && not a regular file (a FIFO)", |r| {
        reference(r, "logs/bat.log");
        fifo(&r.join("logs/bat.log"));
    }));
    t.push(case("fmt given a FIFO", &["fmt", "--color", "never", "{root}/x.pol"], 2, "x.pol && not a regular file (a FIFO)", |r| fifo(&r.join("x.pol"))));
    t.push(case("fmt --check given a FIFO", &["fmt", "--check", "--color", "never", "{root}/x.pol"], 2, "x.pol && not a regular file (a FIFO)", |r| fifo(&r.join("x.pol"))));
    t.push(case("fmt of ./rules holding a FIFO", FMT_CHECK_ALL, 2, "zz-extra.pol && not a regular file (a FIFO)", |r| {
        rules(r);
        fifo(&r.join("rules/zz-extra.pol"));
    }));
    t.push(case("a builder list that is a FIFO: check", CHECK, 1, "not a regular file (a FIFO)", |r| fifo(&r.join("builders/zz.list"))));
    t.push(case("a builder list that is a FIFO: explain", EXPLAIN, 1, "builders/zz.list", |r| fifo(&r.join("builders/zz.list"))));
    t.push(case("package.yml that is a FIFO: check", CHECK, 1, "not a regular file (a FIFO)", |r| fifo(&recipe(r, "core/xz/package.yml"))));
    t.push(case("package.yml that is a FIFO: explain", EXPLAIN, 1, "packages/core/xz/package.yml", |r| fifo(&recipe(r, "core/xz/package.yml"))));
    t.push(case("build.sh that is a FIFO: check", CHECK, 1, "not a regular file (a FIFO)", |r| fifo(&recipe(r, "core/xz/build.sh"))));
    t.push(case(".audit-override that is a FIFO: check", CHECK, 1, "not a regular file (a FIFO)", |r| fifo(&recipe(r, "base/bat/.audit-override"))));
    t.push(case("recipes-with-build-sh.txt that is a FIFO: check", CHECK, 2, "recipes-with-build-sh.txt && not a regular file (a FIFO)", |r| {
        fifo(&r.join("recipes-with-build-sh.txt"))
    }));

    // Devices and links to them: refused, never read (a read of /dev/zero never ends).
    for (dev, what) in [("/dev/zero", "a character device"), ("/dev/null", "a character device"), ("/dev/urandom", "a character device")] {
        let tag = leak(format!("a rule file linked to {dev}"));
        let names = leak(format!("zz-extra.pol && not a regular file ({what})"));
        t.push(case(leak(format!("{tag}: check")), CHECK_RULES, 2, names, move |r| {
            rules(r);
            link(dev, &r.join("rules/zz-extra.pol"));
        }));
        t.push(case(leak(format!("{tag}: checks")), CHECKS_RULES, 2, names, move |r| {
            rules(r);
            link(dev, &r.join("rules/zz-extra.pol"));
        }));
        t.push(case(leak(format!("{tag}: fmt --check")), FMT_CHECK, 2, names, move |r| {
            rules(r);
            link(dev, &r.join("rules/zz-extra.pol"));
        }));
        t.push(case(leak(format!("an audit record linked to {dev}: check")), CHECK, 2, "audits/bat.json && not a regular file", move |r| link(dev, &r.join("audits/bat.json"))));
        t.push(case(leak(format!("an audit record linked to {dev}: aggregate")), AGGREGATE, 2, "audits/zz.json && not a regular file", move |r| link(dev, &r.join("audits/zz.json"))));
        t.push(case(leak(format!("audit.db linked to {dev}: check")), CHECK, 2, "build/audit.db && not a regular file", move |r| link(dev, &r.join("build/audit.db"))));
        t.push(case(leak(format!("reference.json linked to {dev}: check")), CHECK, 2, "build/reference.json && not a regular file", move |r| {
            link(dev, &r.join("build/reference.json"))
        }));
        t.push(case(leak(format!("a build log linked to {dev}: check")), CHECK, 2, "logs/bat.log && not a regular file", move |r| {
            reference(r, "logs/bat.log");
            link(dev, &r.join("logs/bat.log"));
        }));
        t.push(case(leak(format!("a builder list linked to {dev}: check")), CHECK, 1, "builders/zz.list", move |r| link(dev, &r.join("builders/zz.list"))));
        t.push(case(leak(format!("build.sh linked to {dev}: check")), CHECK, 1, "packages/core/xz && build.sh: not a regular file", move |r| link(dev, &recipe(r, "core/xz/build.sh"))));
        t.push(case(leak(format!("fmt given {dev}")), &leak_args(&["fmt", "--check", "--color", "never", dev]), 2, leak(format!("{dev} && not a regular file")), |_| {}));
    }
    // /dev/tty with no controlling terminal (the tests' stdin is not one): refused, and
    // never made the controlling terminal (O_NOCTTY).
    t.push(case("a rule file linked to /dev/tty: check", CHECK_RULES, 2, "zz-extra.pol", |r| {
        rules(r);
        link("/dev/tty", &r.join("rules/zz-extra.pol"));
    }));
    t.push(case("package.yml linked to /dev/tty: check", CHECK, 1, "packages/core/xz/package.yml", |r| link("/dev/tty", &recipe(r, "core/xz/package.yml"))));
    t.push(case("fmt given /dev/tty", &["fmt", "--check", "--color", "never", "/dev/tty"], 2, "/dev/tty", |_| {}));

    // Directories where files belong, and files where directories belong.
    rules_commands(&mut t, "a rule file that is a directory", 2, "zz-extra.pol && not a regular file (a directory)", |r| {
        rules(r);
        dir(&r.join("rules/zz-extra.pol"));
    });
    t.push(case("an audit record that is a directory: check", CHECK, 2, "audits/bat.json && not a regular file (a directory)", |r| {
        let _ = std::fs::remove_file(r.join("audits/bat.json"));
        dir(&r.join("audits/bat.json"));
    }));
    t.push(case("an audit record that is a directory: aggregate", AGGREGATE, 2, "audits/zz.json && not a regular file (a directory)", |r| dir(&r.join("audits/zz.json"))));
    t.push(case("audit.db that is a directory: check", CHECK, 2, "build/audit.db && not a regular file (a directory)", |r| {
        let _ = std::fs::remove_file(r.join("build/audit.db"));
        dir(&r.join("build/audit.db"));
    }));
    t.push(case("audit.db that is a directory: aggregate", AGGREGATE, 2, "build/audit.db && not a regular file (a directory)", |r| {
        let _ = std::fs::remove_file(r.join("build/audit.db"));
        dir(&r.join("build/audit.db"));
    }));
    t.push(case("reference.json that is a directory: check", CHECK, 2, "build/reference.json && not a regular file (a directory)", |r| dir(&r.join("build/reference.json"))));
    t.push(case("a build log that is a directory: check", CHECK, 2, "logs/bat.log && not a regular file (a directory)", |r| {
        reference(r, "logs/bat.log");
        dir(&r.join("logs/bat.log"));
    }));
    // A directory stands for the rule files under it: none here.
    t.push(case("fmt given a directory", &["fmt", "--check", "--color", "never", "{root}/packages"], 2, "packages && no rule files (*.pol)", |_| {}));
    t.push(case("a builder list that is a directory: check", CHECK, 1, "builders/zz.list", |r| dir(&r.join("builders/zz.list"))));
    t.push(case("--rules given a file: check", &["check", "--root", "{root}", "--rules", "{root}/x.pol", "--color", "never"], 2, "x.pol && not a directory", |r| {
        rules_with(r, "policy 1\n");
        write(&r.join("x.pol"), "policy 1\n");
    }));
    t.push(case("--rules given a file: checks", &["checks", "--rules", "{root}/x.pol", "--color", "never"], 2, "x.pol && not a directory", |r| {
        write(&r.join("x.pol"), "policy 1\n")
    }));
    t.push(case("the audit store is a file: check", CHECK, 2, "audits && not a directory", |r| {
        let _ = std::fs::remove_dir_all(r.join("audits"));
        write(&r.join("audits"), "not a directory\n");
    }));
    t.push(case("the audit store is a file: aggregate", AGGREGATE, 2, "audits", |r| {
        let _ = std::fs::remove_dir_all(r.join("audits"));
        write(&r.join("audits"), "not a directory\n");
    }));
    t.push(case("builders is a file: check", CHECK, 2, "packages/builders", |r| {
        let _ = std::fs::remove_dir_all(r.join("builders"));
        write(&r.join("builders"), "not a directory\n");
        write(&r.join("packages/builders"), "not a directory either\n");
    }));
    t.push(case("--root given a file: check", &["check", "--root", "{root}/x", "--color", "never"], 2, "x does not exist or is not a directory", |r| write(&r.join("x"), "")));

    // Permissions, as a user the files are not readable to (root reads everything).
    t.push(as_nobody(case("an unreadable tier directory: check", CHECK, 2, "packages/base && cannot read: Permission denied", |r| chmod(&r.join("packages/base"), 0o000))));
    t.push(as_nobody(case("an unreadable tier directory: explain", EXPLAIN_XZ, 2, "packages/base && cannot read: Permission denied", |r| chmod(&r.join("packages/base"), 0o000))));
    t.push(as_nobody(case("an unreadable tier directory: check --format json", CHECK_JSON, 2, "packages/base && cannot read: Permission denied", |r| {
        chmod(&r.join("packages/base"), 0o000)
    })));
    t.push(as_nobody(case("a tier directory that cannot be searched: check", CHECK, 2, "packages/base", |r| chmod(&r.join("packages/base"), 0o444))));
    t.push(as_nobody(case("an unreadable packages/: check", CHECK, 2, "packages && cannot read: Permission denied", |r| chmod(&r.join("packages"), 0o000))));
    t.push(as_nobody(case("an unreadable packages/: explain", EXPLAIN, 2, "packages", |r| chmod(&r.join("packages"), 0o000))));
    t.push(as_nobody(case("an unreadable builders/: check", CHECK, 2, "builders && cannot read: Permission denied", |r| chmod(&r.join("builders"), 0o000))));
    t.push(as_nobody(case("an unreadable builders/: explain", EXPLAIN, 2, "builders && cannot read: Permission denied", |r| chmod(&r.join("builders"), 0o000))));
    t.push(as_nobody(case("an unreadable recipe directory: check", CHECK, 2, "packages/core/xz && cannot read: Permission denied", |r| {
        chmod(&recipe(r, "core/xz"), 0o000)
    })));
    t.push(as_nobody(case("an unreadable package.yml: check", CHECK, 2, "packages/core/xz/package.yml && cannot read: Permission denied", |r| {
        chmod(&recipe(r, "core/xz/package.yml"), 0o000)
    })));
    t.push(as_nobody(case("an unreadable build.sh: check", CHECK, 2, "packages/core/xz/build.sh && cannot read: Permission denied", |r| {
        write(&recipe(r, "core/xz/build.sh"), "configure() { :; }\n");
        chmod(&recipe(r, "core/xz/build.sh"), 0o000);
    })));
    t.push(as_nobody(case("an unreadable patches/: check", CHECK, 2, "packages/core/xz/patches && cannot read: Permission denied", |r| {
        dir(&recipe(r, "core/xz/patches"));
        chmod(&recipe(r, "core/xz/patches"), 0o000);
    })));
    t.push(as_nobody(case("an unreadable sources/: check", CHECK, 2, "sources && cannot read: Permission denied && --sources", |r| {
        dir(&r.join("sources"));
        chmod(&r.join("sources"), 0o000);
    })));
    t.push(as_nobody(case("an unreadable sources/: explain", &["explain", "--root", "{root}", "--color", "never", "undeclared-dep", "xz"], 2, "sources && cannot read: Permission denied", |r| {
        dir(&r.join("sources"));
        chmod(&r.join("sources"), 0o000);
    })));
    t.push(case("sources/ that is a file: check --format json", CHECK_JSON, 2, "sources && not a directory", |r| write(&r.join("sources"), "")));
    t.push(as_nobody(case("an unreadable builder list: check", CHECK, 2, "chroot-build-base.list && cannot read: Permission denied", |r| {
        chmod(&r.join("builders/chroot-build-base.list"), 0o000)
    })));
    t.push(as_nobody(case("an unreadable rules/: check", CHECK_RULES, 2, "rules && cannot read: Permission denied", |r| {
        rules(r);
        chmod(&r.join("rules"), 0o000);
    })));
    t.push(as_nobody(case("an unreadable rules/: checks", CHECKS_RULES, 2, "rules && cannot read: Permission denied", |r| {
        rules(r);
        chmod(&r.join("rules"), 0o000);
    })));
    t.push(as_nobody(case("an unreadable rule file: check", CHECK_RULES, 2, "cannot read: Permission denied", |r| {
        rules_with(r, "policy 1\n");
        chmod(&r.join("rules/zz-extra.pol"), 0o000);
    })));
    t.push(as_nobody(case("an unreadable rule file: fmt --check", FMT_CHECK, 2, "zz-extra.pol && cannot read: Permission denied", |r| {
        rules_with(r, "policy 1\n");
        chmod(&r.join("rules/zz-extra.pol"), 0o000);
    })));
    t.push(as_nobody(case("an unreadable audit store: check", CHECK, 2, "audits && cannot read: Permission denied", |r| chmod(&r.join("audits"), 0o000))));
    t.push(as_nobody(case("an unreadable audit record: check", CHECK, 2, "audits/bat.json && cannot read: Permission denied", |r| {
        // Touched, so the database's fingerprint no longer vouches for it: it must be read.
        let p = r.join("audits/bat.json");
        let text = std::fs::read(&p).expect("record");
        write(&p, text);
        chmod(&p, 0o000);
    })));
    t.push(as_nobody(case("an unreadable audit.db: check", CHECK, 2, "build/audit.db", |r| chmod(&r.join("build/audit.db"), 0o000))));
    t.push(as_nobody(case("an unreadable reference: check", CHECK, 2, "build/reference.json && cannot read: Permission denied", |r| {
        reference(r, "logs/bat.log");
        chmod(&r.join("build/reference.json"), 0o000);
    })));
    t.push(as_nobody(case("an unreadable build log: check", CHECK, 2, "logs/bat.log && cannot read: Permission denied", |r| {
        reference(r, "logs/bat.log");
        write(&r.join("logs/bat.log"), "ok\n");
        chmod(&r.join("logs/bat.log"), 0o000);
    })));
    t.push(as_nobody(case("an unreadable recipes-with-build-sh.txt: check", CHECK, 2, "recipes-with-build-sh.txt && cannot read: Permission denied", |r| {
        write(&r.join("recipes-with-build-sh.txt"), "xz\n");
        chmod(&r.join("recipes-with-build-sh.txt"), 0o000);
    })));
    t.push(as_nobody(case("a readable tree as nobody: check passes", CHECK, 0, "PASS", |_| {})));

    // Long lines: windowed around the label, never past miette's column limit.
    for (pad_name, pad) in [("17,000 tabs", tabs as fn() -> String), ("33,000 CJK characters", cjk), ("a 1 MiB line", megabyte)] {
        rules_commands(&mut t, leak(format!("{pad_name} before a rule error")), 2, "zz-extra.pol:6:", move |r| rules_with(r, long_rule(&pad())));
        t.push(case(leak(format!("{pad_name} in package.yml's tier line: check")), CHECK, 1, "packages/core/xz/package.yml:7:", move |r| long_recipe(r, &pad())));
        t.push(case(leak(format!("{pad_name} in package.yml's tier line: check --format json")), CHECK_JSON, 1, "packages/core/xz/package.yml", move |r| {
            long_recipe(r, &pad())
        }));
        t.push(case(leak(format!("{pad_name} in package.yml's tier line: explain")), EXPLAIN_XZ, 0, "xz", move |r| long_recipe(r, &pad())));
        t.push(case(leak(format!("{pad_name} before a YAML error: check")), CHECK, 1, "packages/core/xz/package.yml", move |r| long_bad_yaml(r, &pad())));
        t.push(case(leak(format!("{pad_name} as a builder list line: check")), CHECK, 1, "builders/chroot-build-base.list:3:", move |r| list_line(r, &format!("{}bat2", pad()))));
        t.push(case(leak(format!("{pad_name} as a builder list line: explain")), EXPLAIN, 0, "bat", move |r| list_line(r, &format!("{}bat2", pad()))));
    }

    // Control, bidi and invisible characters from each data source, with colour off.
    let esc = "\u{1b}[2J\u{1b}[31mPWNED\u{1b}[0m";
    t.push(case("an escape sequence in a builder list line: check", CHECK, 1, "\\x1b[2J\\x1b[31mPWNED", move |r| list_line(r, esc)));
    t.push(case("an escape sequence in a builder list line: explain", EXPLAIN, 0, "bat", move |r| list_line(r, esc)));
    t.push(case("a bidi override in a builder list line: check", CHECK, 1, "U+202E", |r| list_line(r, "bat\u{202e}txt.exe")));
    t.push(case("a zero-width space in a builder list line: check", CHECK, 1, "U+200B", |r| list_line(r, "b\u{200b}at")));
    t.push(case("YAML \\e escapes in a dependency name: check", CHECK, 1, "\\x1b[31mevil", |r| with_dep(r, "\"\\e[31mevil\\e[0m\"")));
    t.push(case("YAML \\e escapes in a dependency name: check --format json", CHECK_JSON, 1, "evil", |r| with_dep(r, "\"\\e[31mevil\\e[0m\"")));
    t.push(case("YAML \\e escapes in a dependency name: explain", EXPLAIN, 0, "bat", |r| with_dep(r, "\"\\e[31mevil\\e[0m\"")));
    t.push(case("a YAML bell and backspace in a dependency name: check", CHECK, 1, "\\x07", |r| with_dep(r, "\"ev\\a\\bil\"")));
    t.push(case("a bidi override in a dependency name: check", CHECK, 1, "U+202E", |r| with_dep(r, "\"lib\u{202e}cba\"")));
    t.push(case("a raw escape byte in a dependency name: check", CHECK, 1, "packages/base/bat/package.yml", |r| with_dep(r, "evil\u{1b}[1m")));
    t.push(case("YAML \\e escapes in a package name: check", CHECK, 1, "\\x1b]0;title\\x07", |r| with_name(r, "\"\\e]0;title\\a\"")));
    t.push(case("a bidi override in a package name: check", CHECK, 1, "U+202E", |r| with_name(r, "\"bat\u{202e}\"")));
    t.push(case("a zero-width joiner in a package name: check", CHECK, 1, "U+200D", |r| with_name(r, "\"b\u{200d}at\"")));
    t.push(case("a carriage return in a package name: check", CHECK, 1, "\\x0d", |r| with_name(r, "\"forged\\rPASS\"")));
    t.push(case("an escape in a rule file's source line: check", CHECK_RULES, 2, "\\x1b[31m", |r| rules_with(r, "policy 1\nset s { \u{1b}[31mred }\n")));
    t.push(case("an escape in a rule file's source line: checks", CHECKS_RULES, 2, "\\x1b[31m", |r| rules_with(r, "policy 1\nset s { \u{1b}[31mred }\n")));
    t.push(case("an escape in a rule file's source line: fmt --check", FMT_CHECK, 2, "\\x1b[31m", |r| rules_with(r, "policy 1\nset s { \u{1b}[31mred }\n")));
    t.push(case("an escape in a rule file's source line: build --plan", PLAN_RULES, 2, "\\x1b[31m", |r| rules_with(r, "policy 1\nset s { \u{1b}[31mred }\n")));
    t.push(case("an escape in the line before a rule error: check", CHECK_RULES, 2, "# \\x1b]0;x\\x07", |r| {
        rules_with(r, "policy 1\n# \u{1b}]0;x\u{7}\nset s { ] }\n")
    }));
    t.push(case("a bidi override in a rule file: check", CHECK_RULES, 2, "U+202E", |r| rules_with(r, "policy 1\nset s\u{202e} { a }\n")));
    t.push(case("an escape in a check's about: checks", CHECKS_RULES, 0, "\\x1b[5m", |r| {
        rules_with(r, "policy 1\ncheck zz-evil advisory {\n  about \"\u{1b}[5mblink\"\n  for p in packages\n  where p.name == \"nothing-at-all\"\n  message \"{p.name}\"\n}\n")
    }));
    t.push(case("an escape in a finding's message from a rule: check", CHECK_RULES, 1, "\\x1b[1m", |r| {
        rules_with(
            r,
            "policy 1\ncheck zz-evil halt {\n  about \"evil\"\n  for p in packages\n  where p.name == \"bat\"\n  message \"\u{1b}[1m{p.name}\"\n  at p.field(\"name\")\n}\ngate zz-evil \"\u{1b}[7mGate evil\" {\n  zz-evil\n}\n",
        )
    }));
    t.push(case("an escape in a recipe directory name: check", CHECK, 1, "\\x1b[31mevil", |r| {
        write(&recipe(r, "core/\u{1b}[31mevil/package.yml"), support::recipe("evil", "core", &[], &[]))
    }));
    t.push(case("an escape in a tier directory name: check", CHECK, 1, "\\x1b[31mtier", |r| {
        write(&recipe(r, "\u{1b}[31mtier/evil/package.yml"), support::recipe("evil", "core", &[], &[]))
    }));
    t.push(case("an escape in a builder list's file name (not UTF-8): check", CHECK, 1, "builders/\\x1b[31m", |r| {
        use std::os::unix::ffi::OsStrExt;
        write(&r.join("builders").join(std::ffi::OsStr::from_bytes(b"\x1b[31m\xff.list")), "# x\nnope\n")
    }));
    t.push(case("an escape in fmt's file name", &["fmt", "--check", "--color", "never", "{root}/\u{1b}[31m.pol"], 1, "\\x1b[31m.pol", |r| {
        write(&r.join("\u{1b}[31m.pol"), "policy 1\nset  s {\n  a\n}\n")
    }));
    t.push(case("an escape in a waiver reason: check", CHECK_RULES, 1, "\\x1b[8m", |r| {
        rules_with(r, "policy 1\nwaive tier-move for xz {\n  reason \"\u{1b}[8mhidden\"\n  approver \"x\"\n}\n");
        long_recipe(r, "");
    }));
    t
}

fn leak_args(args: &[&str]) -> Vec<&'static str> {
    args.iter().map(|a| leak(a.to_string())).collect()
}

// ---- the harness ----------------------------------------------------------------------------

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Run igos as `user`, bounded in time and address space.
fn run(user: User, cwd: &Path, args: &[String]) -> Outcome {
    // A session of its own: never a controlling terminal, so /dev/tty is the same refusal
    // everywhere.
    let mut cmd = Command::new("setsid");
    cmd.arg("--wait");
    if user == User::Nobody {
        cmd.args(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
    }
    cmd.args(["timeout", "-k", "5", TIMEOUT_S, "prlimit", &format!("--as={MEMORY_LIMIT}"), "--", env!("CARGO_BIN_EXE_igos")])
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "1")
        .env("IGOS_TODAY", "2026-11-22")
        .env_remove("IGOS_TIMINGS")
        .stdin(std::process::Stdio::null());
    let out = cmd.output().expect("run igos");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Whether the machine can run a command as another user (it cannot in some containers).
fn nobody_works() -> bool {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

/// The part of the output a row's snapshot keeps: stderr whole, and stdout's blocks
/// (diagnostics are separated by blank lines) that hold the expected text, plus the verdict.
fn diagnostic(o: &Outcome, names: &str) -> String {
    let mut kept: Vec<&str> = vec![];
    let blocks: Vec<&str> = o.stdout.split("\n\n").collect();
    for b in &blocks {
        if names.split(" && ").any(|n| b.contains(n)) && kept.len() < 2 {
            kept.push(b);
        }
    }
    if let Some(last) = o.stdout.lines().rev().find(|l| l.starts_with("PASS") || l.starts_with("FAIL")) {
        if !kept.iter().any(|k| k.contains(last)) {
            kept.push(last);
        }
    }
    let mut text = kept.join("\n\n");
    if !o.stderr.is_empty() {
        text = format!("{}{}", o.stderr, if text.is_empty() { String::new() } else { format!("\n{text}") });
    }
    // Keep rows short: of a long output (a JSON report, the list of checks) only the lines
    // holding the expected text, the rest counted.
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 40 {
        return text;
    }
    let hits: Vec<&str> = lines.iter().copied().filter(|l| names.split(" && ").any(|n| l.contains(n))).take(10).collect();
    let mut short: Vec<String> = lines[..8].iter().map(|l| l.to_string()).collect();
    short.push(format!("[… {} lines; those holding the expected text:]", lines.len() - 8));
    short.extend(hits.iter().map(|l| l.chars().take(400).collect::<String>()));
    short.join("\n")
}

/// A raw character from data that must never reach the terminal (tab and newline are the
/// layout's own).
fn raw_unsafe(s: &str) -> Option<char> {
    s.chars().find(|&c| c != '\n' && c != '\t' && igos::visible::is_unsafe(c))
}

#[test]
fn hostile_inputs_table() {
    let can_switch = nobody_works();
    if !can_switch {
        eprintln!("skipped: the permission rows (setpriv cannot switch to uid 65534 here)");
    }
    let table = table();
    assert!(table.len() >= 120, "the table has {} rows", table.len());
    let mut rendered = String::new();
    let mut failures = vec![];
    let mut ran = 0;
    for c in &table {
        if c.user == User::Nobody && !can_switch {
            continue;
        }
        let t = valid_tree("hostile");
        (c.setup)(t.path());
        let root = t.path().to_str().expect("utf-8 temp path");
        // Paths relative to the tree, which is the working directory: the output (and where
        // miette wraps it) does not depend on the temp directory's name.
        let args: Vec<String> = c.args.iter().map(|a| a.replace("{root}", ".").replace("{rules}", "rules")).collect();
        let started = std::time::Instant::now();
        let o = run(c.user, t.path(), &args);
        let took = started.elapsed();
        // Give the tree back to root's cleanup.
        let _ = Command::new("chmod").args(["-R", "u+rwx", root]).status();
        ran += 1;
        let all = format!("{}{}", o.stdout, o.stderr);
        let short: String = all.chars().take(2000).collect();
        let mut problems = vec![];
        if o.code == 124 || o.code == 137 || o.code == -1 {
            problems.push(format!("hung or was killed (exit {}, {:.1} s)", o.code, took.as_secs_f64()));
        } else if o.code != c.code {
            problems.push(format!("exit {} (expected {})", o.code, c.code));
        }
        if all.contains("panicked") || all.contains("stack backtrace") || all.contains("memory allocation") {
            problems.push("panicked or ran out of memory".into());
        }
        // miette wraps long messages: the needles are looked for in the unwrapped text.
        let flat = all.replace("\n  │ ", " ");
        if !c.names.split(" && ").all(|n| flat.contains(n)) {
            problems.push(format!("the output does not name `{}`", c.names.escape_debug()));
        }
        if let Some(ch) = raw_unsafe(&all) {
            problems.push(format!("a raw {:?} reached the output", ch));
        }
        if !problems.is_empty() {
            failures.push(format!("{}: {}\n{short}", c.name, problems.join("; ")));
        }
        let shown_args: Vec<String> = args.iter().map(|a| igos::visible::visible(a).into_owned()).collect();
        let diag = diagnostic(&o, c.names).replace(root, "[ROOT]");
        rendered.push_str(&format!("### {}\n$ igos {}\nexit {}\n{}\n\n", c.name, shown_args.join(" "), o.code, diag.trim_end()));
    }
    assert!(failures.is_empty(), "{} of {ran} rows failed:\n\n{}", failures.len(), failures.join("\n\n"));
    eprintln!("{ran} hostile-input rows ran");
    if can_switch {
        insta::with_settings!({ snapshot_path => "../snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!("io-hostile-inputs", rendered);
        });
    }
}

#[test]
fn a_rule_file_linked_to_dev_zero_does_not_grow_memory() {
    // Also without the harness's address-space limit: the refusal is before any read.
    let t = TempDir::new("dev-zero-rules");
    rules(t.path());
    link("/dev/zero", &t.path().join("rules/zz-extra.pol"));
    let rules_dir = t.path().join("rules");
    let out = Command::new("timeout")
        .args(["-k", "2", "10", env!("CARGO_BIN_EXE_igos"), "checks", "--color", "never", "--rules"])
        .arg(&rules_dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a regular file (a character device)"));
}
