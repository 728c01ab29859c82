//! The loader on input nobody wrote on purpose: arbitrary text, and the valid fixtures
//! with one line damaged. Whatever it is given, `parse` returns (it never panics), an
//! error names what is wrong and, when it gives a line, a line of the document; and a
//! config it accepts prints back to itself (`to_yaml` then `parse` gives an equal
//! `Config`), so an accepted mutant is as fully checked as a fixture.
//!
//! The default run tries a few hundred inputs per property (`PROPTEST_CASES` raises
//! it); `many_mutated_fixtures` is the long run, ignored by default:
//! `cargo test -p sluicegate-config --test arbitrary_input -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Test code: a panic is a failure report.

use std::sync::atomic::{AtomicU32, Ordering};

use proptest::prelude::*;
use proptest::test_runner::{Config as Runner, TestCaseError, TestRunner};
use sluicegate_config::{Config, to_yaml};

mod common;
use common::{parse_fixture, yaml_files};

/// Cases the ignored long run tries: about a minute in a debug build (no failure in
/// 60,000 when it was written).
const LONG_RUN_CASES: u32 = 60_000;

/// Scalars that have broken loaders: numbers past every integer type, negative and
/// zero sizes and durations, YAML's own specials (null, tags, anchors and aliases,
/// flow collections), odd addresses, `${…}` references, control bytes, and a long
/// line.
const TOKENS: &[&str] = &[
    "",
    "~",
    "null",
    "0",
    "-1",
    "18446744073709551616",
    "1e309",
    "-0s",
    "0s",
    "1h1h",
    "99999999999h",
    "1ms",
    "65536",
    "0.5",
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "!!binary aGk=",
    "&a x",
    "*a",
    "*nowhere",
    "<<: {}",
    "\"\\u0000\"",
    "'\t'",
    "127.0.0.1:0",
    "[::1]:99999",
    "no.such.host:80",
    "localhost:80",
    "${SG_PORT}",
    "${NOT_SET}",
    "${SG_HOST:-x",
    "$$",
    "$$$$",
    "a$${A}",
    "true",
    "no",
    "random",
    "maglev",
    "ring_hash",
    "h2",
    "/",
    "*.",
    "a:\n  b: c",
    "- x",
    "? k",
    "|",
    ">-",
    "#",
    "\u{feff}",
    "é",
    "\u{0}",
];

/// The valid fixtures' texts, read once per property.
fn fixtures() -> Vec<String> {
    yaml_files("valid")
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

/// One damage to one line of a document.
#[derive(Debug, Clone)]
enum Damage {
    /// The line removed.
    Delete,
    /// The line written twice (a duplicate key or list item).
    Duplicate,
    /// The text after the line's first `:` (or the whole line) replaced by a token.
    Value(&'static str),
    /// The line's indentation changed by this many spaces (may be negative).
    Indent(i8),
    /// The line cut after this many characters.
    Truncate(usize),
    /// A token inserted as a line of its own, at the same indentation.
    Insert(&'static str),
}

fn damage() -> impl Strategy<Value = Damage> {
    let token = proptest::sample::select(TOKENS);
    prop_oneof![
        Just(Damage::Delete),
        Just(Damage::Duplicate),
        token.clone().prop_map(Damage::Value),
        (-4i8..=4).prop_map(Damage::Indent),
        (0usize..40).prop_map(Damage::Truncate),
        token.prop_map(Damage::Insert),
    ]
}

/// `text` with `damage` applied to its line `at` (modulo the line count).
fn damaged(text: &str, at: usize, damage: &Damage) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let at = at % lines.len();
    let line = lines[at].clone();
    let indent = line.len() - line.trim_start().len();
    match damage {
        Damage::Delete => drop(lines.remove(at)),
        Damage::Duplicate => lines.insert(at, line),
        Damage::Value(token) => {
            lines[at] = match line.find(':') {
                Some(colon) => format!("{}: {token}", &line[..colon]),
                None => format!("{}{token}", &line[..indent]),
            }
        }
        Damage::Indent(by) => {
            let spaces = (indent as isize + isize::from(*by)).max(0) as usize;
            lines[at] = format!("{}{}", " ".repeat(spaces), line.trim_start());
        }
        Damage::Truncate(keep) => lines[at] = line.chars().take(*keep).collect(),
        Damage::Insert(token) => lines.insert(at, format!("{}{token}", &line[..indent])),
    }
    lines.join("\n")
}

/// What every answer of the loader must be: an error list that says something at a
/// line of `text`, or a config that prints back to itself. Says which it was.
fn check(text: &str) -> Result<bool, TestCaseError> {
    let parsed = parse_fixture(text);
    let accepted = parsed.is_ok();
    match parsed {
        Err(errors) => {
            prop_assert!(!errors.0.is_empty(), "an error result with no error");
            let lines = yaml_lines(text);
            for error in &errors.0 {
                prop_assert!(!error.message.trim().is_empty(), "empty message: {error:?}");
                if let Some((line, column)) = error.location {
                    // A syntax error at the end of the text may point one line past it.
                    prop_assert!(line >= 1 && line <= lines + 1, "line {line} of {lines}");
                    prop_assert!(column >= 1, "column {column}");
                }
            }
        }
        Ok(config) => prints_back(&config)?,
    }
    Ok(accepted)
}

/// Lines in `text` as the YAML parser counts them (YAML 1.1, as libyaml: a line ends at
/// CR LF, LF, CR, NEL, LS or PS, so `\u{2028}` starts a line an editor may not show).
fn yaml_lines(text: &str) -> usize {
    let breaks = text.replace("\r\n", "\n");
    1 + breaks
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count()
}

/// `config` printed and parsed again is `config` (the names its backends were resolved
/// from aside: the printed file gives the addresses).
fn prints_back(config: &Config) -> Result<(), TestCaseError> {
    let printed = to_yaml(config).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let again = parse_fixture(&printed)
        .map_err(|e| TestCaseError::fail(format!("printed config refused: {e}\n{printed}")))?;
    prop_assert_eq!(without_names(again), without_names(config.clone()));
    Ok(())
}

fn without_names(mut config: Config) -> Config {
    for cluster in &mut config.clusters {
        for backend in &mut cluster.backends {
            backend.name = None;
        }
    }
    config
}

proptest! {
    /// Any text at all: most is not YAML, or not a mapping.
    #[test]
    fn any_text_is_answered(text in any::<String>()) {
        check(&text)?;
    }

    /// Text made of YAML's own punctuation, so it often parses as YAML of some shape.
    #[test]
    fn yaml_shaped_text_is_answered(text in "([a-z_]{1,12}|[:\\-\\[\\]{},&*!|>#'\" \n]|  ){0,60}") {
        check(&text)?;
    }
}

/// Runs the damaged-fixture property for `cases` cases, and checks that both answers
/// came up often enough for both halves of [`check`] to have been tried.
fn mutated_fixtures(cases: u32) {
    let accepted = AtomicU32::new(0);
    let texts = fixtures();
    let strategy = (
        0..texts.len(),
        any::<usize>(),
        prop::collection::vec(damage(), 1..4),
    );
    let mut runner = TestRunner::new(Runner {
        cases,
        ..Runner::default()
    });
    let result = runner.run(&strategy, |(file, at, damages)| {
        let mut text = texts[file].clone();
        for (i, damage) in damages.iter().enumerate() {
            text = damaged(&text, at.wrapping_add(i * 7), damage);
        }
        if check(&text)? {
            accepted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let accepted = accepted.into_inner();
    assert!(
        accepted >= cases / 20 && accepted <= cases - cases / 20,
        "{accepted} of {cases} damaged fixtures accepted: the damage is too mild or too harsh"
    );
}

#[test]
fn damaged_fixtures_are_answered() {
    mutated_fixtures(Runner::default().cases.max(512));
}

#[test]
#[ignore = "long run: cargo test -p sluicegate-config --test arbitrary_input -- --ignored"]
fn many_mutated_fixtures() {
    mutated_fixtures(LONG_RUN_CASES);
}

#[test]
fn damage_changes_the_line_it_names() {
    let text = "a:\n  b: 1\n  c: 2";
    assert_eq!(damaged(text, 1, &Damage::Delete), "a:\n  c: 2");
    assert_eq!(damaged(text, 1, &Damage::Value("x")), "a:\n  b: x\n  c: 2");
    assert_eq!(damaged(text, 2, &Damage::Indent(-2)), "a:\n  b: 1\nc: 2");
    assert_eq!(
        damaged(text, 5, &Damage::Insert("- y")),
        "a:\n  b: 1\n  - y\n  c: 2"
    );
    assert_eq!(damaged(text, 0, &Damage::Truncate(1)), "a\n  b: 1\n  c: 2");
    assert_eq!(yaml_lines("a\u{2028}b\r\nc\rd\n"), 5);
}
