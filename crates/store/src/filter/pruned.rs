//! Reading only the parts of a JSON message a pattern can reach.
//!
//! A JSON pattern names a few selectors (`$.status`, `$.user.id`); parsing
//! the whole message into a value tree for each event allocated every key
//! and value of it. [`Paths`] is the tree of keys the selectors walk, and
//! [`read`] builds a value with only those keys: every other member is
//! skipped by the JSON reader without being kept. Where a selector ends, or
//! indexes into an array, the value there is read whole. Selectors resolve
//! on the pruned value exactly as on the full one, because every key they
//! follow is kept.
//!
//! The skipped parts are still checked as JSON syntax (strings, escapes,
//! numbers, nesting). Three things the full reader refused and the skipping
//! one does not, in a part no selector reads: a lone UTF-16 surrogate
//! escape (`"\ud800"`), a number too large for a double (`1e400`), and
//! nesting deeper than 128 levels. Such a message can now match on its
//! other fields, as with a lenient JSON reader; AWS does not document
//! which its filters use.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::json::{JsonExpr, Selector, Step};

/// The keys a pattern's selectors follow, as a tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Paths {
    /// Read the value here whole (a selector ends here or indexes into it).
    whole: bool,
    /// The keys followed from here, each with what is followed under it.
    children: Vec<(String, Paths)>,
}

impl Paths {
    /// The paths every selector of `expr` follows.
    pub fn of(expr: &JsonExpr) -> Paths {
        let mut paths = Paths::default();
        paths.add_expr(expr);
        paths
    }

    fn add_expr(&mut self, expr: &JsonExpr) {
        match expr {
            JsonExpr::And(a, b) | JsonExpr::Or(a, b) => {
                self.add_expr(a);
                self.add_expr(b);
            }
            JsonExpr::Compare(sel, _, _)
            | JsonExpr::IsBool(sel, _)
            | JsonExpr::IsNull(sel)
            | JsonExpr::NotExists(sel) => self.add_selector(sel),
        }
    }

    fn add_selector(&mut self, selector: &Selector) {
        let mut node = self;
        for step in &selector.0 {
            match step {
                Step::Key(key) => {
                    let at = match node.children.iter().position(|(k, _)| k == key) {
                        Some(at) => at,
                        None => {
                            node.children.push((key.clone(), Paths::default()));
                            node.children.len() - 1
                        }
                    };
                    node = &mut node.children[at].1;
                }
                Step::Index(_) => {
                    node.whole = true;
                    return;
                }
            }
        }
        node.whole = true;
    }

    fn child(&self, key: &str) -> Option<&Paths> {
        self.children
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, paths)| paths)
    }
}

/// The message's value with only the members `paths` reaches, or `None`
/// when it is not JSON (trailing text included).
pub fn read(message: &str, paths: &Paths) -> Option<Value> {
    let mut de = serde_json::Deserializer::from_str(message);
    let value = paths.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(value)
}

impl<'de> DeserializeSeed<'de> for &Paths {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        if self.whole {
            Value::deserialize(deserializer)
        } else {
            deserializer.deserialize_any(Pruned(self))
        }
    }
}

/// Reads a value of which only some members are kept. Below this point
/// only object members are followed, so anything else stands in as `null`
/// (a key step on it finds nothing, as on the value itself).
struct Pruned<'p>(&'p Paths);

impl<'de> Visitor<'de> for Pruned<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_str<E>(self, _: &str) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Null)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            match self.0.child(&key) {
                // A repeated key keeps its last value, as the full reader does.
                Some(paths) => {
                    let value = map.next_value_seed(paths)?;
                    kept.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(kept))
    }
}

/// An object key, borrowed from the message unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }

            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }

            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }

            fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}
