//! Source tarballs: a tar stream behind gzip, xz or bzip2 compression (or none), chosen by
//! the file's first bytes, not its name, so a misnamed tarball is still read and a file
//! that is no tarball is named as such.

use std::io::{BufReader, Read};
use std::path::Path;

/// The compressions a source tarball may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Bzip2,
    /// A plain tar (ustar magic at offset 257).
    None,
}

impl Compression {
    /// From the first 512 bytes of a file; None: not a tarball igos can read.
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Compression::Xz)
        } else if head.starts_with(b"BZh") {
            Some(Compression::Bzip2)
        } else if head.get(257..262) == Some(b"ustar") {
            Some(Compression::None)
        } else {
            None
        }
    }
}

/// The decompressed tar stream of `path`. Errors name what the file is not.
pub fn open(path: &Path) -> std::io::Result<Box<dyn Read>> {
    // Through the one way to open an input: a FIFO or a device is refused, never waited on.
    let mut file = crate::input::open(path).map_err(|e| match e.problem {
        crate::input::Problem::Io(io) => io,
        other => std::io::Error::other(other.to_string()),
    })?;
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let kind = Compression::sniff(&head[..n]).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "not a tarball (neither gzip, xz, bzip2 nor a plain tar)")
    })?;
    let stream = std::io::Cursor::new(head[..n].to_vec()).chain(file);
    Ok(match kind {
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(stream))),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(BufReader::new(stream))),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(stream))),
        Compression::None => Box::new(stream),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_bytes() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let body = b"project('x')\n";
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "x-1.0/meson.build", &body[..]).expect("append");
        b.into_inner().expect("tar")
    }

    fn names(path: &Path) -> Vec<String> {
        let mut a = tar::Archive::new(open(path).expect("opens"));
        a.entries().expect("entries").map(|e| e.expect("entry").path().expect("path").display().to_string()).collect()
    }

    #[test]
    fn every_compression_reads_by_content_not_name() {
        let dir = std::env::temp_dir().join(format!("igos-tarball-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let tar = tar_bytes();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).expect("gz");
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
        xz.write_all(&tar).expect("xz");
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&tar).expect("bz");
        // Names that lie: the content decides.
        for (name, bytes) in [
            ("a.tar.bz2", gz.finish().expect("gz")),
            ("b.tar.gz", xz.finish().expect("xz")),
            ("c.tar.xz", bz.finish().expect("bz")),
            ("d.tgz", tar.clone()),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, bytes).expect("write");
            assert_eq!(names(&p), ["x-1.0/meson.build"], "{name}");
        }
        let junk = dir.join("junk.tar.xz");
        std::fs::write(&junk, b"hello, not a tarball").expect("write");
        assert!(open(&junk).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
