//! Presets as files: `plan --preset-file` with a copy of a built-in preset plans exactly as
//! `--preset NAME`, flags still override it, and a bad file is one error line and exit 2.

mod common;

use common::run_bin;
use std::path::Path;

const FLEET: [&str; 7] = [
    "--clusters",
    "20",
    "--selectorsyncsets",
    "2",
    "--configmaps",
    "1",
    "--json",
];

fn built_in(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../config/presets")
        .join(format!("{name}.yaml"));
    std::fs::read_to_string(path).unwrap()
}

/// The plan's JSON without its wall time (the only field that differs between runs).
async fn plan(extra: &[&str]) -> serde_json::Value {
    let run = run_bin(&[&["plan"], &FLEET[..], extra].concat(), &[]).await;
    let mut v: serde_json::Value = serde_json::from_str(&run.ok().stdout).unwrap();
    for row in v.as_array_mut().unwrap() {
        row.as_object_mut().unwrap().remove("wall_seconds");
    }
    v
}

#[tokio::test]
async fn a_copy_of_a_built_in_preset_plans_the_same() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["m4.xlarge-2020", "c5.24xlarge-2020"] {
        let file = dir.path().join(format!("copy-of-{name}.yaml"));
        std::fs::write(&file, built_in(name)).unwrap();
        let file = file.to_str().unwrap();
        for extra in [&[][..], &["--apply", "server-side", "--workers", "20"][..]] {
            let by_name = plan(&[&["--preset", name], extra].concat()).await;
            let by_file = plan(&[&["--preset-file", file], extra].concat()).await;
            assert_eq!(by_file, by_name, "{name} {extra:?}");
            assert_eq!(by_file[0]["preset"], name, "the file's name: field");
        }
    }
}

#[tokio::test]
async fn flags_override_a_preset_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.yaml");
    let text = built_in("m4.xlarge-2020")
        .replace("name: m4.xlarge-2020", "name: mine")
        .replace("cores: 3", "cores: 6");
    std::fs::write(&file, text).unwrap();
    let file = file.to_str().unwrap();
    let v = plan(&["--preset-file", file]).await;
    assert_eq!(
        (v[0]["preset"].as_str(), v[0]["cores"].as_u64()),
        (Some("mine"), Some(6))
    );
    let v = plan(&["--preset-file", file, "--cores", "4"]).await;
    assert_eq!(
        v[0]["cores"].as_u64(),
        Some(4),
        "the flag wins over the file"
    );
}

#[tokio::test]
async fn a_bad_preset_file_is_one_error_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = built_in("m4.xlarge-2020");
    let cases = [
        (
            "unknown.yaml",
            good.replace("cores: 3", "cores: 3\ncorse: 4"),
            "unknown field",
        ),
        (
            "broken.yaml",
            good.replace("cores: 3", "cores: [3"),
            "broken.yaml",
        ),
        (
            "missing.yaml",
            good.replace("reconcile_cpu: 0.11\n", ""),
            "reconcile_cpu",
        ),
        (
            "range.yaml",
            good.replace("cpu_speed: 1.0", "cpu_speed: 0"),
            "cpu speed positive",
        ),
    ];
    for (name, text, why) in cases {
        let file = dir.path().join(name);
        std::fs::write(&file, text).unwrap();
        let run = run_bin(
            &[
                &["plan"],
                &FLEET[..],
                &["--preset-file", file.to_str().unwrap()],
            ]
            .concat(),
            &[],
        )
        .await;
        let line = run.one_error_line().to_string();
        assert_eq!(run.code, 2, "{name}: {}", run.stderr);
        assert!(line.contains(name) && line.contains(why), "{name}: {line}");
    }
    let absent = dir.path().join("absent.yaml");
    let run = run_bin(
        &[
            &["plan"],
            &FLEET[..],
            &["--preset-file", absent.to_str().unwrap()],
        ]
        .concat(),
        &[],
    )
    .await;
    assert!(
        run.one_error_line().contains("absent.yaml"),
        "{}",
        run.stderr
    );
    assert_eq!(run.code, 2);
    // A name and a file at once is ambiguous: clap refuses it.
    let both = run_bin(
        &[
            &["plan"],
            &FLEET[..],
            &[
                "--preset",
                "laptop",
                "--preset-file",
                absent.to_str().unwrap(),
            ],
        ]
        .concat(),
        &[],
    )
    .await;
    assert_eq!(both.code, 2, "{}", both.stderr);
}
