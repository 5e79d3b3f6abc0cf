//! The hardened archive reader and its manifest parser on arbitrary bytes.
//!
//! The first byte picks the mode, so the fuzzer can mutate the tar structure directly
//! instead of fighting the gzip checksum:
//! * even: the rest is a tar stream; it is gzipped here, then read by `extract_archive`;
//! * odd:  the rest is fed to `extract_archive` as is (gzip framing, bombs, truncation).
//! In both modes the bytes are also parsed as a `.MANIFEST` text, and a manifest that
//! parses must render and parse back to the same manifest. Small caps keep runs fast; the
//! staging directory is emptied between runs. Nothing may panic, hang, or write outside
//! the staging directory.
#![no_main]

use std::io::Write;
use std::path::PathBuf;

use igos::archive::{extract_archive, Limits, Manifest};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static BASE: PathBuf = {
        let p = std::env::temp_dir().join(format!("igos-fuzz-archive-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        p
    };
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    if let Ok(m) = Manifest::parse(&text) {
        let again = Manifest::parse(&m.render()).expect("a rendered manifest parses");
        assert_eq!(again, m, "manifest render/parse round trip");
    }
    let bytes: Vec<u8> = if mode % 2 == 0 {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(rest);
        gz.finish().unwrap_or_default()
    } else {
        rest.to_vec()
    };
    let limits = Limits { max_total: 4 << 20, max_ratio: 250, ratio_grace: 1 << 20, max_entries: 2_000, max_manifest: 1 << 20 };
    BASE.with(|base| {
        let staging = base.join("s");
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir(&staging).expect("staging dir");
        match extract_archive(&bytes[..], &staging, &limits) {
            Ok(x) => {
                // Accepted: every declared entry is staged.
                for e in &x.manifest.entries {
                    assert!(std::fs::symlink_metadata(staging.join(&e.path)).is_ok(), "declared entry {} not staged", e.path);
                }
            }
            Err(e) => {
                assert!(!e.code.is_empty());
                let _ = e.to_string();
            }
        }
        // Nothing outside staging: the base holds only the staging directory.
        let n = std::fs::read_dir(base).map(|d| d.count()).unwrap_or(0);
        assert_eq!(n, 1, "the reader wrote outside its staging directory");
    });
});
