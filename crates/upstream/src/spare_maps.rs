//! Header maps kept for reuse, a few per thread: a request head's map, once the
//! in-task client has written it, and a response head's, once the in-task server has
//! written it, are emptied and kept here, and the next head parsed on this thread
//! (`h1_server/request_head.rs`, `direct/response_head.rs`) fills one of them instead
//! of a new one. A head parsed fills a map, the map is written out, then emptied: the
//! same two maps go round, request after request.
//!
//! Why: a new map allocates its table and entries and frees them again (~390
//! instructions to make one, ~150 to free it, under callgrind), twice a request;
//! an emptied one keeps its room, and taking it costs a thread-local pop.
//!
//! Bounds: at most `KEPT` maps a thread, none with room for more than `ROOMIEST`
//! fields (a map grown by one huge head is freed, not kept).

use std::cell::RefCell;

use http::HeaderMap;

/// Most maps kept per thread: more than the heads in flight at once on a worker
/// rarely helps, and each kept map holds its room.
const KEPT: usize = 64;
/// Largest room (in fields) a kept map may have.
const ROOMIEST: usize = 32;

thread_local! {
    static SPARE: RefCell<Vec<HeaderMap>> = const { RefCell::new(Vec::new()) };
}

/// An empty map with room for `fields` fields: a kept one when this thread has one.
pub fn take(fields: usize) -> HeaderMap {
    let spare = SPARE
        .try_with(|spare| spare.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten();
    match spare {
        Some(mut map) => {
            map.reserve(fields);
            map
        }
        None => HeaderMap::with_capacity(fields),
    }
}

/// Keeps `map`, emptied, for a later [`take`] on this thread, unless it has no room,
/// too much, or the thread keeps enough already. Its values are counted too: the room
/// a map keeps for a name's repeated values is not in `capacity()`.
pub fn give(mut map: HeaderMap) {
    let room = map.capacity();
    if room == 0 || room > ROOMIEST || map.len() > ROOMIEST {
        return;
    }
    map.clear();
    // A thread past its end, or a re-entered borrow, just drops the map.
    let _ = SPARE.try_with(|spare| {
        if let Ok(mut spare) = spare.try_borrow_mut()
            && spare.len() < KEPT
        {
            spare.push(map);
        }
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http::HeaderValue;

    fn filled(fields: usize) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(fields);
        for i in 0..fields {
            let name = http::HeaderName::from_bytes(format!("x-{i}").as_bytes()).unwrap();
            map.insert(name, HeaderValue::from_static("v"));
        }
        map
    }

    #[test]
    fn a_given_map_comes_back_empty_with_its_room() {
        // Each test runs on a thread of its own: this one's spares start empty.
        give(filled(5));
        let map = take(3);
        assert!(map.is_empty());
        assert!(map.capacity() >= 5);
        // None kept now: a new one, with the room asked for.
        let fresh = take(7);
        assert!(fresh.is_empty() && fresh.capacity() >= 7);
    }

    #[test]
    fn roomy_maps_and_maps_past_the_bound_are_not_kept() {
        give(filled(ROOMIEST * 2));
        assert_eq!(SPARE.with(|s| s.borrow().len()), 0);
        // One name repeated: little index room, much room for its values.
        let mut repeated = HeaderMap::new();
        for _ in 0..ROOMIEST + 1 {
            repeated.append("x-a", HeaderValue::from_static("v"));
        }
        give(repeated);
        assert_eq!(SPARE.with(|s| s.borrow().len()), 0);
        give(HeaderMap::new());
        assert_eq!(SPARE.with(|s| s.borrow().len()), 0);
        for _ in 0..KEPT + 10 {
            give(filled(2));
        }
        assert_eq!(SPARE.with(|s| s.borrow().len()), KEPT);
    }
}
