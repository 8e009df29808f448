//! The documentation cannot drift from the code: every `s3central ...` command line in README.md
//! and docs/ parses with the real command-line definition.

use std::path::{Path, PathBuf};

use clap::Parser;
use s3central::cli::Cli;

/// README.md and every Markdown file under docs/.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("docs/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The command lines in a document's fenced code blocks: (line number, the line with its
/// continuations joined), for each line that starts with `s3central` after spaces and `$ `.
fn command_lines(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_block = false;
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        let piece = match pending.take() {
            Some((start, mut joined)) => {
                joined.push(' ');
                joined.push_str(line.trim());
                (start, joined)
            }
            None => {
                let command = line.trim_start();
                let command = command.strip_prefix("$ ").unwrap_or(command);
                if command != "s3central" && !command.starts_with("s3central ") {
                    continue;
                }
                (i + 1, command.trim_end().to_owned())
            }
        };
        match piece.1.strip_suffix('\\') {
            Some(head) => pending = Some((piece.0, head.trim_end().to_owned())),
            None => found.push(piece),
        }
    }
    found
}

/// The arguments of one command line: cut at a comment or a shell operator, split as a POSIX
/// shell splits words.
fn arguments(line: &str) -> Option<Vec<String>> {
    let mut end = line.len();
    for cut in [" #", " |", " >", " 2>", " &&", " ;", " <"] {
        if let Some(at) = line.find(cut) {
            end = end.min(at);
        }
    }
    shlex::split(&line[..end])
}

#[test]
fn every_command_line_in_the_docs_parses() {
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in documents() {
        let text = std::fs::read_to_string(&file).expect("read a doc");
        let name = file
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(&file)
            .display()
            .to_string();
        for (number, line) in command_lines(&text) {
            checked += 1;
            let Some(args) = arguments(&line) else {
                broken.push(format!("{name}:{number}: unbalanced quotes: {line}"));
                continue;
            };
            match Cli::try_parse_from(&args) {
                Ok(_) => {}
                Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {}
                Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => {}
                Err(e) => {
                    let why = e.to_string();
                    let why = why.lines().next().unwrap_or("").to_owned();
                    broken.push(format!("{name}:{number}: {line}\n    {why}"));
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "command lines that do not parse:\n{}",
        broken.join("\n")
    );
    // The README's runbook and the docs' examples: far more than a handful.
    assert!(
        checked >= 40,
        "only {checked} command lines found in README.md and docs/"
    );
    println!("documented command lines parsed: {checked}");
}

#[test]
fn command_lines_are_found_joined_and_cut_as_a_shell_reads_them() {
    let text = "prose s3central ls\n```sh\n$ s3central ls --account 111111111111 \\\n    --at 2026-11-01 # a comment\n  s3central --help | head\necho s3central\n```\ns3central outside a block\n";
    let lines = command_lines(text);
    assert_eq!(
        lines,
        [
            (
                3,
                "s3central ls --account 111111111111 --at 2026-11-01 # a comment".to_owned()
            ),
            (5, "s3central --help | head".to_owned()),
        ]
    );
    assert_eq!(
        arguments(&lines[0].1).unwrap(),
        [
            "s3central",
            "ls",
            "--account",
            "111111111111",
            "--at",
            "2026-11-01"
        ]
    );
    assert_eq!(
        arguments("s3central ls --include '*.json' > out").unwrap(),
        ["s3central", "ls", "--include", "*.json"]
    );
    // A bad line is caught by the parser the binary uses.
    assert!(Cli::try_parse_from(arguments("s3central restore --acount 1").unwrap()).is_err());
}

#[test]
fn every_example_in_the_help_parses() {
    let cmd = s3central::cli::command();
    let mut helps: Vec<String> = vec![cmd
        .get_after_help()
        .map(|t| t.to_string())
        .unwrap_or_default()];
    helps.extend(
        cmd.get_subcommands()
            .filter_map(|sub| sub.get_after_help().map(|t| t.to_string())),
    );
    let mut checked = 0;
    for help in helps {
        let Some((_, examples)) = help.split_once("Examples:") else {
            continue;
        };
        let paragraph = examples.split("\n\n").next().unwrap_or("");
        for line in paragraph.lines().map(str::trim) {
            if !line.starts_with("s3central") {
                continue;
            }
            checked += 1;
            let args = arguments(line).unwrap_or_else(|| panic!("unbalanced quotes: {line}"));
            if let Err(e) = Cli::try_parse_from(&args) {
                panic!("the help's example does not parse: {line}\n{e}");
            }
        }
    }
    assert!(checked >= 10, "only {checked} examples in the help");
}
