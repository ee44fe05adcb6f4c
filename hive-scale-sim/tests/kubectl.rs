//! The real kubectl (1.32, preinstalled, and 1.27 beside it) against the embedded hub.

use hive_scale_sim::apiserver::{ApiServer, ApiServerConfig};
use std::path::Path;
use std::process::Command;

struct Kubectl<'a> {
    program: &'a Path,
    kubeconfig: &'a Path,
    cache: &'a Path,
}

/// Whether kubectl is installed; a test without it is skipped (or fails, in CI).
fn have_kubectl(test: &str) -> bool {
    hive_scale_sim::testing::tool("kubectl", test).is_some()
}

impl Kubectl<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.program);
        c.arg("--kubeconfig")
            .arg(self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.cache)
            .args(args);
        c
    }

    /// Runs kubectl and returns stdout, failing the test with stderr on a non-zero exit.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.command(args).output().expect("kubectl is installed");
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs kubectl with `input` on stdin, whatever its exit.
    fn piped(&self, args: &[&str], input: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs kubectl with `input` on stdin and returns stdout, failing the test on a non-zero
    /// exit.
    fn stdin(&self, args: &[&str], input: &str) -> String {
        let out = self.piped(args, input);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

const CD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: ns1}
---
apiVersion: hive.openshift.io/v1
kind: ClusterDeployment
metadata: {name: c1, namespace: ns1, labels: {scaletest: "true"}}
spec:
  clusterName: c1
  baseDomain: example.com
  installed: true
  preserveOnDelete: true
  platform: {none: {}}
  clusterMetadata: {clusterID: fake-c1, infraID: fake-c1, adminKubeconfigSecretRef: {name: c1-admin-kubeconfig}}
"#;

const SSS: &str = r#"
apiVersion: hive.openshift.io/v1
kind: SelectorSyncSet
metadata: {name: scaletest-0-configmap, labels: {scaletest: "true"}}
spec:
  clusterDeploymentSelector: {matchLabels: {scaletest: "true"}}
  resourceApplyMode: Sync
  resources:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: scaletest-0-configmap-0, namespace: default}
    data: {foo: bar}
"#;

/// Applies the set three times: created, unchanged, then changed and configured; returns the
/// changed set.
fn apply_create_unchanged_configured(k: &Kubectl) -> String {
    assert!(
        k.stdin(&["apply", "-f", "-"], SSS)
            .contains("selectorsyncset.hive.openshift.io/scaletest-0-configmap created")
    );
    assert!(
        k.stdin(&["apply", "-f", "-"], SSS).contains("unchanged"),
        "a second client-side apply changes nothing"
    );
    let changed = SSS.replace("foo: bar", "foo: baz");
    assert!(
        k.stdin(&["apply", "-f", "-"], &changed)
            .contains("configured")
    );
    changed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_works_against_the_hub() {
    if !have_kubectl("kubectl_works_against_the_hub") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hub = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let kubeconfig = hub.kubeconfig_path().to_path_buf();
    let cache = dir.path().join("cache");
    tokio::task::spawn_blocking(move || {
        let k = Kubectl {
            program: Path::new("kubectl"),
            kubeconfig: &kubeconfig,
            cache: &cache,
        };
        // Our CRDs apply cleanly to a hub that already has them, as a user would apply them.
        let out = k.stdin(&["apply", "-f", "-"], &hive_scale_core::api::crds_yaml());
        assert!(
            out.contains(
                "customresourcedefinition.apiextensions.k8s.io/clusterdeployments.hive.openshift.io"
            ),
            "{out}"
        );

        assert!(
            k.stdin(&["create", "-f", "-"], CD)
                .contains("clusterdeployment.hive.openshift.io/c1 created")
        );
        let changed = apply_create_unchanged_configured(&k);
        assert!(
            k.stdin(
                &["apply", "--server-side", "--force-conflicts", "-f", "-"],
                &changed
            )
            .contains("serverside-applied")
        );

        let yaml = k.ok(&[
            "get",
            "selectorsyncset",
            "scaletest-0-configmap",
            "-o",
            "yaml",
        ]);
        assert!(
            yaml.contains("foo: baz")
                && yaml.contains("resourceVersion:")
                && yaml.contains("generation: 2"),
            "{yaml}"
        );
        let sss = k.ok(&["get", "sss"]);
        assert!(
            sss.lines().next().unwrap().starts_with("NAME")
                && sss.contains("scaletest-0-configmap"),
            "{sss}"
        );
        let labelled = k.ok(&[
            "get",
            "selectorsyncsets,clusterdeployments",
            "-A",
            "-l",
            "scaletest=true",
            "-o",
            "name",
        ]);
        assert_eq!(labelled.lines().count(), 2, "{labelled}");
        let cds = k.ok(&["get", "clusterdeployments", "-A"]);
        let header: Vec<&str> = cds.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            [
                "NAMESPACE",
                "NAME",
                "INFRAID",
                "PLATFORM",
                "INSTALLED",
                "AGE"
            ],
            "printer columns come from the CRD"
        );
        assert!(cds.contains("fake-c1"), "{cds}");

        // Watch: start, wait for the initial ADDED, change the object twice, read the events.
        let mut watch = k
            .command(&[
                "get",
                "cd",
                "-n",
                "ns1",
                "--watch",
                "--output-watch-events",
                "--request-timeout",
                "20s",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let stdout = watch.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let timeout = std::time::Duration::from_secs(15);
        let mut lines = Vec::new();
        while !lines.iter().any(|l: &String| l.starts_with("ADDED")) {
            lines.push(
                rx.recv_timeout(timeout)
                    .expect("kubectl printed the initial ADDED event"),
            );
        }
        k.ok(&["label", "cd", "c1", "-n", "ns1", "watched=yes"]);
        k.ok(&["annotate", "cd", "c1", "-n", "ns1", "note=hi"]);
        while lines.iter().filter(|l| l.starts_with("MODIFIED")).count() < 2 {
            lines.push(
                rx.recv_timeout(timeout)
                    .expect("kubectl printed both MODIFIED events"),
            );
        }
        watch.kill().unwrap();
        let _ = watch.wait();
        let out = lines.join("\n");
        let events: Vec<(&str, &str)> = lines
            .iter()
            .skip(1)
            .map(|l| {
                let mut w = l.split_whitespace();
                (w.next().unwrap_or(""), w.next().unwrap_or(""))
            })
            .collect();
        assert!(out.starts_with("EVENT"), "{out}");
        assert_eq!(
            events,
            [("ADDED", "c1"), ("MODIFIED", "c1"), ("MODIFIED", "c1")],
            "{out}"
        );

        assert!(
            k.ok(&["delete", "sss", "scaletest-0-configmap"])
                .contains("deleted")
        );
        assert!(k.ok(&["delete", "namespace", "ns1"]).contains("deleted"));
        let none = k.command(&["get", "cd", "-A"]).output().unwrap();
        assert!(String::from_utf8_lossy(&none.stderr).contains("No resources found"));
    })
    .await
    .unwrap();
    hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_without_the_token_is_refused() {
    if !have_kubectl("kubectl_without_the_token_is_refused") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hub = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let text = std::fs::read_to_string(hub.kubeconfig_path()).unwrap();
    let token_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .unwrap();
    let bad = dir.path().join("bad.kubeconfig");
    std::fs::write(&bad, text.replace(token_line, "    token: wrong")).unwrap();
    let cache = dir.path().join("cache");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&bad)
            .arg("--cache-dir")
            .arg(&cache)
            .args(["get", "ns"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Unauthorized") || err.contains("must be logged in"),
        "{err}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(hub.kubeconfig_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the kubeconfig holds the token");
    }
    hub.shutdown().await;
}

/// kubectl's imperative creates send protobuf; the hub reads it and kubectl reads the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_imperative_creates_send_protobuf_and_work() {
    if !have_kubectl("kubectl_imperative_creates_send_protobuf_and_work") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let hub = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let kubeconfig = hub.kubeconfig_path().to_path_buf();
    let cache = dir.path().join("cache");
    tokio::task::spawn_blocking(move || {
        let k = Kubectl {
            program: Path::new("kubectl"),
            kubeconfig: &kubeconfig,
            cache: &cache,
        };
        assert!(
            k.ok(&["create", "namespace", "team-a"])
                .contains("namespace/team-a created")
        );
        assert!(
            k.ok(&[
                "create",
                "configmap",
                "settings",
                "-n",
                "team-a",
                "--from-literal=mode=fast",
                "--from-literal=size=3"
            ])
            .contains("configmap/settings created")
        );
        assert!(
            k.ok(&[
                "create",
                "secret",
                "generic",
                "creds",
                "-n",
                "team-a",
                "--from-literal=password=hunter2"
            ])
            .contains("secret/creds created")
        );
        let data = k.ok(&[
            "get",
            "configmap",
            "settings",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data}",
        ]);
        assert_eq!(data, r#"{"mode":"fast","size":"3"}"#);
        let secret = k.ok(&[
            "get",
            "secret",
            "creds",
            "-n",
            "team-a",
            "-o",
            "jsonpath={.data.password} {.type}",
        ]);
        assert_eq!(secret, "aHVudGVyMg== Opaque");
        // A second create is refused the way the API server refuses it.
        let again = k
            .command(&["create", "namespace", "team-a"])
            .output()
            .unwrap();
        assert!(!again.status.success());
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("AlreadyExists")
                || String::from_utf8_lossy(&again.stderr).contains("already exists"),
            "{}",
            String::from_utf8_lossy(&again.stderr)
        );
    })
    .await
    .unwrap();
    hub.shutdown().await;
}

/// kubectl 1.27 (what `oc` 4.14 is built on) reads `/openapi/v2` as protobuf before an apply,
/// and decides from it whether the server validates fields; later versions read v3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_1_27_applies_updates_gets_and_deletes() {
    let Some(program) = hive_scale_sim::testing::kubectl_version(
        27,
        "kubectl_1_27_applies_updates_gets_and_deletes",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let hub = ApiServer::start(ApiServerConfig::new(dir.path(), "hub"))
        .await
        .unwrap();
    let kubeconfig = hub.kubeconfig_path().to_path_buf();
    let cache = dir.path().join("cache");
    tokio::task::spawn_blocking(move || {
        let k = Kubectl {
            program: &program,
            kubeconfig: &kubeconfig,
            cache: &cache,
        };
        let version = k.ok(&["version", "--client", "-o", "json"]);
        assert!(version.contains("\"minor\": \"27\""), "{version}");

        let out = k.stdin(&["apply", "-f", "-"], CD);
        assert!(
            out.contains("namespace/ns1 created")
                && out.contains("clusterdeployment.hive.openshift.io/c1 created"),
            "{out}"
        );
        apply_create_unchanged_configured(&k);
        // A built-in kind: kubectl computes a strategic merge patch for it.
        let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns1}\ndata: {x: \"1\"}\n";
        assert!(k.stdin(&["apply", "-f", "-"], cm).contains("configmap/a created"));
        assert!(
            k.stdin(&["apply", "-f", "-"], &cm.replace("\"1\"", "\"2\""))
                .contains("configmap/a configured")
        );
        assert_eq!(
            k.ok(&["get", "configmap", "a", "-n", "ns1", "-o", "jsonpath={.data.x}"]),
            "2"
        );
        // Nothing differs after an apply (the hub does not keep the `annotations: {}` that
        // kubectl's dry-run patch sends).
        let diff = k.piped(&["diff", "-f", "-"], &cm.replace("\"1\"", "\"2\""));
        assert!(
            diff.status.success(),
            "kubectl diff found a difference: {}",
            String::from_utf8_lossy(&diff.stdout)
        );

        let yaml = k.ok(&[
            "get",
            "selectorsyncset",
            "scaletest-0-configmap",
            "-o",
            "yaml",
        ]);
        assert!(
            yaml.contains("foo: baz") && yaml.contains("generation: 2"),
            "{yaml}"
        );
        let cds = k.ok(&["get", "clusterdeployments", "-A"]);
        assert!(cds.contains("fake-c1"), "{cds}");

        assert!(
            k.ok(&["delete", "sss", "scaletest-0-configmap"])
                .contains("deleted")
        );
        assert!(
            k.ok(&["delete", "configmap", "a", "-n", "ns1"])
                .contains("deleted")
        );
        assert!(k.ok(&["delete", "cd", "c1", "-n", "ns1"]).contains("deleted"));
        let none = k.command(&["get", "sss,cm", "-n", "ns1"]).output().unwrap();
        assert!(
            String::from_utf8_lossy(&none.stderr).contains("No resources found"),
            "{}",
            String::from_utf8_lossy(&none.stdout)
        );
    })
    .await
    .unwrap();
    hub.shutdown().await;
}
