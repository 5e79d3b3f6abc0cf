//! pkm repositories: publishing (`igos repo`), signed indexes, configured repositories and
//! keys, downloads, dependency resolution, and the pkm operations built on them.
//!
//! # Repository directory
//!
//! ```text
//! REPO/index.json                          the index (format version 2, below)
//! REPO/index.json.sig                      its Ed25519 signature
//! REPO/NAME-VERSION-RELEASE.igos.tar.gz    each published archive
//! REPO/NAME-VERSION-RELEASE.igos.tar.gz.sig  its detached signature (`igos repo add --sign-archives`)
//! ```
//!
//! `igos repo add` and `igos repo remove` rewrite `index.json` and then `index.json.sig`, each
//! atomically (a temporary file beside it, fsync, rename, fsync of the directory). A client
//! that reads between the two renames sees a signature that does not match and keeps its
//! previous index; the next sync succeeds.
//!
//! # Index format (version 2)
//!
//! UTF-8 JSON, entries sorted by name, version, release; unknown fields are refused:
//!
//! ```json
//! {
//!   "format": "igos-index",
//!   "version": 2,
//!   "packages": [
//!     {
//!       "name": "tmux", "version": "3.4", "release": 1,
//!       "file": "tmux-3.4-1.igos.tar.gz", "size": 412345,
//!       "sha256": "<64 lowercase hex digits: SHA-256 of the archive file>",
//!       "depends": ["libevent"], "supersedes": [], "tier": "extra",
//!       "description": "terminal multiplexer", "signed": false
//!     }
//!   ]
//! }
//! ```
//!
//! Every field but `depends`, `supersedes`, `tier`, `description` and `signed` is required.
//! Names and versions follow the archive format's rules; `file` is a plain file name ending in
//! `.igos.tar.gz` (no `/`), since it is joined to the repository URL and the cache directory.
//! The version-1 text index (`crate::trust`) is still read by `pkm sync FILE`.
//!
//! # Keys and signatures
//!
//! Ed25519 (RFC 8032, ed25519-dalek). Files are text, one `key value` per line:
//!
//! ```text
//! NAME.key  (mode 0600)      NAME.pub                  *.sig
//! igos-secret-key 1          igos-public-key 1         igos-signature 1
//! id 3f2a9c0d4e5b6a71        id 3f2a9c0d4e5b6a71       key 3f2a9c0d4e5b6a71
//! ed25519 <64 hex: seed>     ed25519 <64 hex: key>     ed25519 <128 hex: signature>
//! ```
//!
//! The key id is the first 16 hex digits of the SHA-256 of the 32 public-key bytes. What is
//! signed is a domain line followed by the content, so one kind of signature never passes for
//! the other:
//!
//! * `index.json.sig`: `igos-index-signature 1\n` followed by the exact bytes of `index.json`.
//! * `FILE.sig`: `igos-archive-signature 1\n` followed by the archive's SHA-256 (lowercase
//!   hex) and `\n`.
//!
//! # Client configuration (under `--root`)
//!
//! * `/etc/igos/repos.conf`: one repository a line, `NAME URL KEY-ID`, in priority order (the
//!   first repository publishing a name wins); `#` comments. URLs: `file://`, `http://`.
//! * `/etc/igos/keys/*.pub`: the trusted public keys.
//! * `/var/cache/igos/pkm/`: downloaded archives, verified before use.

pub mod conf;
pub mod fetch;
pub mod index;
pub mod ops;
pub mod publish;
pub mod resolve;
pub mod sign;
pub mod sync;
