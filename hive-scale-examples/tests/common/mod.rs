//! Running the example binaries against an embedded hub.
#![allow(dead_code)]

use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use std::path::{Path, PathBuf};
use std::process::Output;

/// Path of a built example (cargo builds examples before running tests).
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is not built; run cargo test, which builds examples",
        path.display()
    );
    path
}

/// The `hive-scale` binary: the installed one when `HIVE_SCALE_BIN` names it (hack/test.sh
/// installs it with `cargo install`), else the one cargo built for these tests.
pub fn bin() -> PathBuf {
    std::env::var_os("HIVE_SCALE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_hive-scale")))
}

/// Runs `hive-scale ARGS` with `env` (and no inherited KUBECONFIG).
pub async fn run_bin(args: &[&str], env: &[(&str, &str)]) -> Run {
    run_program(bin(), args, env).await
}

/// A hub plus a scratch directory.
pub struct TestHub {
    pub dir: tempfile::TempDir,
    pub server: ApiServer,
}

impl TestHub {
    pub async fn start() -> Self {
        hive_scale_sim::apiserver::server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let server = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
            .await
            .unwrap();
        Self { dir, server }
    }

    pub fn kubeconfig(&self) -> &Path {
        self.server.kubeconfig_path()
    }

    /// Runs an example with KUBECONFIG pointing at this hub.
    pub async fn run(&self, name: &str, args: &[&str]) -> Run {
        run_with_env(
            name,
            args,
            &[("KUBECONFIG", self.kubeconfig().to_str().unwrap())],
        )
        .await
    }
}

/// The result of one run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts a failure reported as exactly one `error:` line.
    pub fn one_error_line(&self) -> &str {
        assert_ne!(self.code, 0, "expected a failure; stdout: {}", self.stdout);
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect();
        assert_eq!(errors.len(), 1, "stderr: {}", self.stderr);
        assert!(!self.stderr.contains("panicked"), "stderr: {}", self.stderr);
        errors[0]
    }
}

pub async fn run_with_env(name: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    run_program(example(name), args, env).await
}

async fn run_program(program: PathBuf, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_remove("KUBECONFIG")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().await.unwrap();
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
    }
}
