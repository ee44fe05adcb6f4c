//! Reading kubeconfigs the way `oc` and `kubectl` do, with errors that never echo a credential.

use crate::{Error, Result};
use kube::config::Kubeconfig;
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

/// Reads the file at `path`.
pub fn read(path: &Path) -> Result<Kubeconfig> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Kubeconfig {
        path: Some(path.to_path_buf()),
        reason: "cannot be read".into(),
        source: Some(e.into()),
    })?;
    parse(&text, Some(path))
}

/// `explicit`, else `$KUBECONFIG` (first existing entry), else `~/.kube/config`.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        let paths: Vec<PathBuf> = std::env::split_paths(&list).collect();
        return paths
            .iter()
            .find(|p| p.exists())
            .or(paths.first())
            .cloned()
            .ok_or_else(|| err(None, "KUBECONFIG is set but names no file"));
    }
    let home = std::env::var_os("HOME")
        .ok_or_else(|| err(None, "no --kubeconfig, no KUBECONFIG and no HOME"))?;
    Ok(PathBuf::from(home).join(".kube").join("config"))
}

/// Loads and checks a kubeconfig: the context exists and names a cluster with a server and a
/// user with some credentials.
pub fn load(explicit: Option<&Path>, context: Option<&str>) -> Result<LoadedKubeconfig> {
    let path = locate(explicit)?;
    let config = read(&path)?;
    validate(config, Some(path), context)
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
