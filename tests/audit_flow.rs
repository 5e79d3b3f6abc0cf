//! The audit data flow end to end with the real binary: audit (tarball hash checked,
//! build system detected) -> store -> aggregate -> Gate 2 reads the database; the
//! not-re-aggregated trap; stale and drift; .audit-override validation.

mod support;

use std::process::Command;

use support::{recipe, valid_tree, TempDir};

fn igos(root: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_igos"))
        .args(args)
        .arg("--root")
        .arg(root)
        .args(["--color", "never"])
        .env("IGOS_TODAY", "2026-11-22")
        .env("IGOS_AUDITED_AT", "2026-11-22T10:00:00Z")
        .output()
        .expect("igos runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// A .tar.gz holding a meson project, and its sha256.
fn tarball(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(format!("{name}-1.2.3.tar.gz"));
    let file = std::fs::File::create(&path).unwrap();
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut t = tar::Builder::new(gz);
    for (p, body) in [(format!("{name}-1.2.3/meson.build"), "project('x')\n"), (format!("{name}-1.2.3/README"), "hi\n")] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, p, body.as_bytes()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap();
    igos::audit::record::sha256_hex(&std::fs::read(&path).unwrap())
}

/// The valid tree before any audit: no store, no database.
fn pinned_tree(tag: &str) -> (TempDir, String) {
    let t = valid_tree(tag);
    std::fs::remove_dir_all(t.path().join("audits")).unwrap();
    std::fs::remove_dir_all(t.path().join("build")).unwrap();
    std::fs::create_dir_all(t.path().join("sources")).unwrap();
    let sha = tarball(&t.path().join("sources"), "gtk4");
    let text = recipe("gtk4", "desktop", &["glib2"], &[])
        .replace(&"ab".repeat(32), &sha)
        .replace("gtk4-1.2.3.tar.xz", "gtk4-1.2.3.tar.gz");
    t.write("packages/desktop/gtk4/package.yml", &text);
    (t, sha)
}

#[test]
fn audit_aggregate_check() {
    let (t, sha) = pinned_tree("flow");
    // No database yet: Gate 2 halts and says how to build it.
    let (code, out, _) = igos(t.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(out.contains("audit-database-missing") && out.contains("igos audit aggregate"), "{out}");

    let (code, out, err) = igos(t.path(), &["audit", "gtk4"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("(meson)"), "{out}");
    let record = t.read("audits/gtk4.json");
    assert!(record.contains(&sha) && record.contains("\"build_system\": \"meson\""), "{record}");
    // Keys are sorted, so a re-audit diffs cleanly.
    let keys: Vec<&str> = record.lines().filter_map(|l| l.trim().strip_prefix('"').and_then(|r| r.split('"').next())).filter(|k| k.chars().all(|c| c.is_ascii_lowercase() || c == '_')).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);

    let (code, _, _) = igos(t.path(), &["audit", "aggregate"]);
    assert_eq!(code, 0);
    let (_, out, _) = igos(t.path(), &["check", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let audit_findings: Vec<String> = doc["gates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["id"] == "audit-coverage")
        .flat_map(|g| g["findings"].as_array().unwrap().iter().map(|f| format!("{} {}", f["check"].as_str().unwrap(), f["subject"].as_str().unwrap())))
        .collect();
    // gtk4 is audited; the other in-scope packages (glib2, bat, audacity, llama-cpp) are missing.
    assert!(!audit_findings.iter().any(|f| f.ends_with(" gtk4")), "{audit_findings:?}");
    assert!(audit_findings.contains(&"audit-missing glib2".to_string()), "{audit_findings:?}");
    // zlib and xz are LFS chapter 8 (in the ch8 list): out of scope.
    assert!(!audit_findings.iter().any(|f| f.ends_with(" zlib") || f.ends_with(" xz")));

    // The trap: audited again (deps changed) but not re-aggregated.
    let text = t.read("packages/desktop/gtk4/package.yml").replace("    - glib2\n", "    - glib2\n    - zlib\n");
    t.write("packages/desktop/gtk4/package.yml", &text);
    let (_, out, _) = igos(t.path(), &["check"]);
    assert!(out.contains("audit-drift") && out.contains("+[zlib]"), "{out}");
    let (code, _, _) = igos(t.path(), &["audit", "gtk4"]);
    assert_eq!(code, 0);
    let (_, out, _) = igos(t.path(), &["check"]);
    assert!(out.contains("audit-not-aggregated") && out.contains("igos audit aggregate"), "{out}");
    igos(t.path(), &["audit", "aggregate"]);
    let (_, out, _) = igos(t.path(), &["check"]);
    assert!(!out.contains("audit-not-aggregated") && !out.contains("audit-drift"), "{out}");

    // A version bump makes the audit stale.
    let text = t.read("packages/desktop/gtk4/package.yml").replace("version: \"1.2.3\"", "version: \"1.3.0\"");
    t.write("packages/desktop/gtk4/package.yml", &text);
    let (_, out, _) = igos(t.path(), &["check"]);
    assert!(out.contains("audit-stale") && out.contains("1.3.0"), "{out}");
}

#[test]
fn a_tarball_that_does_not_match_its_pin_is_refused() {
    let (t, _) = pinned_tree("refuse");
    let text = t.read("packages/desktop/gtk4/package.yml");
    let pin = text.lines().find(|l| l.contains("sha256:")).unwrap().split(':').nth(1).unwrap().trim().to_string();
    t.write("packages/desktop/gtk4/package.yml", &text.replace(&pin, &"0".repeat(64)));
    let (code, _, err) = igos(t.path(), &["audit", "gtk4"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("audit refused"), "{err}");
    assert!(!t.path().join("audits/gtk4.json").exists(), "nothing written");
    let (code, _, err) = igos(t.path(), &["audit", "bat"]);
    assert_eq!(code, 2, "a missing tarball: {err}");
}

#[test]
fn audit_overrides_are_validated() {
    let (t, _) = pinned_tree("override");
    std::fs::create_dir_all(t.path().join("audits")).unwrap();
    let (code, _, err) = igos(t.path(), &["audit", "aggregate"]);
    assert_eq!(code, 0, "{err}");
    let write = |json: &str| t.write("packages/core/glib2/.audit-override", json);
    write(r#"{"reason": "blocked on upstream tarball", "approved_by": "release lead", "expires_at": "2027-01-31"}"#);
    let (_, out, _) = igos(t.path(), &["check"]);
    assert!(out.contains("bat has no audit"), "{out}");
    assert!(!out.contains("glib2 has no audit"), "a valid override skips glib2: {out}");

    write(r#"{"reason": "blocked", "approved_by": "release lead", "expires_at": "2026-01-31"}"#);
    let (_, out, _) = igos(t.path(), &["check"]);
    assert!(out.contains("audit-override-expired") && out.contains("glib2 has no audit"), "{out}");

    write(r#"{"reason": "", "approved_by": "x", "expires_at": "2027-01-31"}"#);
    let (_, out, _) = igos(t.path(), &["check"]);
    assert!(out.contains("audit-override-invalid") && out.contains("no `reason`"), "{out}");

    write("not json");
    let (_, out, _) = igos(t.path(), &["check"]);
    assert!(out.contains("not valid JSON"), "{out}");
}

#[test]
fn a_corrupt_database_is_a_clear_error() {
    let t = valid_tree("corrupt");
    t.write("build/audit.db", "this is not sqlite, just text pretending to be a database file\n");
    let (code, _, err) = igos(t.path(), &["check"]);
    assert_eq!(code, 2);
    assert!(err.contains("build/audit.db") && !err.contains("panicked"), "{err}");
}

/// Most upstreams ship .tar.xz: the audit reads it as it reads .tar.gz (build system
/// detected from the tarball's content).
#[test]
fn an_xz_tarball_is_audited_with_its_build_system() {
    use std::io::{Read, Write};
    let (t, _) = pinned_tree("audit-xz");
    let gz = t.path().join("sources/gtk4-1.2.3.tar.gz");
    let mut tar = vec![];
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap()).read_to_end(&mut tar).unwrap();
    let mut e = liblzma::write::XzEncoder::new(vec![], 6);
    e.write_all(&tar).unwrap();
    let xz = e.finish().unwrap();
    std::fs::write(t.path().join("sources/gtk4-1.2.3.tar.xz"), &xz).unwrap();
    std::fs::remove_file(&gz).unwrap();
    let sha = igos::audit::record::sha256_hex(&xz);
    let text = t.read("packages/desktop/gtk4/package.yml");
    let pin = text.lines().find(|l| l.contains("sha256:")).unwrap().split(':').nth(1).unwrap().trim().to_string();
    t.write("packages/desktop/gtk4/package.yml", &text.replace(&pin, &sha).replace("gtk4-1.2.3.tar.gz", "gtk4-1.2.3.tar.xz"));
    let (code, out, err) = igos(t.path(), &["audit", "gtk4"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(t.read("audits/gtk4.json").contains("\"build_system\": \"meson\""), "{}", t.read("audits/gtk4.json"));
}

/// The check knows an aggregated record unchanged from its fingerprint (size, inode, change
/// times) without reading it, and still catches every change: a record rewritten in place
/// with the same size and its old mtime put back, a record added, a record written just
/// before aggregation (racy: no fingerprint kept, so it is read). A version-1 database
/// (no fingerprints) is still read.
#[test]
fn unchanged_records_are_known_by_fingerprint_and_every_change_is_caught() {
    let t = valid_tree("fingerprint");
    let db = t.path().join("build/audit.db");
    let rec = t.path().join("audits/bat.json");
    // Records older than the racy window, then aggregated: fingerprints are kept.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let (code, _, err) = igos(t.path(), &["audit", "aggregate"]);
    assert_eq!(code, 0, "{err}");
    let fingerprinted = |name: &str| -> bool {
        let c = rusqlite::Connection::open(&db).expect("db");
        c.query_row("SELECT record_size IS NOT NULL FROM audits WHERE name = ?1", [name], |r| r.get(0)).expect("row")
    };
    assert!(fingerprinted("bat"), "a settled record keeps its fingerprint");
    let (code, out, _) = igos(t.path(), &["check"]);
    assert_eq!(code, 0, "{out}");

    // Rewritten in place: same size, the old mtime put back. The change time moved.
    let before = std::fs::metadata(&rec).expect("meta");
    let text = std::fs::read_to_string(&rec).expect("record").replace("\"autotools\"", "\"autotoolz\"");
    assert_eq!(text.len() as u64, before.len());
    std::fs::write(&rec, &text).expect("rewrite");
    std::fs::File::options().write(true).open(&rec).and_then(|f| f.set_modified(before.modified().expect("mtime"))).expect("set mtime");
    let (code, out, _) = igos(t.path(), &["check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("bat has an audit record in the store that is not in the database"), "{out}");

    // Aggregated right after being written: racy, so no fingerprint; then the check reads it.
    let (code, _, err) = igos(t.path(), &["audit", "aggregate"]);
    assert_eq!(code, 0, "{err}");
    assert!(!fingerprinted("bat"), "a record changed within the racy window keeps no fingerprint");
    assert!(fingerprinted("gtk4"));
    let (code, out, _) = igos(t.path(), &["check"]);
    assert_eq!(code, 0, "{out}");

    // A record the database does not have.
    t.write("audits/zstd.json", &support::audit_record("zstd", "core", &[], &[]));
    let (code, out, _) = igos(t.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(out.contains("zstd has an audit record in the store that is not in the database"), "{out}");
    t.remove("audits/zstd.json");

    // A version-1 database, as an older igos wrote it: read, every record hashed.
    {
        let c = rusqlite::Connection::open(&db).expect("db");
        c.execute_batch(
            "CREATE TABLE v1 AS SELECT name, version, tier, build_deps, host_deps, runtime_deps, source_sha256, build_system, audited_at, record_sha256 FROM audits;
             DROP TABLE audits; ALTER TABLE v1 RENAME TO audits; PRAGMA user_version = 1;",
        )
        .expect("downgrade");
    }
    let (code, out, err) = igos(t.path(), &["check"]);
    assert_eq!(code, 0, "{out}{err}");
    std::fs::write(&rec, text.replace("autotoolz", "autotoolx")).expect("rewrite");
    let (code, out, _) = igos(t.path(), &["check"]);
    assert_eq!(code, 1);
    assert!(out.contains("bat has an audit record in the store that is not in the database"), "{out}");
}
