//! The claims of a CDS Hooks JWT (spec 2.0 §Trusting CDS Clients), checked after the signature:
//! `iss`, `aud` (the invoked endpoint's URL, string or array), `exp` and `iat` (required, with
//! clock skew and a maximum lifetime), `nbf` (honoured when present), `jti` (required),
//! `tenant` (when configured). `sub` is accepted and ignored. Pure: `now` is passed in.

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::error::{AuthError, AuthFailure, excerpt};

/// Longest `jti` kept in the replay store.
pub const MAX_JTI_LEN: usize = 256;

/// What the claims must satisfy.
#[derive(Debug, Clone)]
pub struct ClaimRules<'a> {
    /// The URL of the endpoint being invoked.
    pub audience: &'a str,
    /// Whether `audience` may be shown in a message (false when the path names no service:
    /// the path is then arbitrary client text).
    pub show_audience: bool,
    pub skew_secs: i64,
    pub max_lifetime_secs: i64,
    /// Accepted `tenant` values; empty = not checked.
    pub tenants: &'a [String],
}

/// The claims the rest of the check needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub issuer: String,
    pub jti: String,
    pub expires_at: i64,
}

fn missing(name: &str) -> AuthError {
    AuthError::new(
        AuthFailure::MissingClaim,
        format!(
            "the token has no `{name}` claim; CDS Hooks tokens must carry iss, aud, exp, iat and jti"
        ),
    )
}

fn invalid(message: String) -> AuthError {
    AuthError::new(AuthFailure::InvalidClaim, message)
}

/// `iss`, required: a non-empty string.
pub fn issuer(claims: &Map<String, Value>) -> Result<&str, AuthError> {
    match claims.get("iss") {
        None | Some(Value::Null) => Err(missing("iss")),
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(_) => Err(invalid("`iss` must be a non-empty string".to_owned())),
    }
}

/// A NumericDate (seconds since the epoch; fractions allowed), required unless `optional`.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.floor() as i64)
            })
            .filter(|t| (0..=253_402_300_799).contains(t))
            .map(Some)
            .ok_or_else(|| invalid(format!("`{name}` is not a valid NumericDate"))),
        Some(_) => Err(invalid(format!(
            "`{name}` must be a NumericDate (seconds since 1970-01-01T00:00:00Z)"
        ))),
    }
}

fn required_date(claims: &Map<String, Value>, name: &str) -> Result<i64, AuthError> {
    numeric_date(claims, name)?.ok_or_else(|| missing(name))
}

/// RFC 3339 for messages.
fn timestamp(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| secs.to_string())
}

fn audience_matches(aud: &Value, expected: &str) -> Result<bool, AuthError> {
    let wrong_type = || invalid("`aud` must be a string or an array of strings".to_owned());
    match aud {
        Value::String(s) => Ok(s == expected),
        Value::Array(items) if !items.is_empty() => {
            let mut found = false;
            for item in items {
                found |= item.as_str().ok_or_else(wrong_type)? == expected;
            }
            Ok(found)
        }
        _ => Err(wrong_type()),
    }
}

/// Check every claim except the signature-independent `iss` trust (done before the key lookup)
/// and `jti` reuse (the replay store, last).
pub fn check(
    claims: &Map<String, Value>,
    rules: &ClaimRules<'_>,
    now: i64,
) -> Result<Checked, AuthError> {
    let issuer = issuer(claims)?.to_owned();
    let aud = claims
        .get("aud")
        .filter(|v| !v.is_null())
        .ok_or_else(|| missing("aud"))?;
    let exp = required_date(claims, "exp")?;
    let iat = required_date(claims, "iat")?;
    let jti = match claims.get("jti") {
        None | Some(Value::Null) => return Err(missing("jti")),
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_JTI_LEN => s.clone(),
        Some(_) => {
            return Err(invalid(format!(
                "`jti` must be a non-empty string of at most {MAX_JTI_LEN} bytes"
            )));
        }
    };

    if !audience_matches(aud, rules.audience)? {
        let expected = if rules.show_audience {
            format!("\"{}\"", rules.audience)
        } else {
            "the URL of the endpoint being invoked (DVT_CDS_PUBLIC_URL + the request path)"
                .to_owned()
        };
        return Err(AuthError::new(
            AuthFailure::WrongAudience,
            format!(
                "wrong audience: `aud` must be (or, as an array, contain) {expected}; check the \
                 CDS service URL registered in the EHR against DVT_CDS_PUBLIC_URL"
            ),
        ));
    }

    let skew = rules.skew_secs;
    if exp <= iat {
        return Err(invalid("`exp` must be after `iat`".to_owned()));
    }
    if exp - iat > rules.max_lifetime_secs {
        return Err(AuthError::new(
            AuthFailure::LifetimeTooLong,
            format!(
                "the token lives {} s (exp − iat); this service accepts at most {} s \
                 (DVT_CDS_JWT_MAX_LIFETIME_SECS)",
                exp - iat,
                rules.max_lifetime_secs
            ),
        ));
    }
    if now > exp + skew {
        return Err(AuthError::new(
            AuthFailure::Expired,
            format!(
                "the token expired at {} (now {}, clock skew allowed {skew} s); send a fresh token",
                timestamp(exp),
                timestamp(now)
            ),
        ));
    }
    if iat > now + skew {
        return Err(AuthError::new(
            AuthFailure::NotYetValid,
            format!(
                "the token is issued in the future (`iat` {}, now {}, clock skew allowed {skew} s); \
                 check the client's clock",
                timestamp(iat),
                timestamp(now)
            ),
        ));
    }
    if let Some(nbf) = numeric_date(claims, "nbf")?
        && nbf > now + skew
    {
        return Err(AuthError::new(
            AuthFailure::NotYetValid,
            format!(
                "the token is not valid before {} (`nbf`; now {}, clock skew allowed {skew} s)",
                timestamp(nbf),
                timestamp(now)
            ),
        ));
    }

    if !rules.tenants.is_empty() {
        match claims.get("tenant") {
            None | Some(Value::Null) => {
                return Err(AuthError::new(
                    AuthFailure::MissingClaim,
                    "the token has no `tenant` claim; this service requires one (DVT_CDS_JWT_TENANT)",
                ));
            }
            Some(Value::String(t)) if rules.tenants.iter().any(|allowed| allowed == t) => {}
            Some(Value::String(t)) => {
                return Err(AuthError::new(
                    AuthFailure::WrongTenant,
                    format!(
                        "`tenant` \"{}\" is not a tenant this service serves (DVT_CDS_JWT_TENANT)",
                        excerpt(t)
                    ),
                ));
            }
            Some(_) => return Err(invalid("`tenant` must be a string".to_owned())),
        }
    }

    Ok(Checked {
        issuer,
        jti,
        expires_at: exp,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const AUD: &str = "https://cds.example.org/cds-services/dvt-order-select";
    const NOW: i64 = 1_800_000_000;

    fn rules() -> ClaimRules<'static> {
        ClaimRules {
            audience: AUD,
            show_audience: true,
            skew_secs: 60,
            max_lifetime_secs: 900,
            tenants: &[],
        }
    }

    fn claims(extra: Value) -> Map<String, Value> {
        let mut base = json!({
            "iss": "https://ehr.example", "aud": AUD, "iat": NOW - 10, "exp": NOW + 290,
            "jti": "j-1", "sub": "someone"
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base.as_object().unwrap().clone()
    }

    fn reason(extra: Value) -> AuthFailure {
        check(&claims(extra), &rules(), NOW).unwrap_err().reason
    }

    #[test]
    fn valid_claims_pass() {
        let ok = check(&claims(json!({})), &rules(), NOW).unwrap();
        assert_eq!(ok.jti, "j-1");
        assert_eq!(ok.expires_at, NOW + 290);
        // aud as an array containing the URL; fractional dates; nbf in the past (Epic).
        check(
            &claims(
                json!({"aud": ["https://other", AUD], "iat": (NOW - 10) as f64 + 0.5,
                           "nbf": NOW - 310}),
            ),
            &rules(),
            NOW,
        )
        .unwrap();
        // Within the skew on both sides.
        check(&claims(json!({"iat": NOW + 60})), &rules(), NOW).unwrap();
        check(
            &claims(json!({"iat": NOW - 400, "exp": NOW - 60})),
            &rules(),
            NOW,
        )
        .unwrap();
    }

    #[test]
    fn each_required_claim_is_named_when_missing() {
        for name in ["iss", "aud", "exp", "iat", "jti"] {
            let mut c = claims(json!({}));
            c.remove(name);
            let e = check(&c, &rules(), NOW).unwrap_err();
            assert_eq!(e.reason, AuthFailure::MissingClaim, "{name}");
            assert!(e.message.contains(&format!("`{name}`")), "{}", e.message);
        }
    }

    #[test]
    fn times_are_checked_with_the_skew() {
        let e = check(
            &claims(json!({"iat": NOW - 400, "exp": NOW - 61})),
            &rules(),
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.reason, AuthFailure::Expired);
        assert!(
            e.message.contains("expired at 2027-01-15T07:58:59Z"),
            "{}",
            e.message
        );
        assert_eq!(reason(json!({"iat": NOW + 61})), AuthFailure::NotYetValid);
        assert_eq!(reason(json!({"nbf": NOW + 61})), AuthFailure::NotYetValid);
        assert_eq!(
            reason(json!({"iat": NOW, "exp": NOW + 901})),
            AuthFailure::LifetimeTooLong
        );
        assert_eq!(reason(json!({"exp": NOW - 10})), AuthFailure::InvalidClaim);
        assert_eq!(reason(json!({"exp": "soon"})), AuthFailure::InvalidClaim);
    }

    #[test]
    fn the_audience_must_be_the_endpoint() {
        let e = check(
            &claims(json!({"aud": "https://cds.example.org/cds-services"})),
            &rules(),
            NOW,
        )
        .unwrap_err();
        assert_eq!(e.reason, AuthFailure::WrongAudience);
        assert!(e.message.contains(AUD), "{}", e.message);
        let hidden = ClaimRules {
            show_audience: false,
            ..rules()
        };
        let e = check(&claims(json!({"aud": "x"})), &hidden, NOW).unwrap_err();
        assert!(!e.message.contains(AUD), "{}", e.message);
        assert_eq!(
            reason(json!({"aud": ["x", "y"]})),
            AuthFailure::WrongAudience
        );
        assert_eq!(reason(json!({"aud": [AUD, 3]})), AuthFailure::InvalidClaim);
        assert_eq!(reason(json!({"aud": []})), AuthFailure::InvalidClaim);
    }

    #[test]
    fn tenant_is_checked_only_when_configured() {
        check(&claims(json!({"tenant": "other"})), &rules(), NOW).unwrap();
        let tenants = ["t-1".to_owned()];
        let with_tenant = ClaimRules {
            tenants: &tenants,
            ..rules()
        };
        check(&claims(json!({"tenant": "t-1"})), &with_tenant, NOW).unwrap();
        let e = check(&claims(json!({"tenant": "t-2"})), &with_tenant, NOW).unwrap_err();
        assert_eq!(e.reason, AuthFailure::WrongTenant);
        let e = check(&claims(json!({})), &with_tenant, NOW).unwrap_err();
        assert_eq!(e.reason, AuthFailure::MissingClaim);
    }

    #[test]
    fn jti_must_be_a_bounded_string() {
        assert_eq!(reason(json!({"jti": ""})), AuthFailure::InvalidClaim);
        assert_eq!(reason(json!({"jti": 7})), AuthFailure::InvalidClaim);
        assert_eq!(
            reason(json!({"jti": "x".repeat(MAX_JTI_LEN + 1)})),
            AuthFailure::InvalidClaim
        );
    }
}
