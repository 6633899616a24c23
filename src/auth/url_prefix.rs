//! `DVT_CDS_JKU_ALLOWLIST` entries: URL prefixes compared on the *parsed* URL (scheme, host,
//! port, path on a segment boundary, query), never as strings, so
//! `https://good.example.evil.com` or `https://good.example@evil.com` cannot pass for
//! `https://good.example`, nor `…/keys-evil` for `…/keys`.

use url::Url;

#[derive(Debug, Clone)]
pub struct UrlPrefix {
    url: Url,
}

impl UrlPrefix {
    /// An `http(s)://host[:port][/path][?query]` prefix without credentials or fragment.
    pub fn parse(text: &str) -> Result<UrlPrefix, String> {
        let url = Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("the scheme must be http or https".to_owned());
        }
        if url.host().is_none() {
            return Err("no host".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("credentials are not allowed in the URL".to_owned());
        }
        if url.fragment().is_some() {
            return Err("a fragment (#…) is not allowed".to_owned());
        }
        Ok(UrlPrefix { url })
    }

    /// Whether `candidate` (a token's `jku`) is this prefix or below it.
    pub fn matches(&self, candidate: &Url) -> bool {
        let prefix = &self.url;
        if candidate.scheme() != prefix.scheme()
            || candidate.host() != prefix.host()
            || candidate.port_or_known_default() != prefix.port_or_known_default()
            || !candidate.username().is_empty()
            || candidate.password().is_some()
            || candidate.fragment().is_some()
            || candidate.query() != prefix.query()
        {
            return false;
        }
        let (want, got) = (prefix.path(), candidate.path());
        got == want
            || (want.ends_with('/') && got.starts_with(want))
            || got
                .strip_prefix(want)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(prefix: &str, jku: &str) -> bool {
        UrlPrefix::parse(prefix)
            .unwrap()
            .matches(&Url::parse(jku).unwrap())
    }

    #[test]
    fn the_same_url_and_urls_below_match() {
        let sandbox = "https://sandbox.cds-hooks.org/.well-known/jwks.json";
        assert!(allowed(sandbox, sandbox));
        assert!(allowed(
            "https://SANDBOX.cds-hooks.org:443/.well-known/jwks.json",
            sandbox
        ));
        assert!(allowed(
            "https://ehr.example/api/epic/2019/Security/Open/PublicKeys/530013",
            "https://ehr.example/api/epic/2019/Security/Open/PublicKeys/530013/530013"
        ));
        assert!(allowed(
            "https://ehr.example/keys/",
            "https://ehr.example/keys/jwks.json"
        ));
        assert!(allowed(
            "https://ehr.example",
            "https://ehr.example/any/jwks"
        ));
    }

    #[test]
    fn look_alikes_do_not_match() {
        let good = "https://good.example";
        for evil in [
            "https://good.example.evil.com/jwks",
            "https://good.example@evil.com/jwks",
            "https://evil.com/good.example/jwks",
            "http://good.example/jwks",
            "https://good.example:8443/jwks",
            "https://user:pw@good.example/jwks",
            "https://good.example/jwks#frag",
        ] {
            assert!(!allowed(good, evil), "{evil}");
        }
        let keys = "https://good.example/keys";
        assert!(!allowed(keys, "https://good.example/keys-evil/jwks"));
        assert!(!allowed(keys, "https://good.example/keys/../evil/jwks"));
        assert!(!allowed(keys, "https://good.example/keys/%2e%2e/evil"));
        assert!(!allowed(keys, "https://good.example/keys?x=1"));
        assert!(allowed(keys, "https://good.example/keys/./jwks"));
    }

    #[test]
    fn bad_prefixes_are_refused() {
        for bad in [
            "good.example",
            "ftp://good.example/",
            "https://u:p@good.example/",
            "https://good.example/#x",
        ] {
            assert!(UrlPrefix::parse(bad).is_err(), "{bad}");
        }
    }
}
