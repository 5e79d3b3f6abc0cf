//! The CLI's revision and path arguments, as a hostile user types them. The input is split at
//! its first NUL: before it, a `--baseline`/`--since` revision; after it, a path given to
//! `--rules`, `--audit-db` or `igos fmt` (its first byte picks the kind of file, so the cap).
//! A revision must never reach git as an option and never change the repository; a path must
//! be read within its kind's cap or refused, never block (FIFOs, devices, /dev/zero links are
//! in the fixture directory the relative paths land in).
#![no_main]

use igos::cli::git::verify_commit;
use igos::input::{self, Kind};
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const KINDS: [Kind; 6] = [Kind::RuleFile, Kind::Recipe, Kind::List, Kind::AuditRecord, Kind::RuleTest, Kind::Manifest];

/// A git repository with one commit, and beside it the hostile files paths land on.
fn fixture() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("igos-fuzz-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).expect("fixture dir");
        std::fs::write(dir.join("a.pol"), "policy 1\n").expect("fixture file");
        std::os::unix::fs::symlink("/dev/zero", dir.join("zero")).expect("fixture link");
        let ok = Command::new("mkfifo").arg(dir.join("fifo")).status().is_ok_and(|s| s.success());
        assert!(ok, "mkfifo");
        let big = std::fs::File::create(dir.join("big")).expect("fixture big");
        big.set_len(5 << 20).expect("sparse 5 MiB");
        for args in [&["init", "-q"][..], &["-c", "user.name=f", "-c", "user.email=f@f", "commit", "-q", "--allow-empty", "-m", "one"]] {
            let s = Command::new("git").arg("-C").arg(&dir).args(args).status().expect("git");
            assert!(s.success(), "git {args:?}");
        }
        dir
    })
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect()).unwrap_or_default();
    names.sort();
    names
}

fuzz_target!(|data: &[u8]| {
    let dir = fixture();
    let (rev, rest) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let rev = String::from_utf8_lossy(rev);
    let before = listing(dir);
    match verify_commit(dir, &rev) {
        Ok(id) => {
            assert!(!rev.starts_with('-'), "an option-shaped revision was accepted: {rev:?}");
            assert!(id.len() >= 40 && id.bytes().all(|b| b.is_ascii_hexdigit()), "not a commit id: {id:?}");
        }
        Err(msg) => assert!(!msg.chars().any(|c| c != '\n' && igos::visible::is_unsafe(c)), "raw control text in {msg:?}"),
    }
    assert_eq!(before, listing(dir), "the revision {rev:?} changed the repository's files");

    let Some((&k, path)) = rest.split_first() else { return };
    let kind = KINDS[k as usize % KINDS.len()];
    let path = String::from_utf8_lossy(path);
    // Relative to the fixture (an absolute path would read the host's files, which is what the
    // CLI does too, but not what a fuzzer should spend its time on).
    let path = dir.join(path.trim_start_matches('/'));
    if let Ok(bytes) = input::read(&path, kind) {
        assert!(bytes.len() as u64 <= kind.cap(), "{} read past the {} cap", path.display(), kind.noun());
    }
});
