//! Who a request comes from. The hub's own token is its administrator, a member of
//! `system:masters` whom nothing is refused; service accounts get tokens from the
//! TokenRequest subresource (`POST .../serviceaccounts/NAME/token`) and are whoever Kubernetes
//! says a service account is, for [`super::rbac`] to authorize. Also the endpoints that tell a
//! caller who it is (SelfSubjectReview) and that mint tokens.

use super::error::ApiError;
use super::state::ApiState;
use super::store::Store;
use axum::http::{HeaderMap, header};
use hive_scale_core::secret::Secret;
use parking_lot::RwLock;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The user name of the hub's admin token.
pub const ADMIN_USER: &str = "hive-scale:admin";

/// The group whose members RBAC does not restrict.
pub const SUPERUSER_GROUP: &str = "system:masters";

/// Every authenticated user's group.
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";

/// A token's lifetime when a TokenRequest does not ask for one (kube-apiserver's default).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The shortest lifetime a TokenRequest may ask for (kube-apiserver's minimum).
pub const MIN_TOKEN_LIFETIME: Duration = Duration::from_secs(600);

/// The audience of tokens that do not name one: the API server itself.
const DEFAULT_AUDIENCE: &str = "https://kubernetes.default.svc";

/// An authenticated user, as RBAC subjects and SelfSubjectReview name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// `system:serviceaccount:NS:NAME` for a service account.
    pub username: String,
    /// The service account's uid (empty for the admin).
    pub uid: String,
    /// Groups, `system:authenticated` last.
    pub groups: Vec<String>,
}

impl UserInfo {
    /// The hub's administrator.
    pub fn admin() -> Self {
        Self {
            username: ADMIN_USER.into(),
            uid: String::new(),
            groups: vec![SUPERUSER_GROUP.into(), AUTHENTICATED_GROUP.into()],
        }
    }

    /// Service account `name` of namespace `ns`, whose uid is `uid`.
    pub fn service_account(ns: &str, name: &str, uid: &str) -> Self {
        Self {
            username: format!("system:serviceaccount:{ns}:{name}"),
            uid: uid.into(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                AUTHENTICATED_GROUP.into(),
            ],
        }
    }

    /// Whether RBAC leaves this user unrestricted.
    pub fn is_superuser(&self) -> bool {
        self.groups.iter().any(|g| g == SUPERUSER_GROUP)
    }

    /// `(namespace, name)` when the user is a service account.
    pub fn service_account_name(&self) -> Option<(&str, &str)> {
        self.username
            .strip_prefix("system:serviceaccount:")?
            .split_once(':')
    }

    /// The `userInfo` of a review.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"username": self.username, "groups": self.groups});
        if !self.uid.is_empty() {
            v["uid"] = self.uid.clone().into();
        }
        v
    }
}

/// Who sent a request.
#[derive(Debug, Clone)]
pub enum Caller {
    /// The hub's admin token: everything is allowed, and nothing is evaluated for it (the
    /// tests and tools that drive the hub over HTTP use it, so its path stays as it was).
    Admin,
    /// A service account's token: RBAC decides.
    User(Arc<UserInfo>),
    /// No credentials, on the paths that need none (`/healthz`, `/version`, ...).
    Anonymous,
}

impl Caller {
    /// The caller as a user.
    pub fn user_info(&self) -> UserInfo {
        match self {
            Self::Admin => UserInfo::admin(),
            Self::User(u) => (**u).clone(),
            Self::Anonymous => UserInfo {
                username: "system:anonymous".into(),
                uid: String::new(),
                groups: vec!["system:unauthenticated".into()],
            },
        }
    }
}

/// A token just issued, and when it stops working.
#[derive(Debug)]
pub struct IssuedToken {
    /// The bearer token.
    pub token: Secret,
    /// Its `status.expirationTimestamp`.
    pub expires_at: jiff::Timestamp,
}

/// What a token stands for: the service account it was issued to (by uid, so a service
/// account deleted and created again under the same name does not inherit its tokens).
#[derive(Debug)]
struct Binding {
    namespace: String,
    name: String,
    uid: String,
    expires: Instant,
}

/// Service-account tokens issued by this hub, held in memory only: a restart of the process
/// invalidates them, as a new signing key would.
#[derive(Default)]
pub struct Tokens {
    issued: RwLock<HashMap<String, Binding>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the tokens themselves.
        f.debug_struct("Tokens")
            .field("issued", &self.issued.read().len())
            .finish()
    }
}

impl Tokens {
    /// Issues a token for service account `name` in `ns`, valid for `lifetime` (real time)
    /// while the service account exists.
    ///
    /// # Errors
    ///
    /// 404 when there is no such service account.
    pub fn issue(
        &self,
        store: &Store,
        ns: &str,
        name: &str,
        lifetime: Duration,
    ) -> Result<IssuedToken, ApiError> {
        let uid = service_account_uid(store, ns, name)
            .ok_or_else(|| ApiError::not_found("serviceaccounts", name))?;
        let token = random_token();
        let now = Instant::now();
        let mut issued = self.issued.write();
        issued.retain(|_, b| b.expires > now);
        issued.insert(
            token.clone(),
            Binding {
                namespace: ns.into(),
                name: name.into(),
                uid,
                expires: now + lifetime,
            },
        );
        let expires_at = jiff::Timestamp::now()
            .checked_add(jiff::SignedDuration::from_secs(
                i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX),
            ))
            .unwrap_or(jiff::Timestamp::MAX);
        Ok(IssuedToken {
            token: Secret::new(token),
            expires_at: jiff::Timestamp::from_second(expires_at.as_second()).unwrap_or(expires_at),
        })
    }

    /// The service account a token stands for, if it is one of ours, unexpired, and its
    /// service account still exists (and is not being deleted).
    pub fn user(&self, store: &Store, token: &str) -> Option<UserInfo> {
        let (ns, name, uid) = {
            let issued = self.issued.read();
            let b = issued.get(token)?;
            if b.expires <= Instant::now() {
                return None;
            }
            (b.namespace.clone(), b.name.clone(), b.uid.clone())
        };
        if service_account_uid(store, &ns, &name).as_deref() != Some(uid.as_str()) {
            // Gone for good: forget the token.
            self.issued.write().remove(token);
            return None;
        }
        Some(UserInfo::service_account(&ns, &name, &uid))
    }
}

/// The uid of a service account that exists and is not being deleted.
fn service_account_uid(store: &Store, ns: &str, name: &str) -> Option<String> {
    let def = store.registry().lookup("", "v1", "serviceaccounts")?;
    let entry = store.get_entry(&def, ns, name).ok()?;
    let head = entry.head();
    (!head.deleting()).then(|| head.uid().to_string())
}

/// 32 random bytes, hex: opaque to clients, as nothing reads a service account token but the
/// server that issued it.
fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bearer token of a request, if it carries one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
}

/// Whether `presented` is `expected`, in time independent of where they differ.
fn same_token(presented: &str, expected: &str) -> bool {
    presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Who sent a request; `None` when its credentials are missing or unknown (401). The admin
/// token is compared first, so its requests cost no more than before service accounts.
pub fn authenticate(state: &ApiState, headers: &HeaderMap) -> Option<Caller> {
    let presented = bearer(headers)?;
    if same_token(presented, state.token.expose()) {
        return Some(Caller::Admin);
    }
    state
        .tokens
        .user(&state.store, presented)
        .map(|u| Caller::User(Arc::new(u)))
}

/// `POST /api/v1/namespaces/NS/serviceaccounts/NAME/token`: a TokenRequest answered with a
/// token for the service account.
pub fn token_request(
    state: &ApiState,
    ns: &str,
    name: &str,
    request: &Value,
) -> Result<Value, ApiError> {
    check_type(request, "authentication.k8s.io/v1", "TokenRequest")?;
    let spec = request.get("spec").cloned().unwrap_or_else(|| json!({}));
    let invalid = |field: &str, why: String| {
        ApiError::invalid("TokenRequest", name, vec![(field.to_string(), why)])
    };
    let lifetime = match spec.get("expirationSeconds") {
        None | Some(Value::Null) => DEFAULT_TOKEN_LIFETIME,
        Some(v) => {
            let secs = v.as_i64().ok_or_else(|| {
                invalid(
                    "spec.expirationSeconds",
                    format!("Invalid value: {v}: must be an integer"),
                )
            })?;
            if secs < MIN_TOKEN_LIFETIME.as_secs() as i64 {
                return Err(invalid(
                    "spec.expirationSeconds",
                    format!(
                        "Invalid value: {secs}: may not specify a duration less than 10 minutes"
                    ),
                ));
            }
            if secs > 1 << 32 {
                return Err(invalid(
                    "spec.expirationSeconds",
                    format!(
                        "Invalid value: {secs}: may not specify a duration larger than 2^32 seconds"
                    ),
                ));
            }
            Duration::from_secs(secs.unsigned_abs())
        }
    };
    let audiences = match spec.get("audiences").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => Value::Array(a.clone()),
        _ => json!([DEFAULT_AUDIENCE]),
    };
    let issued = state.tokens.issue(&state.store, ns, name, lifetime)?;
    Ok(json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": jiff::Timestamp::from_second(jiff::Timestamp::now().as_second()).map(|t| t.to_string()).unwrap_or_default()},
        "spec": {
            "audiences": audiences,
            "expirationSeconds": lifetime.as_secs(),
            "boundObjectRef": spec.get("boundObjectRef").cloned().unwrap_or(Value::Null),
        },
        "status": {
            "token": issued.token.expose(),
            "expirationTimestamp": issued.expires_at.to_string(),
        },
    }))
}

/// `POST /apis/authentication.k8s.io/v1/selfsubjectreviews`: who the caller is.
pub fn self_subject_review(caller: &Caller, request: &Value) -> Result<Value, ApiError> {
    check_type(request, "authentication.k8s.io/v1", "SelfSubjectReview")?;
    Ok(json!({
        "kind": "SelfSubjectReview",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"creationTimestamp": null},
        "status": {"userInfo": caller.user_info().to_json()},
    }))
}

/// A review's body must be an object of its kind (either may be left out).
pub(super) fn check_type(body: &Value, api_version: &str, kind: &str) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body of a {kind} must be an object"
        )));
    }
    for (field, want) in [("apiVersion", api_version), ("kind", kind)] {
        match body.get(field).and_then(Value::as_str) {
            None | Some("") => {}
            Some(v) if v == want => {}
            Some(v) => {
                return Err(ApiError::bad_request(format!(
                    "the {field} in the data ({v}) does not match the expected {field} ({want})"
                )));
            }
        }
    }
    Ok(())
}
