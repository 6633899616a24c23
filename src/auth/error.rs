//! Why a token was refused: a fixed set of reasons (metrics labels, the `reason` member of the
//! 401 body) and a message an integrator can act on. Messages never quote the token; claim and
//! header values are quoted only as short, sanitised excerpts.

/// The reason a request failed authentication. The label set is fixed ([`AuthFailure::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthFailure {
    /// No `Authorization: Bearer …` header.
    MissingToken,
    /// Not three base64url parts, or a part is not a JSON object.
    MalformedToken,
    /// `alg` is `none`, HMAC, or not enabled.
    AlgorithmNotAllowed,
    /// `typ` is not `JWT`, `kid` is missing, or an unsupported `crit` header.
    BadHeader,
    /// A required claim (`iss`, `aud`, `exp`, `iat`, `jti`, `tenant` when configured) is absent.
    MissingClaim,
    /// A claim has the wrong type or an impossible value.
    InvalidClaim,
    /// `iss` is not a trusted issuer (or has no key source).
    UnknownIssuer,
    /// `jku` is not under a `DVT_CDS_JKU_ALLOWLIST` prefix.
    JkuNotAllowed,
    /// No key with the token's `kid` in the JWKS (after a rate-limited refresh).
    UnknownKid,
    /// The JWKS could not be fetched or read.
    JwksUnavailable,
    /// The key for `kid` does not fit the token's algorithm.
    KeyMismatch,
    /// The signature does not verify.
    BadSignature,
    /// `aud` is not the URL of the endpoint being invoked.
    WrongAudience,
    /// `exp` is in the past (beyond the clock skew).
    Expired,
    /// `nbf` or `iat` is in the future (beyond the clock skew).
    NotYetValid,
    /// `exp - iat` is over the configured maximum lifetime.
    LifetimeTooLong,
    /// `tenant` is not the configured tenant.
    WrongTenant,
    /// The `jti` was already used.
    Replayed,
    /// The replay store cannot be reached (a shared store; the in-memory store never fails).
    ReplayStoreUnavailable,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 19] = [
        AuthFailure::MissingToken,
        AuthFailure::MalformedToken,
        AuthFailure::AlgorithmNotAllowed,
        AuthFailure::BadHeader,
        AuthFailure::MissingClaim,
        AuthFailure::InvalidClaim,
        AuthFailure::UnknownIssuer,
        AuthFailure::JkuNotAllowed,
        AuthFailure::UnknownKid,
        AuthFailure::JwksUnavailable,
        AuthFailure::KeyMismatch,
        AuthFailure::BadSignature,
        AuthFailure::WrongAudience,
        AuthFailure::Expired,
        AuthFailure::NotYetValid,
        AuthFailure::LifetimeTooLong,
        AuthFailure::WrongTenant,
        AuthFailure::Replayed,
        AuthFailure::ReplayStoreUnavailable,
    ];

    /// The stable label (metrics, `reason` in the error body).
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::MissingToken => "missing-token",
            AuthFailure::MalformedToken => "malformed-token",
            AuthFailure::AlgorithmNotAllowed => "algorithm-not-allowed",
            AuthFailure::BadHeader => "bad-header",
            AuthFailure::MissingClaim => "missing-claim",
            AuthFailure::InvalidClaim => "invalid-claim",
            AuthFailure::UnknownIssuer => "unknown-issuer",
            AuthFailure::JkuNotAllowed => "jku-not-allowed",
            AuthFailure::UnknownKid => "unknown-kid",
            AuthFailure::JwksUnavailable => "jwks-unavailable",
            AuthFailure::KeyMismatch => "key-mismatch",
            AuthFailure::BadSignature => "bad-signature",
            AuthFailure::WrongAudience => "wrong-audience",
            AuthFailure::Expired => "expired",
            AuthFailure::NotYetValid => "not-yet-valid",
            AuthFailure::LifetimeTooLong => "lifetime-too-long",
            AuthFailure::WrongTenant => "wrong-tenant",
            AuthFailure::Replayed => "replayed",
            AuthFailure::ReplayStoreUnavailable => "replay-store-unavailable",
        }
    }
}

/// A refused token: the reason and a message for the integrator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AuthError {
    pub reason: AuthFailure,
    pub message: String,
}

impl AuthError {
    pub fn new(reason: AuthFailure, message: impl Into<String>) -> AuthError {
        AuthError {
            reason,
            message: message.into(),
        }
    }
}

/// A short, printable excerpt of a value taken from a token (at most 64 characters, anything
/// outside printable ASCII replaced by `?`), for messages.
pub fn excerpt(value: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = value
        .chars()
        .take(MAX)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if value.chars().count() > MAX {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_unique() {
        let labels: std::collections::HashSet<_> =
            AuthFailure::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(labels.len(), AuthFailure::ALL.len());
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        assert_eq!(excerpt("https://ehr.example"), "https://ehr.example");
        assert_eq!(excerpt("a\nb\u{7f}é"), "a?b??");
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), 65);
    }
}
