//! A fast hasher for the engine's name-keyed maps (the Fx hash of rustc).
//!
//! SipHash, std's default, resists hash flooding from untrusted keys; these keys are the
//! tree's own package names, looked up millions of times per check, and SipHash was 4% of
//! a check of 100,000 records. Crafted names can only slow their own check down.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub type FastSet<K> = HashSet<K, BuildHasherDefault<FxHasher>>;

#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    /// The multiply leaves its low bits depending only on the input's low bits, and the
    /// table takes its bucket from the low bits: names differing only in their last digits
    /// (`core-pkg-004999`) fell into 32 buckets of 131,072 and every lookup compared
    /// thousands of names. Rotating brings the well-mixed high bits down (as rustc-hash 2 does).
    #[inline]
    fn finish(&self) -> u64 {
        self.hash.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_behave_like_maps() {
        let mut m: FastMap<&str, usize> = FastMap::default();
        let names: Vec<String> = (0..10_000).map(|i| format!("pkg-{i}")).collect();
        for (i, n) in names.iter().enumerate() {
            m.insert(n, i);
        }
        assert_eq!(m.len(), 10_000);
        assert!(names.iter().enumerate().all(|(i, n)| m.get(n.as_str()) == Some(&i)));
        assert_eq!(m.get("pkg-10000"), None);
        // Strings differing only past the first 8 bytes, or by length, hash apart.
        let mut h1 = FxHasher::default();
        h1.write(b"abcdefgh1");
        let mut h2 = FxHasher::default();
        h2.write(b"abcdefgh2");
        assert_ne!(h1.finish(), h2.finish());
    }

    /// The bucket of a 100,000-entry table is the hash's low 17 bits: names that differ only
    /// in a few digits must spread over them, not crowd into a few.
    #[test]
    fn similar_names_spread_over_the_buckets() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let build = BuildHasherDefault::<FxHasher>::default();
        for pattern in ["core-pkg-{:06}", "{}", "lib{}-dev", "python-module-number-{}"] {
            let buckets: FastSet<u64> = (0..100_000)
                .map(|i| build.hash_one(pattern.replace("{:06}", &format!("{i:06}")).replace("{}", &i.to_string()).as_str()) & 0x1_ffff)
                .collect();
            // Uniform hashing fills about 1 - 1/e of 131,072 buckets (~69,000).
            assert!(buckets.len() > 50_000, "{pattern}: 100,000 names in {} buckets", buckets.len());
        }
    }
}
