//! The certificate pairs a listener serves now, with the SNI table built from their
//! names: one immutable value, replaced whole when a pair changes.

use std::sync::Arc;

use crate::loaded_pair::LoadedPair;
use crate::sni_table::SniTable;

/// The pairs in the listener's order and the table that picks among them.
#[derive(Debug)]
pub(crate) struct CertSet {
    /// One per configured pair, in order; never empty.
    pub pairs: Vec<Arc<LoadedPair>>,
    table: SniTable,
}

impl CertSet {
    /// The set of `pairs` (at least one), `default` answering unknown names.
    pub fn new(pairs: Vec<Arc<LoadedPair>>, default: usize) -> Self {
        let names = pairs
            .iter()
            .enumerate()
            .map(|(index, pair)| (index, pair.facts.names.as_slice()));
        let table = SniTable::build(names, default);
        Self { pairs, table }
    }

    /// The pair for a client that sent `sni`.
    pub fn pick(&self, sni: Option<&str>) -> Option<&LoadedPair> {
        let index = self.table.pick(sni);
        self.pairs
            .get(index)
            .or_else(|| self.pairs.first())
            .map(Arc::as_ref)
    }
}
