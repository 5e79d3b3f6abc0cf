//! The `.igos.tar.gz` package archive: manifest, deterministic writer, hardened reader.
//!
//! # Format (version 1)
//!
//! A gzip-compressed tar stream (GNU headers). The first member is `.MANIFEST`, a UTF-8 text file;
//! every other member is one manifest entry, members sorted by name (byte order), each path
//! relative (no leading `/`, no `./`, no `.`/`..`/empty components), directories with a trailing
//! `/` in tar and without it in the manifest. Every parent directory is itself a member.
//!
//! ```text
//! format: igos-archive 1
//! name: util-linux-core
//! version: 2.40.1
//! release: 1
//! tier: core
//! description: Core utilities split from util-linux
//! depends: glibc
//! supersedes: util-linux
//! files:
//! dir 0755 etc
//! file 0644 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 412 config etc/fstab
//! dir 0755 usr
//! dir 0755 usr/bin
//! file 4755 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae 48880 usr/bin/mount
//! symlink usr/bin/umount mount
//! ```
//!
//! * Header lines are `key: value`; `depends:` and `supersedes:` repeat, one name per line
//!   (SUPERSEDES values are bare package names). `name` and `version` are required.
//! * After `files:` one line per entry: `dir MODE PATH`, `file MODE SHA256 SIZE [config] PATH`,
//!   `symlink PATH TARGET`. MODE is four octal digits including setuid/setgid/sticky; SIZE is
//!   the file's length in bytes (decimal), required in an archive (the reader never inflates
//!   more than the manifest declares) and absent from text manifests written before it existed.
//!   In PATH and TARGET, `%`, whitespace and control characters are written `%XX` (UTF-8 bytes).
//! * Writer normalisation: uid/gid 0, owner/group `root`, mtime = the given epoch
//!   (SOURCE_DATE_EPOCH), gzip header mtime 0 and OS byte 255, fixed compression level; symlinks
//!   are stored, never followed. Same inputs give byte-identical archives.
//!
//! # Reader guarantees ([`extract_archive`])
//!
//! One pass over the input: the archive's SHA-256, the inflate, and each file's SHA-256 are
//! computed while extracting into a staging directory. Rejected (with a stable `code` and the
//! member at fault): absolute paths, `..`, non-canonical paths, symlinks whose relative target
//! climbs above the root, hard links, device nodes, FIFOs, other member types, duplicate or
//! unsorted members, PAX global headers and PAX keys outside a small attribute allowlist,
//! setuid/setgid bits not declared in the manifest, any mismatch between manifest and members
//! (type, mode, hash, link target, a member not declared or a declared entry absent), a member
//! whose parent is not a directory member, a file whose size is not declared or whose member
//! size differs from it, a stream longer than the manifest declares (stopped as soon as it
//! passes the declared sizes plus tar's own headers and padding, before anything more is
//! inflated), a manifest declaring more file content than the staging filesystem has free,
//! and inflated output over the caps ([`Limits`]: total size and compression ratio).
//! Ownership from the tar headers is never used.

mod manifest;
mod reader;
mod writer;

/// Name of the manifest member, always the first member of the archive.
pub const MANIFEST_MEMBER: &str = ".MANIFEST";

pub use manifest::{canonical_path, escape, unescape, EntryKind, Manifest, ManifestEntry, FORMAT_LINE};
pub use reader::{extract_archive, link_escapes, sha256_reader, ArchiveError, Extracted, Limits};
pub use writer::{hash_file, hex, manifest_from_tree, write_archive, PackageMeta, WriteOptions};
