//! One audit record: what the recipe declares and what its source tarball holds, as JSON
//! with sorted keys so a re-audit diffs cleanly.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::tree::{DepKind, Package};

/// The fields Gate 2 and the report read. Records written by the original auditor carry
/// many more keys; they are ignored on read.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub version: String,
    #[serde(default, deserialize_with = "nullable")]
    pub tier: String,
    #[serde(default, deserialize_with = "nullable")]
    pub our_deps_build: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub our_deps_host: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub our_deps_runtime: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub source_sha256: String,
    #[serde(default, deserialize_with = "nullable")]
    pub source_tarball: String,
    #[serde(default, deserialize_with = "nullable")]
    pub build_system: String,
    #[serde(default, deserialize_with = "nullable")]
    pub audited_at: String,
    #[serde(default, deserialize_with = "nullable")]
    pub audited_by: String,
    #[serde(default, deserialize_with = "nullable")]
    pub audit_version: u32,
}

/// `null` reads as the empty value (the original auditor writes nulls for unknown fields).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug)]
pub struct AuditError {
    pub message: String,
    pub help: String,
    /// 1: the audit is refused (hash mismatch); 2: input unusable (missing tarball...).
    pub exit: i32,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The tarball file name of a recipe's first source: `filename:` or the URL's last segment,
/// with `${name}` and `${version}` substituted.
pub fn tarball_name(pkg: &Package, url: &str) -> String {
    let last = url.rsplit('/').next().unwrap_or(url);
    last.replace("${name}", &pkg.name).replace("${version}", pkg.version_text.as_deref().unwrap_or(""))
}

/// Which build system the tarball uses, from the files at most three levels deep.
fn detect_build_system(names: &[String]) -> String {
    let markers: &[(&[&str], &str)] = &[
        (&["meson.build"], "meson"),
        (&["CMakeLists.txt"], "cmake"),
        (&["Cargo.toml"], "cargo"),
        (&["configure", "configure.ac", "configure.in"], "autotools"),
        (&["pyproject.toml", "setup.py", "setup.cfg"], "python"),
        (&["Makefile", "makefile", "GNUmakefile"], "make"),
    ];
    for (files, system) in markers {
        if names.iter().any(|n| {
            let parts: Vec<&str> = n.trim_end_matches('/').split('/').collect();
            parts.len() <= 3 && parts.last().is_some_and(|f| files.contains(f))
        }) {
            return system.to_string();
        }
    }
    "unknown".into()
}

/// Member names of a tarball (gzip, xz, bzip2 or plain tar). Anything else gives None.
fn list_tarball(path: &Path) -> Option<Vec<String>> {
    let reader = crate::tarball::open(path).ok()?;
    let mut archive = tar::Archive::new(reader);
    let mut out = vec![];
    for entry in archive.entries().ok()? {
        let entry = entry.ok()?;
        out.push(entry.path().ok()?.to_string_lossy().to_string());
        if out.len() > 200_000 {
            break;
        }
    }
    Some(out)
}

fn now_utc() -> String {
    if let Ok(t) = std::env::var("IGOS_AUDITED_AT") {
        return t;
    }
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let date = crate::date::civil_date(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{date}T{:02}:{:02}:{:02}Z", s / 3600, (s / 60) % 60, s % 60)
}

/// Audit one recipe against its source tarball in `sources`. The tarball's sha256 must
/// equal the recipe's pin, or the audit is refused.
pub fn audit_package(pkg: &Package, sources: &Path) -> Result<Record, AuditError> {
    let deps = |k: DepKind| {
        let mut v: Vec<String> = pkg.deps.iter().filter(|d| d.kind == k).map(|d| d.name.clone()).collect();
        v.sort();
        v
    };
    let mut record = Record {
        name: pkg.name.clone(),
        version: pkg.version_text.clone().unwrap_or_default(),
        tier: pkg.tier.clone().unwrap_or_else(|| pkg.dir_tier.clone()),
        our_deps_build: deps(DepKind::Build),
        our_deps_host: deps(DepKind::Host),
        our_deps_runtime: deps(DepKind::Runtime),
        source_sha256: String::new(),
        source_tarball: String::new(),
        build_system: "none".into(),
        audited_at: now_utc(),
        audited_by: "igos audit".into(),
        audit_version: 1,
    };
    let Some(src) = pkg.sources.first() else {
        // `source: []`: a metapackage has nothing to audit upstream.
        return Ok(record);
    };
    let Some(url) = src.url.as_deref() else {
        return Err(AuditError {
            message: format!("{}: its source entry has no url", pkg.name),
            help: "fix the recipe, then audit again".into(),
            exit: 2,
        });
    };
    let tarball = tarball_name(pkg, url);
    let path: PathBuf = sources.join(&tarball);
    // Through the one reader: a FIFO or a device in ./sources is refused, never waited on.
    let bytes = crate::input::read(&path, crate::input::Kind::Tarball).map_err(|e| AuditError {
        message: format!("{}: cannot read its source tarball: {e}", pkg.name),
        help: format!("stage {tarball} in {} (mirror-first), then audit again", sources.display()),
        exit: 2,
    })?;
    let actual = sha256_hex(&bytes);
    let pinned = src.sha256.clone().unwrap_or_default();
    if actual != pinned {
        return Err(AuditError {
            message: format!("{}: {tarball} has sha256 {actual}, the recipe pins {pinned}: audit refused", pkg.name),
            help: "a tarball that does not match its pin is not the source the recipe describes; fetch it again from the mirror, or update the pin if upstream really re-released".into(),
            exit: 1,
        });
    }
    record.source_sha256 = actual;
    record.build_system = list_tarball(&path).map(|names| detect_build_system(&names)).unwrap_or_else(|| "unknown".into());
    record.source_tarball = tarball;
    Ok(record)
}

impl Record {
    /// Read one record from the bytes of a store file (what `igos audit aggregate` does for
    /// each `*.json`). Unknown keys are ignored, `null` reads as empty; anything else that
    /// is not a JSON object with a string `name` is an error (never a panic).
    pub fn from_json(bytes: &[u8]) -> Result<Record, String> {
        serde_json::from_slice::<Record>(bytes).map_err(|e| e.to_string())
    }

    /// JSON with sorted keys and a trailing newline.
    pub fn to_json(&self) -> String {
        let value = serde_json::to_value(self).unwrap_or_default();
        // serde_json's map keeps keys sorted (no preserve_order feature).
        serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
    }

    /// Write `<store>/<name>.json` via a temporary file and a rename.
    pub fn save(&self, store: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(store)?;
        let path = store.join(format!("{}.json", self.name));
        let tmp = store.join(format!(".{}.json.tmp", self.name));
        std::fs::write(&tmp, self.to_json())?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }
}
