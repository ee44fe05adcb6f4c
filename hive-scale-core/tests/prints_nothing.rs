//! The libraries print nothing and end no process: what a run says and how it ends is the
//! fronts' (hive-scale-examples), from the reports and events the libraries return. Logging
//! through `tracing` is the caller's to show or not.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_library_source_prints_or_exits() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for krate in ["hive-scale-core/src", "hive-scale-sim/src"] {
        rust_files(&root.join(krate), &mut files);
    }
    assert!(files.len() > 50, "{} files", files.len());
    let forbidden = [
        "println!",
        "eprintln!",
        "print!(",
        "eprint!(",
        "process::exit",
        "dbg!(",
    ];
    let mut found = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for (n, line) in text.lines().enumerate() {
            // Documentation shows how a caller prints; it is not the library printing.
            if line.trim_start().starts_with("//") {
                continue;
            }
            if let Some(word) = forbidden.iter().find(|w| line.contains(*w)) {
                found.push(format!("{}:{}: {word}", f.display(), n + 1));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
