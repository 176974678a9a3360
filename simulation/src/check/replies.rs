//! Reading the engine's replies: entry IDs, and `(id, value)` pairs.

use rill_core::Reply;

/// The IDs of the entries in a reply: an entry list, or XREAD/XREADGROUP's per-stream map.
pub fn entries_in(reply: &Reply) -> Vec<String> {
    let entries = match reply {
        Reply::Map(streams) | Reply::PairMap(streams) => {
            return streams.iter().flat_map(|(_, e)| entries_in(e)).collect()
        }
        Reply::Array(entries) => entries,
        _ => return Vec::new(),
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            Reply::Bulk(id) => Some(String::from_utf8_lossy(id).into_owned()),
            Reply::Array(parts) => match parts.first() {
                Some(Reply::Bulk(id)) => Some(String::from_utf8_lossy(id).into_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// `(id, op value)` of each entry of an XRANGE reply.
pub fn entries_of(reply: &Reply) -> Vec<(String, String)> {
    let Reply::Array(entries) = reply else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|entry| match entry {
            Reply::Array(parts) => match (parts.first(), parts.get(1)) {
                (Some(Reply::Bulk(id)), Some(Reply::Array(fields))) => {
                    let value = match fields.get(1) {
                        Some(Reply::Bulk(v)) => String::from_utf8_lossy(v).into_owned(),
                        _ => String::new(),
                    };
                    Some((String::from_utf8_lossy(id).into_owned(), value))
                }
                _ => None,
            },
            _ => None,
        })
        .collect()
}
