//! The backends of a hashing policy as its constructor receives them: stable identities
//! (placement depends on these, never on list position) and weights.

/// The weights of `n` backends: a missing or zero weight counts as 1.
pub(crate) fn weights_for(n: usize, weights: &[u32]) -> Vec<u32> {
    (0..n)
        .map(|i| weights.get(i).copied().unwrap_or(1).max(1))
        .collect()
}

/// Backend positions sorted by identity (then position, for duplicate identities): an
/// order that does not change when the configuration lists the same backends
/// differently.
pub(crate) fn by_identity(ids: &[&str]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| ids[a].cmp(ids[b]).then(a.cmp(&b)));
    order
}

/// A backend position as stored in tables (saturates; no pool has 4 billion backends).
pub(crate) fn index_u32(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_default_to_one() {
        assert_eq!(weights_for(3, &[5, 0]), vec![5, 1, 1]);
        assert_eq!(weights_for(1, &[2, 3]), vec![2]);
    }

    #[test]
    fn identity_order() {
        assert_eq!(by_identity(&["b", "a", "c", "a"]), vec![1, 3, 0, 2]);
    }
}
