//! What every subcommand's `--help` promises: examples that parse, and the defaults the README
//! states.

use super::Cli;
use clap::{CommandFactory, Parser};

/// The subcommands, without clap's own `help`.
fn subcommands() -> Vec<clap::Command> {
    Cli::command()
        .get_subcommands()
        .filter(|c| c.get_name() != "help")
        .cloned()
        .collect()
}

/// The command lines of the `Examples:` section of a help text (`#` lines say what they do).
fn examples(help: &str) -> Option<Vec<String>> {
    let mut lines = help.lines().skip_while(|l| l.trim() != "Examples:");
    lines.next()?;
    Some(
        lines
            .map(str::trim)
            .take_while(|l| !l.is_empty())
            .filter(|l| !l.starts_with('#'))
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn every_subcommand_has_examples_that_parse_with_its_arguments() {
    let subs = subcommands();
    assert!(
        subs.len() >= 12,
        "{:?}",
        subs.iter().map(|c| c.get_name()).collect::<Vec<_>>()
    );
    for mut sub in subs {
        let name = sub.get_name().to_string();
        let help = sub.render_long_help().to_string();
        let examples = examples(&help)
            .unwrap_or_else(|| panic!("`hive-scale {name} --help` has no Examples: section"));
        assert!(!examples.is_empty(), "{name}: an empty Examples: section");
        for line in examples {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(
                words.get(..2),
                Some(&["hive-scale", name.as_str()][..]),
                "{name}: an example of another command: {line}"
            );
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("{name}: the example `{line}` does not parse: {e}");
            }
        }
    }
}

/// A README value that names no default: a placeholder (`FILE`, `N`, `METRIC:PCT`), a choice
/// (`a|b`) or a pattern (`k=v`).
fn placeholder(value: &str) -> bool {
    value.contains(['|', '=']) || value.chars().any(|c| c.is_ascii_uppercase())
}

/// The `--flag VALUE` pairs a command line of the README puts in brackets (optional flags,
/// shown with their default).
fn bracketed_flags(line: &str) -> Vec<(String, String)> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let mut depth = 0i32;
    let mut pairs = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let inside = depth > 0 || token.starts_with('[');
        depth += token.matches('[').count() as i32 - token.matches(']').count() as i32;
        let flag = token.trim_start_matches(['[', '(']);
        let Some(flag) = flag.strip_prefix("--") else {
            continue;
        };
        if !inside || flag.ends_with([']', ')']) {
            continue;
        }
        let Some(value) = tokens.get(i + 1) else {
            continue;
        };
        let value = value
            .trim_start_matches(['[', '('])
            .trim_end_matches("...")
            .trim_end_matches([']', ')']);
        if value.is_empty() || value.starts_with('-') || placeholder(value) {
            continue;
        }
        pairs.push((flag.to_string(), value.to_string()));
    }
    pairs
}

/// The `--flag` code spans of a paragraph followed, in the same sentence, by `(default X`.
fn stated_defaults(paragraph: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = paragraph;
    while let Some(at) = rest.find("`--") {
        let span = &rest[at + 1..];
        let Some(end) = span.find('`') else { break };
        let flag = span[2..end].split_whitespace().next().unwrap_or_default();
        let after = &span[end + 1..];
        let sentence_end = [after.find('`'), after.find(". ")]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(after.len());
        if let Some(d) = after[..sentence_end].find("(default ") {
            let value: String = after[d + "(default ".len()..]
                .chars()
                .take_while(|c| !matches!(c, ';' | ',' | ')' | ' '))
                .collect();
            found.push((flag.to_string(), value));
        }
        rest = after;
    }
    found
}

/// What the README says of one subcommand's flag, and where.
struct Stated {
    sub: String,
    flag: String,
    value: String,
    line: usize,
}

/// Everything the README states as a default: the optional `[--flag DEFAULT]` of its
/// `hive-scale SUB ...` blocks, and `--flag ... (default X` in the sections about SUB.
fn readme_defaults(readme: &str, subs: &[String]) -> Vec<Stated> {
    let mut out = Vec::new();
    let (mut in_code, mut section): (bool, Vec<String>) = (false, Vec::new());
    let mut command = String::new();
    let mut paragraph = (0, String::new());
    let flush = |paragraph: &mut (usize, String), section: &[String], out: &mut Vec<Stated>| {
        for (flag, value) in stated_defaults(&paragraph.1) {
            for sub in section {
                out.push(Stated {
                    sub: sub.clone(),
                    flag: flag.clone(),
                    value: value.clone(),
                    line: paragraph.0,
                });
            }
        }
        *paragraph = (0, String::new());
    };
    for (n, line) in readme.lines().enumerate() {
        let n = n + 1;
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            flush(&mut paragraph, &section, &mut out);
            continue;
        }
        if in_code {
            command.push_str(line.trim_end().trim_end_matches('\\'));
            command.push(' ');
            if line.trim_end().ends_with('\\') {
                continue;
            }
            let words: Vec<&str> = command.split_whitespace().collect();
            if let ["hive-scale", sub, ..] = words[..]
                && subs.iter().any(|s| s == sub)
            {
                for (flag, value) in bracketed_flags(&command) {
                    out.push(Stated {
                        sub: sub.to_string(),
                        flag,
                        value,
                        line: n,
                    });
                }
            }
            command.clear();
            continue;
        }
        if let Some(heading) = line.strip_prefix("#") {
            flush(&mut paragraph, &section, &mut out);
            // `### `snapshot`, `record`, `report`: ...` is about all three.
            section = heading
                .split('`')
                .skip(1)
                .step_by(2)
                .filter_map(|span| span.split_whitespace().next())
                .filter(|w| subs.iter().any(|s| s == w))
                .map(str::to_string)
                .collect();
            continue;
        }
        if line.trim().is_empty() {
            flush(&mut paragraph, &section, &mut out);
        } else {
            if paragraph.1.is_empty() {
                paragraph.0 = n;
            }
            paragraph.1.push_str(line.trim());
            paragraph.1.push(' ');
        }
    }
    flush(&mut paragraph, &section, &mut out);
    out
}

#[test]
fn the_readme_states_the_defaults_help_states() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("README.md beside the workspace");
    let commands = subcommands();
    let names: Vec<String> = commands.iter().map(|c| c.get_name().to_string()).collect();
    let stated = readme_defaults(&readme, &names);
    assert!(
        stated.len() >= 15,
        "the README's usage blocks were not read: {} defaults found",
        stated.len()
    );
    let mut wrong = Vec::new();
    for s in &stated {
        let sub = commands.iter().find(|c| c.get_name() == s.sub).unwrap();
        let Some(arg) = sub.get_arguments().find(|a| {
            a.get_long() == Some(s.flag.as_str())
                || a.get_all_aliases()
                    .is_some_and(|al| al.contains(&s.flag.as_str()))
        }) else {
            wrong.push(format!(
                "README.md:{}: `hive-scale {}` has no --{}",
                s.line, s.sub, s.flag
            ));
            continue;
        };
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if defaults.join(",") != s.value {
            wrong.push(format!(
                "README.md:{}: `hive-scale {} --{}` defaults to {:?} in --help, {:?} in the README",
                s.line,
                s.sub,
                s.flag,
                defaults.join(","),
                s.value
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_readme_reader_finds_what_the_readme_states() {
    let readme = "### `hub`: the hub\n\n```sh\nhive-scale hub [--dir target/x] [--port 0] \\\n    [--time-scale K] [--apply a|b] [--set k=v]...\n```\n\nThen `--grace` (25 s, under a Job's default 30 s) and `--factor F` multiplies\nall (default 1; more). `--other` is (default\n2).\n\n### `plan`, `teardown`\n\n```sh\nhive-scale plan [--max-cores 96 --max-hubs 100] [--no-confirm] [--run R | --all-runs]\n```\n";
    let subs = ["hub".to_string(), "plan".to_string()];
    let found: Vec<(String, String, String)> = readme_defaults(readme, &subs)
        .into_iter()
        .map(|s| (s.sub, s.flag, s.value))
        .collect();
    let want: Vec<(String, String, String)> = [
        ("hub", "dir", "target/x"),
        ("hub", "port", "0"),
        ("hub", "factor", "1"),
        ("hub", "other", "2"),
        ("plan", "max-cores", "96"),
        ("plan", "max-hubs", "100"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(found, want);
}
