//! Ed25519 keys and detached signatures (format: see the module doc of `crate::repo`).

use crate::archive::hex;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

/// What a signature covers: a domain line, so an archive signature can never pass for an
/// index signature or the reverse.
pub const INDEX_CONTEXT: &[u8] = b"igos-index-signature 1\n";
pub const ARCHIVE_CONTEXT: &[u8] = b"igos-archive-signature 1\n";

/// A public key and its id (the first 16 hex digits of the SHA-256 of its 32 bytes).
#[derive(Debug, Clone)]
pub struct PublicKey {
    pub key: VerifyingKey,
    pub id: String,
}

pub struct SecretKey {
    pub key: SigningKey,
    pub id: String,
}

pub fn key_id(public: &VerifyingKey) -> String {
    hex(&Sha256::digest(public.as_bytes())).chars().take(16).collect()
}

fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The `key: value` lines of a key or signature file after its first line; errors name the line.
fn fields<'a>(text: &'a str, first: &str) -> Result<Vec<(&'a str, &'a str, usize)>, String> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, l)) if l.trim() == first => {}
        _ => return Err(format!("line 1: expected `{first}`")),
    }
    let mut out = Vec::new();
    for (i, l) in lines {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (k, v) = l.split_once(' ').ok_or_else(|| format!("line {}: expected `key value`", i + 1))?;
        out.push((k, v.trim(), i + 1));
    }
    Ok(out)
}

fn field<'a>(f: &[(&'a str, &'a str, usize)], key: &str) -> Result<(&'a str, usize), String> {
    f.iter().find(|(k, _, _)| *k == key).map(|(_, v, n)| (*v, *n)).ok_or_else(|| format!("missing `{key}` line"))
}

impl PublicKey {
    pub fn parse(text: &str) -> Result<PublicKey, String> {
        let f = fields(text, "igos-public-key 1")?;
        let (hexkey, n) = field(&f, "ed25519")?;
        let bytes = unhex::<32>(hexkey).ok_or_else(|| format!("line {n}: not 64 hex digits"))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|e| format!("line {n}: not an Ed25519 public key: {e}"))?;
        let id = key_id(&key);
        if let Ok((claimed, n)) = field(&f, "id") {
            if claimed != id {
                return Err(format!("line {n}: id `{claimed}` does not match the key (its id is {id})"));
            }
        }
        Ok(PublicKey { key, id })
    }
    pub fn render(&self) -> String {
        format!("igos-public-key 1\nid {}\ned25519 {}\n", self.id, hex(self.key.as_bytes()))
    }
    /// Check `sig` (a parsed signature file) over `context + message`.
    pub fn verify(&self, context: &[u8], message: &[u8], sig: &SignatureFile) -> Result<(), String> {
        if sig.key_id != self.id {
            return Err(format!("signed by key {} but the trusted key is {}", sig.key_id, self.id));
        }
        let mut m = Vec::with_capacity(context.len() + message.len());
        m.extend_from_slice(context);
        m.extend_from_slice(message);
        self.key.verify(&m, &sig.signature).map_err(|_| "the signature does not match the content (tampered or truncated)".to_string())
    }
}

impl SecretKey {
    /// A new key from 32 bytes of the operating system's randomness.
    pub fn generate() -> Result<SecretKey, String> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| format!("no randomness from the operating system: {e}"))?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(&key.verifying_key());
        Ok(SecretKey { key, id })
    }
    pub fn parse(text: &str) -> Result<SecretKey, String> {
        let f = fields(text, "igos-secret-key 1")?;
        let (hexkey, n) = field(&f, "ed25519")?;
        let seed = unhex::<32>(hexkey).ok_or_else(|| format!("line {n}: not 64 hex digits"))?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(&key.verifying_key());
        Ok(SecretKey { key, id })
    }
    pub fn render(&self) -> String {
        format!("igos-secret-key 1\nid {}\ned25519 {}\n", self.id, hex(&self.key.to_bytes()))
    }
    pub fn public(&self) -> PublicKey {
        PublicKey { key: self.key.verifying_key(), id: self.id.clone() }
    }
    pub fn sign(&self, context: &[u8], message: &[u8]) -> SignatureFile {
        let mut m = Vec::with_capacity(context.len() + message.len());
        m.extend_from_slice(context);
        m.extend_from_slice(message);
        SignatureFile { key_id: self.id.clone(), signature: self.key.sign(&m) }
    }
}

/// A detached signature file: `igos-signature 1`, `key ID`, `ed25519 SIG` (128 hex digits).
#[derive(Debug, Clone)]
pub struct SignatureFile {
    pub key_id: String,
    pub signature: Signature,
}

impl SignatureFile {
    pub fn parse(text: &str) -> Result<SignatureFile, String> {
        let f = fields(text, "igos-signature 1")?;
        let (key_id, _) = field(&f, "key")?;
        let (hexsig, n) = field(&f, "ed25519")?;
        let bytes = unhex::<64>(hexsig).ok_or_else(|| format!("line {n}: not 128 hex digits"))?;
        Ok(SignatureFile { key_id: key_id.to_string(), signature: Signature::from_bytes(&bytes) })
    }
    pub fn render(&self) -> String {
        format!("igos-signature 1\nkey {}\ned25519 {}\n", self.key_id, hex(&self.signature.to_bytes()))
    }
}

/// The message an archive signature covers: the archive's SHA-256 (lowercase hex) and a newline.
pub fn archive_message(sha256: &str) -> Vec<u8> {
    format!("{sha256}\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_round_trip_and_tamper() {
        let sk = SecretKey::generate().unwrap();
        let sk2 = SecretKey::parse(&sk.render()).unwrap();
        assert_eq!(sk.id, sk2.id);
        let pk = PublicKey::parse(&sk.public().render()).unwrap();
        let sig = SignatureFile::parse(&sk.sign(INDEX_CONTEXT, b"hello").render()).unwrap();
        pk.verify(INDEX_CONTEXT, b"hello", &sig).unwrap();
        assert!(pk.verify(INDEX_CONTEXT, b"hellO", &sig).is_err());
        assert!(pk.verify(ARCHIVE_CONTEXT, b"hello", &sig).is_err(), "domain separation");
        let other = SecretKey::generate().unwrap().public();
        assert!(other.verify(INDEX_CONTEXT, b"hello", &sig).unwrap_err().contains("trusted key"));
        assert!(PublicKey::parse("igos-public-key 1\ned25519 zz\n").is_err());
    }
}
