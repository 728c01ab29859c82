//! Finds the line and column of a YAML path (`clusters.api.backends[1].address`) in
//! block-style YAML text, so validation errors can point at the offending line.
//!
//! serde_yaml does not keep spans on deserialized values; this small walker over the
//! indentation recovers them. It is best effort: it understands block mappings,
//! block sequences (`- key: value`) and one-line flow mappings (`{ host: x }`); when a
//! step cannot be followed, it answers the deepest place it found.

/// One step of a YAML path.
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(path: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        while let Some(open) = rest.strip_prefix('[') {
            let Some(close) = open.find(']') else { break };
            if let Ok(i) = open[..close].parse() {
                out.push(Segment::Index(i));
            }
            rest = &open[close + 1..];
        }
    }
    out
}

/// A significant line: where its key starts (after any `- ` markers) and its dash, if any.
struct Line<'a> {
    number: usize,
    key_col: usize,
    dash_col: Option<usize>,
    text: &'a str,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let mut rest = &raw[indent..];
        if rest.is_empty() || rest.starts_with('#') || rest.starts_with("---") {
            continue;
        }
        let mut col = indent;
        let mut dash_col = None;
        while rest.starts_with("- ") || rest == "-" {
            dash_col.get_or_insert(col);
            let after = rest[1..].trim_start_matches(' ');
            col += rest.len() - after.len();
            rest = after;
        }
        out.push(Line {
            number: number + 1,
            key_col: col,
            dash_col,
            text: raw,
        });
    }
    out
}

fn key_of<'a>(line: &Line<'a>) -> Option<&'a str> {
    let rest = &line.text[line.key_col..];
    let colon = rest.find(':')?;
    Some(rest[..colon].trim().trim_matches(['"', '\'']))
}

/// Column (0-based) of the value on a key line, if it has one there.
fn value_col(line: &Line<'_>) -> Option<usize> {
    let rest = &line.text[line.key_col..];
    let colon = rest.find(':')?;
    let after = &rest[colon + 1..];
    let value = after.trim_start();
    (!value.is_empty() && !value.starts_with('#'))
        .then(|| line.key_col + colon + 1 + (after.len() - value.len()))
}

/// 1-based (line, column) of `path` in `text`, best effort.
pub(crate) fn locate(text: &str, path: &str) -> Option<(usize, usize)> {
    let all = lines(text);
    let segs = segments(path);
    let (mut start, mut end) = (0, all.len());
    let mut found: Option<(usize, usize)> = None;
    for (step, seg) in segs.iter().enumerate() {
        let hit = (|| {
            let first = all.get(start..end)?.first()?;
            Some(match seg {
                Segment::Key(key) => {
                    let indent = first.key_col;
                    let idx = (start..end)
                        .find(|&i| all[i].key_col == indent && key_of(&all[i]) == Some(*key))?;
                    let line = &all[idx];
                    if let (Some(v), true) = (value_col(line), step + 1 < segs.len())
                        && line.text[v..].starts_with('{')
                    {
                        let at = flow_key(line, v, &segs[step + 1..]);
                        return Some((idx, idx, idx, at.unwrap_or((line.number, v + 1))));
                    }
                    let stop = (idx + 1..end)
                        .find(|&i| {
                            all[i].key_col <= indent || all[i].dash_col.is_some_and(|d| d < indent)
                        })
                        .unwrap_or(end);
                    let col = if step + 1 == segs.len() {
                        value_col(line).unwrap_or(line.key_col)
                    } else {
                        line.key_col
                    };
                    (idx, idx + 1, stop, (line.number, col + 1))
                }
                Segment::Index(n) => {
                    let dash = first.dash_col?;
                    let items: Vec<usize> = (start..end)
                        .filter(|&i| all[i].dash_col == Some(dash))
                        .collect();
                    let idx = *items.get(*n)?;
                    let stop = items.get(n + 1).copied().unwrap_or(end);
                    (idx, idx, stop, (all[idx].number, dash + 1))
                }
            })
        })();
        let Some((_, s, e, at)) = hit else {
            // A missing last step points at its parent; a missing middle step at nothing.
            return if step + 1 == segs.len() { found } else { None };
        };
        found = Some(at);
        start = s;
        end = e;
        if s == e {
            break;
        }
    }
    found
}

/// Finds a key inside a one-line flow mapping starting at column `open`.
fn flow_key(line: &Line<'_>, open: usize, rest: &[Segment<'_>]) -> Option<(usize, usize)> {
    let Some(Segment::Key(key)) = rest.first() else {
        return None;
    };
    let body = &line.text[open..];
    let pos = body
        .match_indices(key)
        .find(|(i, _)| {
            let before = body[..*i].trim_end().chars().last();
            matches!(before, Some('{') | Some(','))
                && body[i + key.len()..].trim_start().starts_with(':')
        })?
        .0;
    Some((line.number, open + pos + 1))
}

#[cfg(test)]
mod tests {
    use super::locate;

    const DOC: &str = "\
listeners:
  web:
    address: 127.0.0.1:8080
    routes:
      - match: { host: api.example.com, path_prefix: /v1 }
        cluster: api
      - match:
          path_prefix: /
        cluster: web
clusters:
  api:
    backends:
      - address: 127.0.0.1:9001
        weight: 2
      - address: 127.0.0.1:99999
";

    #[test]
    fn finds_block_keys_and_items() {
        assert_eq!(locate(DOC, "listeners.web.address"), Some((3, 14)));
        assert_eq!(
            locate(DOC, "listeners.web.routes[1].cluster"),
            Some((9, 18))
        );
        assert_eq!(
            locate(DOC, "listeners.web.routes[1].match.path_prefix"),
            Some((8, 24))
        );
        assert_eq!(
            locate(DOC, "clusters.api.backends[1].address"),
            Some((15, 18))
        );
        assert_eq!(
            locate(DOC, "clusters.api.backends[0].weight"),
            Some((14, 17))
        );
    }

    #[test]
    fn finds_keys_in_flow_mappings() {
        assert_eq!(
            locate(DOC, "listeners.web.routes[0].match.path_prefix"),
            Some((5, 41))
        );
    }

    #[test]
    fn missing_steps_answer_none_or_parent() {
        assert_eq!(locate(DOC, "clusters.api.policy"), Some((11, 3)));
        assert_eq!(locate(DOC, "clusters.web.backends"), None);
        assert_eq!(locate("", "listeners"), None);
    }
}
