//! Credentials never leak: every tool runs at RUST_LOG=trace with a known hub token and a known
//! spoke token, and neither (nor the spoke kubeconfig's base64) appears in any output or file.

mod common;

use base64::Engine as _;
use common::{Run, run_with_env};
use hive_scale_sim::hub::{EmbeddedHub, EmbeddedHubConfig};

const HUB_TOKEN: &str = "HUBTOKEN-7f3a9c2e5b1d4680aa";
const SPOKE_TOKEN: &str = "SPOKETOKEN-0d9e8c7b6a5f4e3d2c";
/// Credentials in a metrics URL: a basic-auth password and a token in the query.
const PROM_PASSWORD: &str = "PROMPASS-5c4b3a29";
const PROM_TOKEN: &str = "PROMTOKEN-a1b2c3d4";
/// A malformed Secret's data (valid base64): the client fails on its other field, and the
/// whole list body, this data included, must not be printed.
const MALFORMED: &str = "TUFMRk9STUVELVNFQ1JFVA==";

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_tool_prints_or_writes_a_credential() {
    hive_scale_sim::apiserver::server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = EmbeddedHubConfig::new(dir.path().join("hub"));
    cfg.token = Some(hive_scale_core::secret::Secret::new(HUB_TOKEN));
    assert!(
        !format!("{cfg:?}").contains(HUB_TOKEN),
        "Debug of the config"
    );
    cfg.time_scale = hive_scale_sim::clock::TimeScale::new(50.0).unwrap();
    let hub = EmbeddedHub::start(cfg).await.unwrap();
    assert!(!format!("{hub:?}").contains(HUB_TOKEN), "Debug of the hub");
    let hub_kc = hub.kubeconfig_path().to_str().unwrap().to_string();
    assert!(
        std::fs::read_to_string(&hub_kc)
            .unwrap()
            .contains(HUB_TOKEN),
        "the hub uses the known token"
    );
    // The spoke kubeconfig: the embedded spoke's server and CA, a known token.
    let spoke_text = std::fs::read_to_string(hub.spoke_kubeconfig_path().unwrap()).unwrap();
    let real_token = spoke_text
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .unwrap()
        .to_string();
    let spoke_text = spoke_text.replace(&real_token, SPOKE_TOKEN);
    let spoke = dir.path().join("spoke.kubeconfig");
    std::fs::write(&spoke, &spoke_text).unwrap();
    let spoke_b64 = base64::engine::general_purpose::STANDARD.encode(&spoke_text);
    let (sp, out, rec, rep) = (
        spoke.to_str().unwrap(),
        dir.path().join("scaletest"),
        dir.path().join("run.jsonl"),
        dir.path().join("report"),
    );
    let metrics = hub.metrics_url();
    // The same endpoint through a URL with credentials (the endpoint ignores them).
    let credentialed = metrics.replacen("http://", &format!("http://scraper:{PROM_PASSWORD}@"), 1)
        + &format!("?token={PROM_TOKEN}");
    let env = [("KUBECONFIG", hub_kc.as_str()), ("RUST_LOG", "trace")];

    let mut runs: Vec<(&str, Run)> = Vec::new();
    runs.push((
        "setup_selectorsyncsets",
        run_with_env(
            "setup_selectorsyncsets",
            &["--count", "2", "--configmaps", "2", "-v"],
            &env,
        )
        .await,
    ));
    runs.push((
        "test_setup",
        run_with_env("test_setup", &[sp, "1", "3", "-v"], &env).await,
    ));
    runs.push((
        "test_setup --check-spoke",
        run_with_env("test_setup", &[sp, "4", "4", "--check-spoke"], &env).await,
    ));
    runs.push((
        "test_setup --json",
        run_with_env("test_setup", &[sp, "1", "3", "--json"], &env).await,
    ));
    let get = run_with_env("get_kubeconfig", &["ns1/c1"], &env).await;
    assert_eq!(
        get.stdout, spoke_text,
        "get_kubeconfig prints it, to stdout only"
    );
    runs.push((
        "get_kubeconfig (stderr)",
        Run {
            code: get.code,
            stdout: String::new(),
            stderr: get.stderr,
        },
    ));
    runs.push((
        "snapshot",
        run_with_env("snapshot", &["--scrape", &metrics, "--json"], &env).await,
    ));
    runs.push((
        "record",
        run_with_env(
            "record",
            &[
                "--scrape",
                &metrics,
                "--interval",
                "200ms",
                "--duration",
                "1s",
                "--out",
                rec.to_str().unwrap(),
            ],
            &env,
        )
        .await,
    ));
    runs.push((
        "report",
        run_with_env(
            "report",
            &[rec.to_str().unwrap(), "--out", rep.to_str().unwrap()],
            &env,
        )
        .await,
    ));
    runs.push((
        "teardown",
        run_with_env("teardown", &["--all", "--selectorsyncsets", "-v"], &env).await,
    ));
    runs.push((
        "scaletest",
        run_with_env(
            "scaletest",
            &[
                "--hub-kubeconfig",
                &hub_kc,
                "--spoke-kubeconfig",
                sp,
                "--metrics-url",
                &credentialed,
                "--clusters",
                "2",
                "--selectorsyncsets",
                "1",
                "--configmaps",
                "1",
                "--timeout",
                "60",
                "--interval",
                "0.2",
                "--out",
                out.to_str().unwrap(),
                "-v",
            ],
            &env,
        )
        .await,
    ));
    // Bad input that names the files holding credentials.
    let broken = dir.path().join("broken.kubeconfig");
    std::fs::write(&broken, format!("token: {SPOKE_TOKEN}\n: [unclosed")).unwrap();
    runs.push((
        "test_setup broken spoke",
        run_with_env("test_setup", &[broken.to_str().unwrap(), "1", "1"], &env).await,
    ));
    runs.push((
        "setup broken hub",
        run_with_env(
            "setup_selectorsyncsets",
            &["--kubeconfig", broken.to_str().unwrap()],
            &env,
        )
        .await,
    ));

    // A Secret of ours that no client can decode (written past the API's checks), beside one
    // holding the spoke's kubeconfig: it is skipped with one warning naming it, and neither the
    // list's body (every kubeconfig in it) nor the Secret's values are printed on the way.
    let r = run_with_env("test_setup", &[sp, "7", "7", "--run", "leak"], &env).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let store = hub.api_server().store();
    let def = store.registry().lookup("", "v1", "secrets").unwrap();
    let malformed = serde_json::json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "malformed", "namespace": "ns7", "labels": {"app.kubernetes.io/managed-by": "hive-scale"}},
        "immutable": "yes", "data": {"kubeconfig": MALFORMED}});
    store
        .create(
            &def,
            "ns7",
            malformed,
            &hive_scale_sim::apiserver::store::WriteOptions {
                internal: true,
                ..Default::default()
            },
        )
        .unwrap();
    let r = run_with_env("test_setup", &[sp, "8", "8", "-v"], &env).await;
    r.ok();
    assert_eq!(
        r.stderr.matches("Secret ns7/malformed").count(),
        1,
        "one warning naming it: {}",
        r.stderr
    );
    runs.push(("test_setup over a malformed Secret", r));
    runs.push((
        "teardown over a malformed Secret",
        run_with_env("teardown", &["--all"], &env).await,
    ));

    let secrets = [
        HUB_TOKEN,
        SPOKE_TOKEN,
        spoke_b64.as_str(),
        PROM_PASSWORD,
        PROM_TOKEN,
        MALFORMED,
    ];
    let mut total = 0;
    for (name, r) in &runs {
        total += r.stdout.len() + r.stderr.len();
        for s in secrets {
            assert!(
                !r.stdout.contains(s),
                "{name} printed a credential on stdout"
            );
            assert!(
                !r.stderr.contains(s),
                "{name} printed a credential on stderr"
            );
        }
    }
    assert!(
        total > 100_000,
        "trace logging was on ({total} bytes of output)"
    );
    assert!(
        runs[1].1.code == 0 && runs[9].1.code == 0,
        "the tools did their work: {} / {}",
        runs[1].1.stderr.lines().last().unwrap_or(""),
        runs[9].1.stderr.lines().last().unwrap_or("")
    );
    let mut files = Vec::new();
    for d in [out.as_path(), rep.as_path()] {
        files_under(d, &mut files);
    }
    files.push(rec.clone());
    assert!(files.len() >= 6, "{files:?}");
    for f in &files {
        let text = String::from_utf8_lossy(&std::fs::read(f).unwrap()).to_string();
        for s in secrets {
            assert!(!text.contains(s), "{} contains a credential", f.display());
        }
    }
    hub.shutdown().await;
}
