//! Card summaries: action first, at most 140 characters (rule book §6; cds-hooks-notes §4).

/// The spec's limit ("<140-character"); the rule book says ≤ 140.
pub const MAX_SUMMARY_CHARS: usize = 140;

/// Cut `s` to at most 140 characters (Unicode scalar values), on a char boundary, ending in "…".
pub fn fit(s: &str) -> String {
    if s.chars().count() <= MAX_SUMMARY_CHARS {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(MAX_SUMMARY_CHARS - 1).collect();
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// `head (a, b, c)tail`, dropping items from the end as "+N more" until it fits in 140 characters.
/// Without items: `head` + `tail`.
pub fn with_items(head: &str, items: &[String], tail: &str) -> String {
    if items.is_empty() {
        return fit(&format!("{head}{tail}"));
    }
    for shown in (0..=items.len()).rev() {
        let hidden = items.len() - shown;
        let mut parts: Vec<String> = items[..shown].to_vec();
        if hidden > 0 {
            parts.push(format!("+{hidden} more"));
        }
        let s = format!("{head} ({}){tail}", parts.join(", "));
        if s.chars().count() <= MAX_SUMMARY_CHARS {
            return s;
        }
    }
    fit(&format!("{head}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_summaries_are_unchanged() {
        assert_eq!(fit("Calf DVT: anticoagulate"), "Calf DVT: anticoagulate");
        let exactly = "x".repeat(140);
        assert_eq!(fit(&exactly), exactly);
    }

    #[test]
    fn long_summaries_are_cut_on_a_char_boundary() {
        // Multi-byte characters straddling the limit must not panic or split.
        let long = "é≥".repeat(100);
        let out = fit(&long);
        assert_eq!(out.chars().count(), 140);
        assert!(out.ends_with('…'));
        let spaced = format!("{} tail", "a ".repeat(80));
        let out = fit(&spaced);
        assert!(out.chars().count() <= 140);
        assert!(out.ends_with("a…"), "{out}");
    }

    #[test]
    fn items_are_abbreviated_with_more() {
        let items: Vec<String> = (0..12).map(|i| format!("risk factor number {i}")).collect();
        let s = with_items("Calf DVT: anticoagulate 3 months", &items, "");
        assert!(s.chars().count() <= 140, "{s}");
        assert!(s.contains("more)"), "{s}");
        assert!(s.starts_with("Calf DVT: anticoagulate 3 months (risk factor number 0"));
        let s = with_items("Calf DVT: anticoagulate 3 months", &items[..2], "");
        assert_eq!(
            s,
            "Calf DVT: anticoagulate 3 months (risk factor number 0, risk factor number 1)"
        );
        assert_eq!(with_items("A", &[], ": b"), "A: b");
    }
}
