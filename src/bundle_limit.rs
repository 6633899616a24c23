//! The Bundle-size limit of a hook request (`DVT_CDS_MAX_BUNDLE_ENTRIES`): a prefetch Bundle
//! (or `context.draftOrders`) with more entries than the service evaluates is refused whole
//! (HTTP 413 naming the key and the limit) rather than read in part, which would make the
//! card's answer rest on a silently truncated record.
//!
//! Arrow: CDS Hooks request → **prefetch**, as a check that runs before the request is parsed
//! (so a 100 000-entry Bundle costs one pass over the array lengths, not a schema check of
//! every entry). It only reads `entry` array lengths; it is independent of how the prefetch is
//! parsed afterwards.

use serde_json::{Map, Value};

use crate::facts::DataSource;

/// A Bundle over the limit: where it is and how big.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooManyEntries {
    /// The prefetch key, or `draftOrders`.
    pub key: String,
    /// JSON pointer of its `entry` array.
    pub pointer: String,
    pub count: usize,
    pub limit: usize,
}

fn entries(value: &Value) -> usize {
    value
        .get("entry")
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

/// The error for prefetch `key`. Only a contract key is named: any other key is client text
/// (it could be anything) and is never echoed.
fn too_many(key: &str, count: usize, limit: usize) -> TooManyEntries {
    let (key, pointer) = match DataSource::from_key(key) {
        Some(source) => (
            source.key().to_owned(),
            format!("/prefetch/{}/entry", source.key()),
        ),
        None => ("an extra prefetch key".to_owned(), "/prefetch".to_owned()),
    };
    TooManyEntries {
        key,
        pointer,
        count,
        limit,
    }
}

/// Check every prefetch value (any key: extra keys cost memory too) and `draftOrders`.
pub fn check(
    prefetch: Option<&Map<String, Value>>,
    draft_orders: Option<&Value>,
    limit: usize,
) -> Result<(), TooManyEntries> {
    if let Some(prefetch) = prefetch {
        for (key, value) in prefetch {
            let count = entries(value);
            if count > limit {
                return Err(too_many(key, count, limit));
            }
        }
    }
    if let Some(draft_orders) = draft_orders {
        let count = entries(draft_orders);
        if count > limit {
            return Err(TooManyEntries {
                key: "draftOrders".to_owned(),
                pointer: "/context/draftOrders/entry".to_owned(),
                count,
                limit,
            });
        }
    }
    Ok(())
}

/// [`check`] on the entry counts of the prefetch Bundles as sent (`skim::Skimmed::
/// bundle_entries`: counted before the entries the rules never read were left out).
pub fn check_counts(counts: &[(String, usize)], limit: usize) -> Result<(), TooManyEntries> {
    for (key, count) in counts {
        if *count > limit {
            return Err(too_many(key, *count, limit));
        }
    }
    Ok(())
}

/// [`check`] on a request body as received (before the schema check).
pub fn check_body(body: &Value, limit: usize) -> Result<(), TooManyEntries> {
    check(
        body.get("prefetch").and_then(Value::as_object),
        body.pointer("/context/draftOrders"),
        limit,
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bundle(n: usize) -> Value {
        json!({"resourceType": "Bundle", "entry": vec![json!({"resource": {"resourceType": "Observation"}}); n]})
    }

    #[test]
    fn bundles_up_to_the_limit_pass() {
        let body = json!({"prefetch": {"observations": bundle(3), "patient": {"resourceType": "Patient"}, "conditions": null},
                          "context": {"draftOrders": bundle(3)}});
        assert_eq!(check_body(&body, 3), Ok(()));
        assert_eq!(check_body(&json!({}), 0), Ok(()));
        assert_eq!(check_body(&json!({"prefetch": "x"}), 0), Ok(()));
    }

    #[test]
    fn the_key_and_the_limit_are_named() {
        let body = json!({"prefetch": {"a/b": null, "observations": bundle(4)}});
        let err = check_body(&body, 3).unwrap_err();
        assert_eq!(err.key, "observations");
        assert_eq!(err.pointer, "/prefetch/observations/entry");
        assert_eq!((err.count, err.limit), (4, 3));
        // Another key is client text: never echoed.
        let body = json!({"prefetch": {"Zebediah Quackenbush": bundle(2)}});
        let err = check_body(&body, 1).unwrap_err();
        assert_eq!(err.pointer, "/prefetch");
        assert!(!err.key.contains("Zebediah"));
        let body = json!({"context": {"draftOrders": bundle(2)}});
        let err = check_body(&body, 1).unwrap_err();
        assert_eq!(err.key, "draftOrders");
        assert_eq!(err.pointer, "/context/draftOrders/entry");
    }

    #[test]
    fn counts_as_sent_are_checked_and_only_contract_keys_named() {
        let counts = vec![("observations".to_owned(), 3), ("conditions".to_owned(), 0)];
        assert_eq!(check_counts(&counts, 3), Ok(()));
        let e = check_counts(&counts, 2).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.pointer.as_str()),
            ("observations", "/prefetch/observations/entry")
        );
        assert_eq!((e.count, e.limit), (3, 2));
        let e = check_counts(&[("Jane Doe MRN 12345".to_owned(), 9)], 2).unwrap_err();
        assert_eq!(e.key, "an extra prefetch key");
        assert!(!format!("{e:?}").contains("Jane"));
    }
}
