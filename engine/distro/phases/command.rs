//! Running one phase's declared command: `sh -c <command>` from the tree root, stdin
//! closed, stdout and stderr merged into one pipe (so their order is kept) and teed to our
//! stdout and to the phase log.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// What the phase command sees besides its working directory (the tree root).
pub struct PhaseEnv<'a> {
    pub phase: &'a str,
    pub root: &'a Path,
    pub state: &'a Path,
    pub log: &'a Path,
}

/// Run `command`, tee its output into `env.log` (truncated first) and return its exit
/// code; a command killed by a signal gives 128 + the signal number, as a shell does.
pub fn run(command: &str, env: &PhaseEnv<'_>) -> io::Result<i32> {
    let mut log = File::create(env.log)?;
    let (mut reader, writer) = io::pipe()?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(env.root)
        .env("IGOS_PHASE", env.phase)
        .env("IGOS_ROOT", env.root)
        .env("IGOS_STATE", env.state)
        .env("IGOS_LOG", env.log)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .spawn()?;
    // The Command (and with it our copies of the pipe's write end) is gone: EOF comes when
    // the child and anything it left running close theirs.
    let mut out = io::stdout();
    let mut buf = [0u8; 8192];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                log.write_all(&buf[..n])?;
                // A closed stdout (e.g. `| head`) must not stop the log or the phase.
                let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    log.flush()?;
    let status = child.wait()?;
    Ok(exit_code(status))
}

#[cfg(unix)]
fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|s| 128 + s)).unwrap_or(1)
}

#[cfg(not(unix))]
fn exit_code(status: std::process::ExitStatus) -> i32 {
    status.code().unwrap_or(1)
}
