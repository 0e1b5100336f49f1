//! The project's documents stand on their own: every `*.md` file a document or a source comment
//! names exists inside the repository (a user's clone has nothing beside it).

use std::path::{Path, PathBuf};

/// The repository's text files (not target/, build/, .git).
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if !matches!(name.as_str(), "target" | "build" | ".git" | "node_modules") {
                text_files(&p, out);
            }
        } else if name == "Makefile"
            || [".md", ".rs", ".yaml", ".yml", ".py", ".toml", ".sh"]
                .iter()
                .any(|x| name.ends_with(x))
            || p.parent()
                .and_then(Path::file_name)
                .is_some_and(|d| d == ".ci")
        {
            out.push(p);
        }
    }
}

/// Files agingflow writes (named in documents as outputs, not references).
const GENERATED: &[&str] = &["summary.md", "diff.md", ".md"];

/// Every Markdown file name token of `text` that is not part of a URL or a pattern.
fn md_references(text: &str) -> Vec<String> {
    let ok = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    let mut out = Vec::new();
    for (i, _) in text.match_indices(".md") {
        let after = text[i + 3..].chars().next();
        if after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let start = text[..i]
            .char_indices()
            .rev()
            .find(|(_, c)| !ok(*c))
            .map_or(0, |(j, c)| j + c.len_utf8());
        let token = &text[start..i + 3];
        let before = &text[..start];
        if token.len() <= 3
            || token.starts_with(".md")
            || token.starts_with("//")
            || before.ends_with('$')
            || GENERATED.contains(&token.rsplit('/').next().unwrap_or(token))
            || before.ends_with('*')
            || before.ends_with('{')
            || before.ends_with('<')
            || before.ends_with("://")
            || before
                .rsplit(char::is_whitespace)
                .next()
                .is_some_and(|w| w.contains("://"))
        {
            continue;
        }
        out.push(token.trim_start_matches("./").to_owned());
    }
    out
}

#[test]
fn md_references_are_found_and_urls_are_not() {
    let found = md_references(
        "see docs/pipeline.md, [x](../ARCHITECTURE.md#a) and https://x.org/README.md or *.md, {name}.md\n",
    );
    assert_eq!(found, ["docs/pipeline.md", "../ARCHITECTURE.md"]);
}

#[test]
fn every_md_file_named_is_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    text_files(&root, &mut files);
    files.sort();
    assert!(files.len() > 100, "{} files", files.len());
    let mut missing = Vec::new();
    let mut checked = 0;
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for r in md_references(&text) {
            checked += 1;
            // From the file's folder or one above it (a crate's source names paths from the
            // crate), or in docs/ (a generated page's source names its siblings there).
            let found = f
                .ancestors()
                .skip(1)
                .take_while(|a| a.starts_with(&root))
                .any(|a| a.join(&r).is_file())
                || root.join("docs").join(&r).is_file();
            if !found {
                missing.push(format!(
                    "{}: {r}",
                    f.strip_prefix(&root).unwrap_or(f).display()
                ));
            }
        }
    }
    assert!(checked > 50, "only {checked} references seen");
    assert!(
        missing.is_empty(),
        "documents named that are not in the repository:\n{}",
        missing.join("\n")
    );
}
