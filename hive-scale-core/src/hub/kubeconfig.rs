//! Reading kubeconfigs the way `oc` and `kubectl` do, with errors that never echo a credential.

use crate::{Error, Result};
use kube::config::{Kubeconfig, KubeconfigError};
use std::path::{Path, PathBuf};

/// A kubeconfig and where it came from.
#[derive(Clone)]
pub struct LoadedKubeconfig {
    /// The parsed file.
    pub config: Kubeconfig,
    /// The file, when one was read.
    pub path: Option<PathBuf>,
    /// The context in use.
    pub context: String,
    /// The API server URL of that context.
    pub server: String,
}

impl std::fmt::Debug for LoadedKubeconfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedKubeconfig")
            .field("path", &self.path)
            .field("context", &self.context)
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

fn err(path: Option<&Path>, reason: impl Into<String>) -> Error {
    Error::kubeconfig(path, reason)
}

/// Parses kubeconfig text. Parse errors report only a position: the text holds credentials.
pub fn parse(text: &str, path: Option<&Path>) -> Result<Kubeconfig> {
    if text.trim().is_empty() {
        return Err(err(path, "is empty"));
    }
    match Kubeconfig::from_yaml(text) {
        Ok(kc) => Ok(kc),
        Err(e) => {
            let msg = std::error::Error::source(&e)
                .map(ToString::to_string)
                .unwrap_or_else(|| e.to_string());
            let position = msg
                .find("line ")
                .map(|i| {
                    msg[i..]
                        .split(['\n', ':'])
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .filter(|p| !p.is_empty())
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            Err(err(path, format!("is not a valid kubeconfig{position}")))
        }
    }
}

/// Reads the file at `path`: every YAML document in it, relative file references (CA,
/// client certificate, token file) resolved against its directory as kubectl does.
pub fn read(path: &Path) -> Result<Kubeconfig> {
    match Kubeconfig::read_from(path) {
        Ok(kc)
            if kc.clusters.is_empty()
                && kc.contexts.is_empty()
                && kc.auth_infos.is_empty()
                && kc.current_context.is_none() =>
        {
            Err(err(Some(path), "is empty"))
        }
        Ok(kc) => Ok(kc),
        Err(KubeconfigError::ReadConfig(source, _)) => Err(Error::Kubeconfig {
            path: Some(path.to_path_buf()),
            reason: "cannot be read".into(),
            source: Some(source.into()),
        }),
        // kube's parse errors can quote the text, which holds credentials: ours give only a
        // position.
        Err(other) => match std::fs::read_to_string(path) {
            Ok(text) => parse(&text, Some(path)).and_then(|_| {
                Err(Error::Kubeconfig {
                    path: Some(path.to_path_buf()),
                    reason: "cannot be used".into(),
                    source: Some(other.into()),
                })
            }),
            Err(e) => Err(Error::Kubeconfig {
                path: Some(path.to_path_buf()),
                reason: "cannot be read".into(),
                source: Some(e.into()),
            }),
        },
    }
}

/// Where the hub's credentials come from when none are named, in kubectl's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// These kubeconfig files, merged (first one to set a value wins): `--kubeconfig`, the
    /// existing entries of `KUBECONFIG`, or `~/.kube/config`.
    Files(Vec<PathBuf>),
    /// The pod's service account (`KUBERNETES_SERVICE_HOST` is set and no kubeconfig exists).
    InCluster,
}

/// `explicit`, else the existing files of the `KUBECONFIG` list (merged), else
/// `~/.kube/config`, else the in-cluster service account.
pub fn locate(explicit: Option<&Path>) -> Result<Located> {
    if let Some(p) = explicit {
        return Ok(Located::Files(vec![p.to_path_buf()]));
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        // kubectl skips entries that do not exist; so do we, but an all-missing list is an
        // error rather than a silent fall back to another hub.
        let named: Vec<PathBuf> = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        let existing: Vec<PathBuf> = named.iter().filter(|p| p.exists()).cloned().collect();
        return match (existing.is_empty(), named.first()) {
            (false, _) => Ok(Located::Files(existing)),
            (true, Some(first)) => Err(err(
                Some(first),
                "does not exist (nor does any other file KUBECONFIG names)",
            )),
            (true, None) => Err(err(None, "KUBECONFIG is set but names no file")),
        };
    }
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"));
    match home {
        Some(path) if path.exists() => Ok(Located::Files(vec![path])),
        _ if std::env::var_os("KUBERNETES_SERVICE_HOST").is_some() => Ok(Located::InCluster),
        Some(path) => Ok(Located::Files(vec![path])),
        None => Err(err(
            None,
            "no --kubeconfig, no KUBECONFIG, no HOME and not in a pod",
        )),
    }
}

/// Reads and merges `paths` as kubectl merges a `KUBECONFIG` list.
pub fn read_merged(paths: &[PathBuf]) -> Result<Kubeconfig> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        let next = read(path)?;
        merged = Some(match merged {
            None => next,
            Some(m) => m.merge(next).map_err(|e| Error::Kubeconfig {
                path: Some(path.clone()),
                reason: "cannot be merged with the files before it in KUBECONFIG".into(),
                source: Some(e.into()),
            })?,
        });
    }
    merged.ok_or_else(|| err(None, "no kubeconfig file to read"))
}

/// The hub's credentials, resolved as kubectl resolves them.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// From kubeconfig files.
    Kubeconfig(Box<LoadedKubeconfig>),
    /// From the pod's service account.
    InCluster,
}

/// Resolves `explicit` and `context` to credentials (see [`locate`]); a kubeconfig is checked
/// by [`validate`]. A `context` with in-cluster credentials is an error: there are no contexts.
pub fn resolve(explicit: Option<&Path>, context: Option<&str>) -> Result<Credentials> {
    match locate(explicit)? {
        Located::Files(paths) => {
            let config = read_merged(&paths)?;
            // Errors name the first file: with a merged list, the one that set current-context
            // is usually it.
            validate(config, paths.first().cloned(), context)
                .map(|l| Credentials::Kubeconfig(Box::new(l)))
        }
        Located::InCluster if context.is_some() => Err(err(
            None,
            "--context was given but there is no kubeconfig (only the pod's service account)",
        )),
        Located::InCluster => Ok(Credentials::InCluster),
    }
}

/// Loads and checks a kubeconfig (see [`resolve`]); in-cluster credentials are an error here,
/// for callers that need a kubeconfig's contents.
pub fn load(explicit: Option<&Path>, context: Option<&str>) -> Result<LoadedKubeconfig> {
    match resolve(explicit, context)? {
        Credentials::Kubeconfig(loaded) => Ok(*loaded),
        Credentials::InCluster => Err(err(
            None,
            "none found (no --kubeconfig, no KUBECONFIG, no ~/.kube/config)",
        )),
    }
}

/// Checks a parsed kubeconfig (see [`load`]).
pub fn validate(
    config: Kubeconfig,
    path: Option<PathBuf>,
    context: Option<&str>,
) -> Result<LoadedKubeconfig> {
    let p = path.as_deref();
    let name = match context
        .map(String::from)
        .or_else(|| config.current_context.clone())
    {
        Some(n) if !n.is_empty() => n,
        _ => return Err(err(p, "has no current-context (pass --context)")),
    };
    let ctx = config
        .contexts
        .iter()
        .find(|c| c.name == name)
        .and_then(|c| c.context.as_ref())
        .ok_or_else(|| err(p, format!("has no context named {name:?}")))?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == ctx.cluster)
        .and_then(|c| c.cluster.as_ref())
        .ok_or_else(|| {
            err(
                p,
                format!(
                    "context {name:?} names cluster {:?}, which is not defined",
                    ctx.cluster
                ),
            )
        })?;
    let server = cluster
        .server
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err(p, format!("cluster {:?} has no server", ctx.cluster)))?;
    if !(server.starts_with("https://") || server.starts_with("http://")) {
        return Err(err(
            p,
            format!(
                "cluster {:?} has a server that is not an http(s) URL",
                ctx.cluster
            ),
        ));
    }
    let user_name = ctx.user.clone().unwrap_or_default();
    let user = config
        .auth_infos
        .iter()
        .find(|a| a.name == user_name)
        .and_then(|a| a.auth_info.as_ref())
        .ok_or_else(|| {
            err(
                p,
                format!("context {name:?} names user {user_name:?}, which is not defined"),
            )
        })?;
    let has_credentials = user.token.is_some()
        || user.token_file.is_some()
        || (user.client_certificate.is_some() || user.client_certificate_data.is_some())
            && (user.client_key.is_some() || user.client_key_data.is_some())
        || user.exec.is_some()
        || user.auth_provider.is_some()
        || (user.username.is_some() && user.password.is_some());
    if !has_credentials {
        return Err(err(
            p,
            format!(
                "user {user_name:?} has no credentials (token, client certificate, exec or basic auth)"
            ),
        ));
    }
    Ok(LoadedKubeconfig {
        config,
        path,
        context: name,
        server,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:6443'}\nusers:\n- name: u\n  user: {token: SECRET-TOKEN-123}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\ncurrent-context: x\n";

    #[test]
    fn accepts_a_complete_kubeconfig() {
        let kc = parse(GOOD, None).unwrap();
        let l = validate(kc, None, None).unwrap();
        assert_eq!(l.server, "https://127.0.0.1:6443");
        assert_eq!(l.context, "x");
        assert!(
            !format!("{l:?}").contains("SECRET"),
            "Debug must not show credentials"
        );
    }

    #[test]
    fn explains_what_is_missing_without_echoing_secrets() {
        let cases = [
            (
                GOOD.replace("current-context: x\n", ""),
                "no current-context",
            ),
            (
                GOOD.replace(
                    "server: 'https://127.0.0.1:6443'",
                    "insecure-skip-tls-verify: true",
                ),
                "has no server",
            ),
            (
                GOOD.replace("{token: SECRET-TOKEN-123}", "{}"),
                "has no credentials",
            ),
            (
                GOOD.replace("cluster: c, user", "cluster: nope, user"),
                "which is not defined",
            ),
        ];
        for (text, want) in cases {
            let e = parse(&text, None)
                .and_then(|kc| validate(kc, None, None))
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("SECRET"), "{e}");
        }
        for broken in [
            GOOD.replace("users:", "users: [").to_string(),
            "token: SECRET-TOKEN-123: : :\n  - [".to_string(),
            "   ".into(),
        ] {
            let e = parse(&broken, None).unwrap_err().to_string();
            assert!(!e.contains("SECRET"), "{e}");
            assert!(
                e.contains("not a valid kubeconfig") || e.contains("is empty"),
                "{e}"
            );
        }
        assert!(
            validate(parse(GOOD, None).unwrap(), None, Some("other"))
                .unwrap_err()
                .to_string()
                .contains("no context named \"other\"")
        );
    }
}
