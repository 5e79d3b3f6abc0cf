//! pkm never leaves its root (issue 14): hostile packages and planted state, each case checked
//! on disk OUTSIDE the root (a sentinel directory hashed byte for byte before and after), in the
//! root (a full snapshot) and in the database, never by the exit code alone.
//!
//! Classes: symlinked or mistyped state paths (with openat2 and with the O_NOFOLLOW walk),
//! packages shipping into pkm's state, symlink chains that climb out of the root, writes through
//! another package's symlink, unowned files, and queues that must install completely or not at all
//! (a failing last member, crash injection).

mod pkm_support;
use pkm_support::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// A root, a sentinel directory beside it (outside the root), and a directory of archives.
struct W {
    root: TempDir,
    sentinel: TempDir,
    arch: TempDir,
}

fn world() -> W {
    let w = W { root: fresh_root(), sentinel: TempDir::new("sentinel"), arch: TempDir::new("escape-arch") };
    let s = w.sentinel.path();
    fs::write(s.join("victim.conf"), "host config, must survive\n").unwrap();
    fs::create_dir(s.join("manifests")).unwrap();
    fs::write(s.join("manifests/keep-me"), "host file in a directory pkm may be pointed at\n").unwrap();
    fs::create_dir(s.join("state")).unwrap();
    fs::write(s.join("state/notes"), "host notes\n").unwrap();
    // A root pkm has run on: the database exists before every case.
    assert_eq!(pkm(w.r(), &["doctor"], &[]).code, 0);
    w
}

impl W {
    fn r(&self) -> &Path {
        self.root.path()
    }
    fn s(&self) -> &Path {
        self.sentinel.path()
    }
    fn build(&self, p: &Pkg) -> String {
        p.build(self.arch.path()).to_str().unwrap().to_string()
    }
    /// Install the packages as one queue (trust loose: no index needed).
    fn install(&self, pkgs: &[&Pkg], extra: &[&str], env: &[(&str, &str)]) -> Out {
        let archives: Vec<String> = pkgs.iter().map(|p| self.build(p)).collect();
        let mut args = vec!["install", "--archive-trust", "loose"];
        args.extend_from_slice(extra);
        args.extend(archives.iter().map(String::as_str));
        pkm(self.r(), &args, env)
    }
    fn ok(&self, pkgs: &[&Pkg]) {
        let o = self.install(pkgs, &[], &[]);
        assert_eq!(o.code, 0, "setup install failed\n{}\n{}", o.stdout, o.stderr);
    }
}

/// Every entry under `dir`, not following symlinks: type, mode and content hash (or target).
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.file_type().is_symlink() {
                out.insert(rel, format!("link {}", fs::read_link(&p).unwrap().display()));
            } else if m.is_dir() {
                out.insert(rel, "dir".into());
                walk(base, &p, out);
            } else {
                out.insert(rel, format!("file {}", igos::archive::hash_file(&p).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut out);
    out
}

/// The database's content (packages, files, intents, history count), or `absent`.
fn db_dump(root: &Path) -> Vec<String> {
    let p = root.join("var/lib/igos/pkm.db");
    if fs::symlink_metadata(&p).map(|m| !m.is_file()).unwrap_or(true) {
        return vec!["absent or not a file".into()];
    }
    // Read through a byte copy, so reading never touches the root's files (WAL, planted links).
    let copy = TempDir::new("dbcopy");
    fs::copy(&p, copy.path().join("pkm.db")).unwrap();
    if let Ok(m) = fs::symlink_metadata(root.join("var/lib/igos/pkm.db-wal")) {
        if m.is_file() {
            fs::copy(root.join("var/lib/igos/pkm.db-wal"), copy.path().join("pkm.db-wal")).unwrap();
        }
    }
    let c = rusqlite::Connection::open(copy.path().join("pkm.db")).unwrap();
    let mut v = Vec::new();
    for sql in [
        "SELECT name || ' ' || version || ' ' || coalesce(superseded_by, '') FROM installed ORDER BY name",
        "SELECT i.name || ' ' || f.path || ' ' || f.kind || ' ' || coalesce(f.sha256, f.target, '') FROM files f JOIN installed i ON i.id = f.package_id ORDER BY f.path, i.name",
        "SELECT 'intent ' || operation || ' ' || package_name FROM intents ORDER BY id",
        "SELECT 'history rows ' || count(*) FROM history",
    ] {
        let mut st = c.prepare(sql).unwrap();
        v.extend(st.query_map([], |r| r.get::<_, String>(0)).unwrap().map(|r| r.unwrap()));
    }
    v
}

/// Everything a case must leave as it was: sentinel, root (pkm's own db files included), db.
#[derive(PartialEq, Debug)]
struct State {
    sentinel: BTreeMap<String, String>,
    root: BTreeMap<String, String>,
    db: Vec<String>,
}

fn state(w: &W) -> State {
    State { sentinel: tree(w.s()), root: tree(w.r()), db: db_dump(w.r()) }
}

/// Run `act`, expecting `exit` and `code` in stderr, and nothing changed anywhere.
fn refused(w: &W, name: &str, exit: i32, code: &str, act: impl FnOnce(&W) -> Out) {
    // WAL checkpoints may rewrite pkm.db's bytes without changing its content; fold them in
    // first so the byte comparison of the root is meaningful.
    checkpoint(w.r());
    let before = state(w);
    let o = act(w);
    assert_eq!(o.code, exit, "{name}: exit\nstdout: {}\nstderr: {}", o.stdout, o.stderr);
    assert!(o.stderr.contains(code), "{name}: expected {code}\n{}", o.stderr);
    checkpoint(w.r());
    let after = state(w);
    assert_eq!(before.sentinel, after.sentinel, "{name}: the sentinel outside the root changed");
    assert_eq!(before.db, after.db, "{name}: the database changed");
    assert_eq!(without_wal(&before.root), without_wal(&after.root), "{name}: the root changed");
}

fn without_wal(m: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.iter().filter(|(k, _)| !k.ends_with("pkm.db-wal") && !k.ends_with("pkm.db-shm") && !k.ends_with("pkm.db") && !k.ends_with("pkm.lock")).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn checkpoint(root: &Path) {
    let p = root.join("var/lib/igos/pkm.db");
    if fs::symlink_metadata(&p).map(|m| m.is_file()).unwrap_or(false) {
        if let Ok(c) = rusqlite::Connection::open(&p) {
            let _ = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

fn hello() -> Pkg {
    pkg("hello", "1.0", &[("usr/bin/hello", exe("hello 1.0"))])
}
fn other() -> Pkg {
    pkg("other", "1.0", &[("usr/bin/other", exe("other"))])
}

/// A root with hello installed, then `plant` run on it.
fn planted(plant: impl FnOnce(&W)) -> W {
    let w = world();
    w.ok(&[&hello()]);
    plant(&w);
    w
}

fn state_path(w: &W, rel: &str) -> PathBuf {
    w.r().join("var/lib/igos").join(rel)
}

fn replace_with_link(p: &Path, target: &Path) {
    if fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false) {
        fs::remove_dir_all(p).unwrap();
    } else {
        let _ = fs::remove_file(p);
    }
    symlink(target, p).unwrap();
}

const NO_OPENAT2: &[(&str, &str)] = &[("PKM_NO_OPENAT2", "1")];

// ---------------------------------------------------------------- symlinked and mistyped state

/// (case, world with the planted state, pkm arguments, environment)
type StateCase = (&'static str, W, Vec<&'static str>, &'static [(&'static str, &'static str)]);

fn state_cases() -> Vec<StateCase> {
    let mut v = Vec::new();
    for env in [&[][..], NO_OPENAT2] {
        v.push(("packages -> outside", planted(|w| replace_with_link(&state_path(w, "packages"), &w.s().join("manifests"))), vec!["install", "other"], env));
        v.push(("pkm.lock -> outside", planted(|w| replace_with_link(&state_path(w, "pkm.lock"), &w.s().join("lock"))), vec!["install", "other"], env));
    }
    v.push(("packages -> outside, doctor", planted(|w| replace_with_link(&state_path(w, "packages"), &w.s().join("manifests"))), vec!["doctor"], &[]));
    v.push(("packages -> outside, remove", planted(|w| replace_with_link(&state_path(w, "packages"), &w.s().join("manifests"))), vec!["remove", "hello"], &[]));
    v.push(("pkm.db -> outside db", planted(|w| {
        let p = state_path(w, "pkm.db");
        checkpoint(w.r());
        fs::copy(&p, w.s().join("state/pkm.db")).unwrap();
        replace_with_link(&p, &w.s().join("state/pkm.db"));
    }), vec!["install", "other"], &[]));
    v.push(("pkm.db -> outside db, list", planted(|w| {
        let p = state_path(w, "pkm.db");
        checkpoint(w.r());
        fs::copy(&p, w.s().join("state/pkm.db")).unwrap();
        replace_with_link(&p, &w.s().join("state/pkm.db"));
    }), vec!["list"], &[]));
    v.push(("pkm.db-wal -> outside", planted(|w| {
        checkpoint(w.r());
        replace_with_link(&state_path(w, "pkm.db-wal"), &w.s().join("state/wal"));
    }), vec!["install", "other"], &[]));
    v.push(("manifest temp name -> outside", planted(|w| {
        symlink(w.s().join("victim.conf"), state_path(w, "packages/.other-1.0.tmp")).unwrap();
    }), vec!["install", "other"], &[]));
    v.push(("manifest temp name -> outside (walk)", planted(|w| {
        symlink(w.s().join("victim.conf"), state_path(w, "packages/.other-1.0.tmp")).unwrap();
    }), vec!["install", "other"], NO_OPENAT2));
    v.push(("var/lib/igos -> outside", planted(|w| {
        let p = w.r().join("var/lib/igos");
        fs::rename(&p, w.r().join("var/lib/igos.real")).unwrap();
        symlink(w.s().join("state"), &p).unwrap();
    }), vec!["install", "other"], &[]));
    v.push(("var/lib -> outside", planted(|w| {
        let p = w.r().join("var/lib");
        fs::rename(&p, w.r().join("var/lib.real")).unwrap();
        symlink(w.s().join("state"), &p).unwrap();
    }), vec!["doctor"], &[]));
    v.push(("staging -> outside", planted(|w| replace_with_link(&state_path(w, "staging"), &w.s().join("state"))), vec!["install", "other"], &[]));
    v.push(("staging entry -> outside", planted(|w| {
        fs::create_dir_all(state_path(w, "staging")).unwrap();
        symlink(w.s().join("state"), state_path(w, "staging/1-0-0")).unwrap();
    }), vec!["doctor"], &[]));
    v.push(("staging is a file", planted(|w| {
        let _ = fs::remove_dir_all(state_path(w, "staging"));
        fs::write(state_path(w, "staging"), "x").unwrap();
    }), vec!["install", "other"], &[]));
    v.push(("packages is a file", planted(|w| {
        fs::remove_dir_all(state_path(w, "packages")).unwrap();
        fs::write(state_path(w, "packages"), "x").unwrap();
    }), vec!["install", "other"], &[]));
    v.push(("pkm.db is a directory", planted(|w| {
        checkpoint(w.r());
        let p = state_path(w, "pkm.db");
        fs::rename(&p, w.s().join("state/moved.db")).unwrap();
        fs::create_dir(&p).unwrap();
    }), vec!["list"], &[]));
    v
}

#[test]
fn symlinked_or_mistyped_state_is_refused_and_nothing_is_touched() {
    let cases = state_cases();
    assert!(cases.len() >= 17, "{}", cases.len());
    for (name, w, args, env) in &cases {
        let args: Vec<String> = args.iter().map(|a| if *a == "other" { w.build(&other()) } else { a.to_string() }).collect();
        let mut full: Vec<&str> = args.iter().map(String::as_str).collect();
        if full[0] == "install" {
            full.splice(1..1, ["--archive-trust", "loose"]);
        }
        refused(w, name, 2, "pkm::state::unsafe", |w| pkm(w.r(), &full, env));
        let o = pkm(w.r(), &full, env);
        assert!(o.stderr.contains(w.r().to_str().unwrap()), "{name}: the diagnostic names the path\n{}", o.stderr);
        assert!(!w.r().join("usr/bin/other").exists(), "{name}");
        assert!(!w.s().join("lock").exists() && !w.s().join("state/wal").exists(), "{name}: pkm created a file outside the root");
    }
}

// ---------------------------------------------------------------- packages shipping into state

#[test]
fn packages_may_not_ship_into_pkm_state() {
    let cases: Vec<(&str, Vec<Pkg>)> = vec![
        ("ships pkm.db", vec![pkg("evil", "1", &[("var/lib/igos/pkm.db", file("not a database"))])]),
        ("ships a text manifest", vec![pkg("evil", "1", &[("var/lib/igos/packages/hello-1.0", file("forged"))])]),
        ("ships pkm.lock", vec![pkg("evil", "1", &[("var/lib/igos/pkm.lock", file(""))])]),
        ("ships into staging", vec![pkg("evil", "1", &[("var/lib/igos/staging/x", file(""))])]),
        ("ships the cache", vec![pkg("evil", "1", &[("var/cache/igos/pkm/hello-1.0-1.igos.tar.gz", file("not an archive\n"))])]),
        ("ships var/lib/igos as a symlink", vec![pkg("evil", "1", &[("var/lib/igos2", Node::Dir(0o755)), ("var/lib/igos", link("igos2"))])]),
        ("ships state via an earlier member's link", vec![
            pkg("lnk", "1", &[("usr/share/st", link("/var/lib/igos"))]),
            pkg("thru", "1", &[("usr/share/st/pkm.db", file("not a database"))]),
        ]),
    ];
    for (name, pkgs) in &cases {
        let w = world();
        w.ok(&[&hello()]);
        let refs: Vec<&Pkg> = pkgs.iter().collect();
        refused(&w, name, 1, "pkm::rule::", |w| w.install(&refs, &[], &[]));
        let o = w.install(&refs, &[], &[]);
        assert!(o.stderr.contains("state-dir"), "{name}: decided by the state-dir rule\n{}", o.stderr);
        assert_eq!(query_strings(w.r(), "SELECT name FROM installed"), vec!["hello"], "{name}: every install record kept");
    }
}

// ---------------------------------------------------------------- links that leave the root

#[test]
fn symlink_chains_that_climb_out_of_the_root_are_refused() {
    let up = || pkg("up", "1", &[("usr/share/up", link("../.."))]);
    let esc = || pkg("esc", "1", &[("usr/share/esc", link("up/../../.."))]);
    let both = || pkg("both", "1", &[("usr/share/esc", link("up/../../..")), ("usr/share/up", link("../.."))]);
    let slash = || pkg("slash", "1", &[("usr/lib/r", link("/usr/.."))]);
    let climb = || pkg("climb", "1", &[("usr/lib/e", link("r/../etc"))]);
    // (name, installed first, queue)
    let cases: Vec<(&str, Vec<Pkg>, Vec<Pkg>)> = vec![
        ("one archive with the chain", vec![], vec![both()]),
        ("queue [up, esc]", vec![], vec![up(), esc()]),
        ("queue [esc, up]: a later member makes the link climb", vec![], vec![esc(), up()]),
        ("up installed, then esc", vec![up()], vec![esc()]),
        ("esc installed, then up: an installed link made to climb", vec![esc()], vec![up()]),
        ("queue [link to /, link through it to ..]", vec![], vec![slash(), climb()]),
        ("link to / installed, then a link climbing through it", vec![slash()], vec![climb()]),
    ];
    for (name, first, queue) in &cases {
        let w = world();
        if !first.is_empty() {
            w.ok(&first.iter().collect::<Vec<_>>());
        }
        let refs: Vec<&Pkg> = queue.iter().collect();
        refused(&w, name, 1, "pkm::rule::", |w| w.install(&refs, &[], &[]));
        let o = w.install(&refs, &[], &[]);
        assert!(o.stderr.contains("link-escape"), "{name}\n{}", o.stderr);
        assert!(fs::symlink_metadata(w.r().join("usr/share/up")).is_err() || first.iter().any(|p| p.name == "up"), "{name}");
        assert!(fs::symlink_metadata(w.r().join("usr/share/esc")).is_err() || first.iter().any(|p| p.name == "esc"), "{name}");
    }
    // A link that stays inside (absolute targets are read inside the root) is fine.
    let w = world();
    w.ok(&[&pkg("fine", "1", &[("usr/share/fine", link("/usr/lib")), ("usr/share/rel", link("../lib"))])]);
    assert_eq!(fs::read_link(w.r().join("usr/share/fine")).unwrap(), Path::new("/usr/lib"));
}

#[test]
fn a_planted_symlink_in_the_root_is_never_written_through_to_the_host() {
    // An admin (or anything) left usr/share/planted pointing at the host's sentinel by its
    // absolute host path: pkm reads it inside the root, and the rules refuse to change its type.
    let w = world();
    fs::create_dir_all(w.r().join("usr/share")).unwrap();
    symlink(w.s(), w.r().join("usr/share/planted")).unwrap();
    let p = pkg("plant", "1", &[("usr/share/planted/victim.conf", file("overwritten"))]);
    refused(&w, "planted host link", 1, "pkm::rule::directory-collision", |w| w.install(&[&p], &[], &[]));
    // And one relative link climbing out of the root by `..`.
    let w = world();
    fs::create_dir_all(w.r().join("usr/share")).unwrap();
    let rel = pathdiff(w.s(), &w.r().join("usr/share"));
    symlink(&rel, w.r().join("usr/share/planted")).unwrap();
    refused(&w, "planted relative link", 1, "pkm::rule::", |w| w.install(&[&p], &[], &[]));
}

fn pathdiff(target: &Path, from: &Path) -> PathBuf {
    let up = from.components().count() - 1;
    let mut p = PathBuf::new();
    for _ in 0..up {
        p.push("..");
    }
    p.join(target.strip_prefix("/").unwrap())
}

// ---------------------------------------------------------------- writes through a link

#[test]
fn writes_through_another_packages_symlink_are_refused() {
    let victim = || pkg("victim", "1", &[("etc/victim.conf", file("owned by victim\n"))]);
    let lnk_abs = || pkg("lnk", "1", &[("usr/share/x", link("/etc"))]);
    let lnk_rel = || pkg("lnk", "1", &[("usr/share/x", link("../../etc"))]);
    let thru = || pkg("thru", "1", &[("usr/share/x/victim.conf", file("replaced by thru\n"))]);
    let thru_new = || pkg("thru", "1", &[("usr/share/x/fresh.conf", file("new file under etc\n"))]);
    let cases: Vec<(&str, Vec<Pkg>, Vec<Pkg>)> = vec![
        ("the issue's queue [lnk, thru], victim installed", vec![victim()], vec![lnk_abs(), thru()]),
        ("queue [lnk, thru], victim.conf an admin file", vec![], vec![lnk_abs(), thru()]),
        ("lnk installed, then thru", vec![victim(), lnk_abs()], vec![thru()]),
        ("relative link, queue", vec![victim()], vec![lnk_rel(), thru()]),
        ("a new file through the link", vec![victim()], vec![lnk_abs(), thru_new()]),
    ];
    for (name, first, queue) in &cases {
        let w = world();
        fs::write(w.r().join("etc/victim.conf"), "admin's victim.conf\n").unwrap();
        if !first.is_empty() {
            if first.iter().any(|p| p.name == "victim") {
                fs::remove_file(w.r().join("etc/victim.conf")).unwrap();
            }
            w.ok(&first.iter().collect::<Vec<_>>());
        }
        let before = fs::read(w.r().join("etc/victim.conf")).unwrap();
        let refs: Vec<&Pkg> = queue.iter().collect();
        refused(&w, name, 1, "pkm::rule::", |w| w.install(&refs, &[], &[]));
        assert_eq!(fs::read(w.r().join("etc/victim.conf")).unwrap(), before, "{name}");
        assert!(!w.r().join("etc/fresh.conf").exists(), "{name}");
    }
}

#[test]
fn write_through_link_rule_decides_on_the_facts_of_the_root_as_it_will_be() {
    // The rule alone (directory-collision would also refuse a declared parent over a link):
    // facts as gathered, evaluated by rules/pkm.pol.
    use igos::facts::pkm::{EntryFact, PkmFacts, QueuedPackage};
    let e = EntryFact {
        path: "usr/share/x/victim.conf".into(),
        kind: "file",
        root_type: "file",
        owner: Some("victim".into()),
        resolved: "etc/victim.conf".into(),
        link: Some("usr/share/x".into()),
        link_owner: Some("lnk".into()),
        link_target_owners: vec!["filesystem".into()],
        ..Default::default()
    };
    let facts = PkmFacts { queue: vec![QueuedPackage { name: "thru".into(), archive: "thru.igos.tar.gz".into(), supersedes: vec![], entries: vec![e], installed: false, span: None, ..Default::default() }], installed: vec!["lnk".into(), "victim".into()] };
    let mut sources = igos::source::SourceMap::new();
    let rules = igos::rules::load(None, &mut sources).unwrap();
    let found: Vec<String> = igos::facts::pkm::evaluate(&rules.policy, &facts, "2026-12-04").into_iter().filter(|f| f.halts()).map(|f| f.check).collect();
    assert!(found.contains(&"write-through-link".to_string()), "{found:?}");
    assert!(found.contains(&"file-conflict".to_string()), "{found:?}");
}

// ---------------------------------------------------------------- unowned files

#[test]
fn an_unowned_file_is_refused_unless_overwrite_allows_it() {
    let tool = || pkg("tool", "1", &[("usr/bin/tool", exe("packaged tool"))]);
    // Refused: a file, a symlink, with a glob that does not match.
    for (name, plant, extra) in [
        ("unowned file", "file", vec![]),
        ("unowned symlink", "link", vec![]),
        ("--overwrite that does not match", "file", vec!["--overwrite", "/usr/share/*"]),
    ] {
        let w = world();
        match plant {
            "file" => fs::write(w.r().join("usr/bin/tool"), "admin's own tool\n").unwrap(),
            _ => symlink("hello", w.r().join("usr/bin/tool")).unwrap(),
        }
        refused(&w, name, 1, "pkm::rule::overwrite-unowned", |w| w.install(&[&tool()], &extra, &[]));
    }
    // Allowed by a matching glob: replaced and owned.
    let w = world();
    fs::write(w.r().join("usr/bin/tool"), "admin's own tool\n").unwrap();
    let sent = tree(w.s());
    let o = w.install(&[&tool()], &["--overwrite", "/usr/bin/*"], &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(fs::read_to_string(w.r().join("usr/bin/tool")).unwrap(), "packaged tool");
    assert_eq!(query_strings(w.r(), "SELECT i.name FROM files f JOIN installed i ON i.id=f.package_id WHERE f.path='usr/bin/tool'"), vec!["tool"]);
    assert_eq!(sent, tree(w.s()));
    // The same content already there is not a conflict.
    let w = world();
    fs::write(w.r().join("usr/bin/tool"), "packaged tool").unwrap();
    fs::set_permissions(w.r().join("usr/bin/tool"), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    assert_eq!(w.install(&[&tool()], &[], &[]).code, 0);
    // An unowned config file is kept, the new one written beside it.
    let w = world();
    fs::write(w.r().join("etc/tool.conf"), "admin\n").unwrap();
    assert_eq!(w.install(&[&pkg("toolcfg", "1", &[("etc/tool.conf", file("pkg\n"))])], &[], &[]).code, 0);
    assert_eq!(fs::read_to_string(w.r().join("etc/tool.conf")).unwrap(), "admin\n");
}

// ---------------------------------------------------------------- a queue is all or nothing

fn queue_world() -> (W, Vec<Pkg>) {
    let w = world();
    w.ok(&[&pkg("b", "1.0", &[("usr/bin/b", exe("b 1.0")), ("usr/share/b/old", file("dropped in 2.0"))])]);
    let a = pkg("a", "1.0", &[("usr/bin/a", exe("a")), ("usr/share/a/doc", file("a doc"))]);
    let b2 = pkg("b", "2.0", &[("usr/bin/b", exe("b 2.0")), ("usr/share/b/new", file("new in 2.0"))]);
    let many: Vec<(String, Node)> = (0..20).map(|i| (format!("usr/share/c/f{i:02}"), file(&format!("c {i}")))).collect();
    let mut c = pkg("c", "1.0", &[("usr/bin/c", exe("c"))]);
    c.tree.extend(many);
    (w, vec![a, b2, c])
}

#[test]
fn a_failing_last_member_leaves_root_and_database_as_they_were() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: failure injection needs a debug build");
        return;
    }
    for env in [&[("PKM_FAIL_AT", "deploy-mid:c")][..], &[("PKM_FAIL_AT", "deploy-mid:c"), ("PKM_NO_OPENAT2", "1")][..], &[("PKM_FAIL_AT", "deploy-mid:b")][..]] {
        let (w, q) = queue_world();
        let refs: Vec<&Pkg> = q.iter().collect();
        let name = format!("{env:?}");
        refused(&w, &name, 2, "injected failure", |w| w.install(&refs, &[], env));
        assert_eq!(fs::read_to_string(w.r().join("usr/bin/b")).unwrap(), "b 1.0", "{name}: the upgraded file restored");
        assert!(w.r().join("usr/share/b/old").exists() && !w.r().join("usr/bin/a").exists(), "{name}");
        assert_eq!(fs::read_dir(w.r().join("var/lib/igos/staging")).map(|d| d.count()).unwrap_or(0), 0, "{name}: staging left");
        // And the same queue then installs completely.
        let o = w.install(&refs, &[], &[]);
        assert_eq!(o.code, 0, "{name}: {}", o.stderr);
        assert_consistent(w.r());
        assert_eq!(query_strings(w.r(), "SELECT name || ' ' || version FROM installed ORDER BY name"), vec!["a 1.0", "b 2.0", "c 1.0"]);
        assert!(!w.r().join("usr/share/b/old").exists());
    }
}

#[test]
fn a_last_member_refused_by_the_rules_stops_the_whole_queue() {
    let (w, mut q) = queue_world();
    q.push(pkg("d", "1.0", &[("usr/bin/a", exe("d's a"))])); // conflicts with member a
    let refs: Vec<&Pkg> = q.iter().collect();
    refused(&w, "conflict with an earlier member", 1, "pkm::rule::file-conflict", |w| w.install(&refs, &[], &[]));
    let (w, mut q) = queue_world();
    q.push(pkg("e", "1.0", &[("usr/bin/a", link("c"))]));
    let refs: Vec<&Pkg> = q.iter().collect();
    refused(&w, "symlink over an earlier member's file", 1, "pkm::rule::file-conflict", |w| w.install(&refs, &[], &[]));
    let (w, mut q) = queue_world();
    q.push(q[0].clone());
    let refs: Vec<&Pkg> = q.iter().collect();
    refused(&w, "a member twice", 1, "pkm::rule::queue-duplicate", |w| w.install(&refs, &[], &[]));
}

#[test]
fn a_crash_anywhere_in_a_queue_ends_with_all_of_it_or_none() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: crash injection needs a debug build");
        return;
    }
    for step in ["staged", "intent", "deploy-mid", "deploy-mid:c", "deployed", "committed", "manifest"] {
        let (w, q) = queue_world();
        let refs: Vec<&Pkg> = q.iter().collect();
        let sent = tree(w.s());
        let o = w.install(&refs, &[], &[("PKM_CRASH_AT", step)]);
        assert!(o.stderr.contains(&format!("PKM_CRASH_AT={step}")), "{step}: not reached\n{}", o.stderr);
        let d = pkm(w.r(), &["doctor"], &[]);
        assert!(d.code == 0 || d.code == 1, "{step}: doctor\n{}\n{}", d.stdout, d.stderr);
        assert_consistent(w.r());
        assert_eq!(sent, tree(w.s()), "{step}: sentinel");
        let got = query_strings(w.r(), "SELECT name || ' ' || version FROM installed ORDER BY name");
        if step == "staged" {
            assert_eq!(got, vec!["b 1.0"], "{step}: none of the queue");
            assert!(!w.r().join("usr/bin/a").exists());
        } else {
            assert_eq!(got, vec!["a 1.0", "b 2.0", "c 1.0"], "{step}: all of the queue");
            assert_eq!(fs::read_to_string(w.r().join("usr/bin/b")).unwrap(), "b 2.0");
            assert_eq!(fs::read_to_string(w.r().join("usr/share/c/f19")).unwrap(), "c 19");
        }
    }
}

#[test]
fn an_intent_naming_a_staging_directory_outside_is_never_followed() {
    if !cfg!(debug_assertions) {
        eprintln!("skipped: crash injection needs a debug build");
        return;
    }
    // A crashed install leaves its intent; the intent is then edited to name the sentinel as
    // its staging (a crafted database). Rolling it forward from there would move files out of
    // the host directory, and abandoning it would delete that directory. Doctor takes the
    // staging by name in this root's staging directory: not there, so the install cannot be
    // completed and is given up, and nothing outside the root is read, moved or removed.
    for lose in [false, true] {
        let w = world();
        fs::create_dir_all(w.s().join("usr/bin")).unwrap();
        if !lose {
            fs::write(w.s().join("usr/bin/hello"), "hello 1.0").unwrap();
        }
        let o = w.install(&[&hello()], &[], &[("PKM_CRASH_AT", "intent")]);
        assert!(o.stderr.contains("PKM_CRASH_AT=intent"), "{}", o.stderr);
        let c = db(w.r());
        let plan: String = c.query_row("SELECT plan FROM intents", [], |r| r.get(0)).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&plan).unwrap();
        v["staging"] = serde_json::Value::String(w.s().to_str().unwrap().to_string());
        c.execute("UPDATE intents SET plan = ?1", [v.to_string()]).unwrap();
        drop(c);
        let name = if lose { "crafted staging, entries missing" } else { "crafted staging" };
        checkpoint(w.r());
        let before = state(&w);
        let d = pkm(w.r(), &["doctor"], &[]);
        assert_eq!(d.code, 1, "{name}\n{}\n{}", d.stdout, d.stderr);
        assert!(d.stdout.contains("repaired: abandoned the interrupted install of hello"), "{name}: {}", d.stdout);
        assert_eq!(before.sentinel, state(&w).sentinel, "{name}: the sentinel outside the root changed");
        assert!(!w.r().join("usr/bin/hello").exists(), "{name}");
        assert_eq!(db_dump(w.r()).iter().filter(|l| l.starts_with("intent ")).count(), 0, "{name}: the intent is still there");
        assert_eq!(pkm(w.r(), &["doctor"], &[]).code, 0, "{name}: doctor does not converge");
    }
}
