//! The headers of a request to an HTTP backend, as a plain list.
//!
//! The request to a backend is built once and written out once, so its
//! headers need no hashed index: a `Vec` in the order a [`HeaderMap`] would
//! iterate them costs one allocation and a short linear scan per `insert`,
//! where a `HeaderMap` allocates two tables and hashes every name (about a
//! thousand instructions per proxied request, measured with callgrind).
//! [`OutgoingHeaders::insert`] and [`OutgoingHeaders::insert_if_absent`]
//! keep `HeaderMap::insert`'s and `entry().or_insert`'s meaning, so the
//! backend receives the same headers in the same order either way.

use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;

/// A request's headers in sending order; repeated names allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutgoingHeaders {
    entries: Vec<(HeaderName, HeaderValue)>,
}

impl OutgoingHeaders {
    /// An empty list with room for `capacity` headers.
    pub fn with_capacity(capacity: usize) -> OutgoingHeaders {
        OutgoingHeaders {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Adds a value, keeping any the name already has. Appending values of
    /// one name together (as iterating a `HeaderMap` yields them) keeps
    /// `HeaderMap`'s order.
    pub fn append(&mut self, name: HeaderName, value: HeaderValue) {
        self.entries.push((name, value));
    }

    /// Sets the name's only value: it takes the place of the name's first
    /// value and drops the others, or goes last if the name is new, as
    /// `HeaderMap::insert` does.
    pub fn insert(&mut self, name: HeaderName, value: HeaderValue) {
        match self.entries.iter().position(|(n, _)| *n == name) {
            Some(first) => {
                self.entries[first].1 = value;
                let mut index = 0;
                self.entries.retain(|(n, _)| {
                    let keep = index <= first || *n != name;
                    index += 1;
                    keep
                });
            }
            None => self.entries.push((name, value)),
        }
    }

    /// Adds the value only if the name has none yet.
    pub fn insert_if_absent(&mut self, name: HeaderName, value: HeaderValue) {
        if !self.contains(&name) {
            self.entries.push((name, value));
        }
    }

    /// Whether the name has a value.
    pub fn contains(&self, name: &HeaderName) -> bool {
        self.entries.iter().any(|(n, _)| n == name)
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The headers in sending order.
    pub fn iter(&self) -> <&OutgoingHeaders as IntoIterator>::IntoIter {
        self.into_iter()
    }

    /// The same headers as a map, for clients that take one.
    pub fn into_header_map(self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.entries.len());
        for (name, value) in self.entries {
            map.append(name, value);
        }
        map
    }
}

impl<'a> IntoIterator for &'a OutgoingHeaders {
    type Item = (&'a HeaderName, &'a HeaderValue);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, (HeaderName, HeaderValue)>,
        fn(&'a (HeaderName, HeaderValue)) -> (&'a HeaderName, &'a HeaderValue),
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter().map(|(n, v)| (n, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &'static str) -> HeaderName {
        HeaderName::from_static(s)
    }

    fn value(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    fn pairs<'a>(it: impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)>) -> Vec<String> {
        it.map(|(n, v)| format!("{n}: {}", v.to_str().unwrap()))
            .collect()
    }

    /// Every sequence of operations leaves the same headers, in the same
    /// order, as the same operations on a `HeaderMap`.
    #[test]
    fn operations_match_a_header_map() {
        enum Op {
            Append(&'static str, &'static str),
            Insert(&'static str, &'static str),
            IfAbsent(&'static str, &'static str),
        }
        use Op::*;
        let cases: Vec<Vec<Op>> = vec![
            vec![Append("host", "a"), Insert("x-b", "1"), Insert("x-c", "2")],
            vec![
                Append("accept", "1"),
                Append("accept", "2"),
                Append("host", "h"),
                Insert("accept", "3"),
            ],
            vec![
                Append("x-a", "1"),
                Append("x-a", "2"),
                Append("x-a", "3"),
                Append("x-b", "b"),
                Insert("x-a", "only"),
                Insert("x-z", "z"),
            ],
            vec![
                Append("user-agent", "client"),
                IfAbsent("user-agent", "gateway"),
                IfAbsent("accept", "application/json"),
                Insert("host", "h"),
            ],
            vec![Insert("x-a", "1"), Insert("x-a", "2"), IfAbsent("x-a", "3")],
        ];
        for ops in cases {
            let mut list = OutgoingHeaders::with_capacity(2);
            let mut map = HeaderMap::new();
            for op in &ops {
                match *op {
                    Append(n, v) => {
                        list.append(name(n), value(v));
                        map.append(name(n), value(v));
                    }
                    Insert(n, v) => {
                        list.insert(name(n), value(v));
                        map.insert(name(n), value(v));
                    }
                    IfAbsent(n, v) => {
                        list.insert_if_absent(name(n), value(v));
                        map.entry(name(n)).or_insert(value(v));
                    }
                }
            }
            assert_eq!(pairs(list.iter()), pairs(map.iter()));
            assert_eq!(list.len(), map.len());
            assert_eq!(list.clone().into_header_map(), map);
        }
    }

    #[test]
    fn contains_and_empty() {
        let mut list = OutgoingHeaders::default();
        assert!(list.is_empty());
        assert!(!list.contains(&http::header::HOST));
        list.append(http::header::HOST, value("h"));
        assert!(list.contains(&http::header::HOST));
        assert!(!list.is_empty());
    }
}
