//! The hash of the engine's name-keyed maps: rustc-hash's FxHasher (rustc's own).
//!
//! SipHash, std's default, resists hash flooding from untrusted keys; these keys are the
//! tree's own package names, looked up millions of times per check, and SipHash was 4% of
//! a check of 100,000 records. Crafted names can only slow their own check down.
//! rustc-hash 2 mixes its result so that names differing only in their last digits
//! (`core-pkg-004999`) spread over a large table's buckets (the test below); the engine
//! once carried its own copy of the Fx hash to get that.

use std::hash::BuildHasherDefault;

pub use rustc_hash::FxHasher;

pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<FxHasher>>;
pub type FastSet<K> = std::collections::HashSet<K, BuildHasherDefault<FxHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::Hasher as _;

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
