//! Small helpers: UTC timestamps without a date crate, crash injection, fsync, sizes as
//! people read them.

use std::path::Path;

/// Current UTC time as `YYYY-MM-DDTHH:MM:SSZ`. `PKM_NOW` (seconds since the epoch) overrides the
/// clock so tests and snapshots are deterministic.
pub fn now_utc() -> String {
    let secs = std::env::var("PKM_NOW")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0));
    format_utc(secs)
}

pub fn format_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Crash injection for tests: in debug builds, `PKM_CRASH_AT=<step>` aborts the process when the
/// pipeline reaches `step`. Release builds ignore it.
pub fn crash_point(step: &str) {
    #[cfg(debug_assertions)]
    {
        if std::env::var("PKM_CRASH_AT").map(|s| s == step).unwrap_or(false) {
            eprintln!("pkm: PKM_CRASH_AT={step}: aborting");
            std::process::abort();
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

/// `crash_point` for a step that runs once per queue member: `PKM_CRASH_AT=<step>` aborts at
/// the first member, `PKM_CRASH_AT=<step>:<package>` at that member.
pub fn crash_point_in(step: &str, package: &str) {
    crash_point(step);
    #[cfg(debug_assertions)]
    crash_point(&format!("{step}:{package}"));
    #[cfg(not(debug_assertions))]
    let _ = package;
}

/// Failure injection for tests: in debug builds, `PKM_FAIL_AT=<step>` or `<step>:<package>`
/// makes the step fail with an I/O error (as a full disk would), so the failure path is proved
/// without crashing. Release builds ignore it.
pub fn fail_point(step: &str, package: &str) -> std::io::Result<()> {
    #[cfg(debug_assertions)]
    {
        if let Ok(s) = std::env::var("PKM_FAIL_AT") {
            if s == step || s == format!("{step}:{package}") {
                return Err(std::io::Error::other(format!("PKM_FAIL_AT={s}: injected failure")));
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = (step, package);
    Ok(())
}

/// fsync a directory so renames inside it are durable.
pub fn sync_dir(p: &Path) {
    if let Ok(f) = std::fs::File::open(p) {
        let _ = f.sync_all();
    }
}

/// Bytes as people read them: `512 B`, `3.4 KiB`, `1.2 MiB` (`igos pack`'s report, `pkm
/// install --print`).
pub fn human_size(n: u64) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}
