//! Stable hashing for placement: the same input gives the same 64-bit value on every
//! machine, in every process and in every release (unless the changelog says so).
//!
//! XXH3-64 (a published, versioned algorithm) with the fixed seed [`SEED`]. Never
//! `RandomState`/`DefaultHasher`: their output changes per process.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// The fixed seed of every placement hash: the ASCII bytes of `"sluicega"`.
/// Changing it moves every key to another backend: a release-note event.
pub const SEED: u64 = u64::from_be_bytes(*b"sluicega");

/// The placement hash of `bytes`.
#[inline]
pub fn stable_hash(bytes: &[u8]) -> u64 {
    xxh3_64_with_seed(bytes, SEED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_values_never_change() {
        // If this fails, placement changed for every user: say so in the changelog.
        assert_eq!(SEED, 0x736c_7569_6365_6761);
        assert_eq!(stable_hash(b""), 0xbcc9_997a_b8dd_4d26);
        assert_eq!(stable_hash(b"127.0.0.1:9001"), 0xc6b3_866b_94fd_0b14);
        assert_eq!(stable_hash(b"user-42"), 0x7a40_9bcd_a6c8_2cad);
    }
}
