//! Duplicate keys. YAML forbids them, but serde_yaml keeps the last of a key that is
//! read into a map (`clusters: app:` twice), so one block would silently replace
//! another. serde_yaml keeps no lines, so this pass reads the parser's events, which
//! carry them, and reports every key given twice in one mapping with both lines.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use crate::error::ConfigError;

/// Every duplicate key in `text`, in document order. A document the event parser
/// cannot read gives none: the syntax error is serde_yaml's to report.
pub(crate) fn duplicate_keys(text: &str) -> Vec<ConfigError> {
    let mut scan = Scan::default();
    match Parser::new_from_str(text).load(&mut scan, false) {
        Ok(()) => scan.errors,
        Err(_) => Vec::new(),
    }
}

/// An open mapping or sequence and its YAML path.
enum Frame {
    Map {
        path: String,
        /// Keys seen so far, with their line.
        keys: Vec<(String, usize)>,
        /// The last key read, while its value is pending.
        key: Option<String>,
    },
    Seq {
        path: String,
        index: usize,
    },
}

#[derive(Default)]
struct Scan {
    stack: Vec<Frame>,
    errors: Vec<ConfigError>,
}

impl Scan {
    /// The path of the value about to start, or `None` when it is a mapping key.
    fn value_path(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame::Map { key: None, .. }) => None,
            Some(Frame::Map {
                path,
                key: Some(key),
                ..
            }) => Some(join(path, key)),
            Some(Frame::Seq { path, index }) => Some(format!("{path}[{index}]")),
        }
    }

    /// A value (or a complex key) of the innermost collection is complete.
    fn done(&mut self) {
        match self.stack.last_mut() {
            Some(Frame::Map { key, .. }) => *key = None,
            Some(Frame::Seq { index, .. }) => *index += 1,
            None => {}
        }
    }

    fn scalar(&mut self, text: String, mark: Marker) {
        let Some(Frame::Map { path, keys, key }) = self.stack.last_mut() else {
            return self.done();
        };
        if key.is_some() {
            return self.done();
        }
        if let Some((_, first)) = keys.iter().find(|(k, _)| *k == text) {
            self.errors.push(ConfigError {
                path: join(path, &text),
                message: format!("duplicate key \"{text}\", first at line {first}"),
                location: Some((mark.line(), mark.col() + 1)),
                transient: false,
            });
        } else {
            keys.push((text.clone(), mark.line()));
        }
        *key = Some(text);
    }

    fn open(&mut self, map: bool) {
        // A collection used as a key is not checked inside; it gets a placeholder path.
        let path = self.value_path().unwrap_or_else(|| "?".into());
        self.stack.push(if map {
            Frame::Map {
                path,
                keys: Vec::new(),
                key: None,
            }
        } else {
            Frame::Seq { path, index: 0 }
        });
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl MarkedEventReceiver for Scan {
    fn on_event(&mut self, event: Event, mark: Marker) {
        match event {
            Event::Scalar(text, ..) => self.scalar(text, mark),
            // An alias as a key names no text to compare; as a value it is complete.
            Event::Alias(_) => match self.stack.last_mut() {
                Some(Frame::Map {
                    key: key @ None, ..
                }) => *key = Some(String::new()),
                _ => self.done(),
            },
            Event::MappingStart(..) => self.open(true),
            Event::SequenceStart(..) => self.open(false),
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                self.done();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::duplicate_keys;

    fn lines(text: &str) -> Vec<String> {
        duplicate_keys(text).iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn finds_duplicates_at_every_level_with_both_lines() {
        let doc = "a:\n  x: 1\n  y: [{ k: 1, k: 2 }]\n  x: 2\nb: 1\na: {}\n";
        assert_eq!(
            lines(doc),
            [
                "a.y[0].k: duplicate key \"k\", first at line 3 (line 3, column 15)",
                "a.x: duplicate key \"x\", first at line 2 (line 4, column 3)",
                "a: duplicate key \"a\", first at line 1 (line 6, column 1)",
            ]
        );
    }

    #[test]
    fn same_keys_in_different_mappings_are_fine() {
        let doc = "a:\n  - k: 1\n  - k: 2\nb: { k: *x }\nc:\n  k: &x 1\n";
        assert!(lines(doc).is_empty());
        assert!(
            lines("a: [").is_empty(),
            "syntax errors are left to serde_yaml"
        );
    }
}
