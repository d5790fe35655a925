//! "Did you mean …?" the way ESPHome picks suggestions: Python's `difflib.get_close_matches`
//! (ratio of matching characters, cutoff 0.6, best three), so we suggest what ESPHome suggests.

/// Up to three candidates whose similarity to `word` is at least 0.6, best first.
pub fn close_matches<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let word: Vec<char> = word.chars().collect();
    let mut scored: Vec<(f64, &str)> = candidates
        .into_iter()
        .map(|c| (ratio(&word, &c.chars().collect::<Vec<_>>()), c))
        .filter(|(r, _)| *r >= 0.6)
        .collect();
    // difflib sorts by (score, string) descending.
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| b.1.cmp(a.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// `difflib.SequenceMatcher(None, a, b).ratio()`: 2·M / (|a| + |b|), where M counts the
/// characters in the recursively found longest matching blocks.
fn ratio(a: &[char], b: &[char]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    2.0 * matching_chars(a, b) as f64 / (a.len() + b.len()) as f64
}

fn matching_chars(a: &[char], b: &[char]) -> usize {
    let (i, j, size) = longest_match(a, b);
    if size == 0 {
        return 0;
    }
    size + matching_chars(&a[..i], &b[..j]) + matching_chars(&a[i + size..], &b[j + size..])
}

/// The longest common block, earliest in `a` (then in `b`) on ties, as difflib finds it.
fn longest_match(a: &[char], b: &[char]) -> (usize, usize, usize) {
    let mut best = (0, 0, 0);
    // lengths[j + 1] = length of the match ending at a[i], b[j].
    let mut lengths = vec![0usize; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        let mut next = vec![0usize; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            if ca == cb {
                let k = lengths[j] + 1;
                next[j + 1] = k;
                if k > best.2 {
                    best = (i + 1 - k, j + 1 - k, k);
                }
            }
        }
        lengths = next;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_match_difflib() {
        let r = |a: &str, b: &str| ratio(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>());
        // Values from Python: difflib.SequenceMatcher(None, a, b).ratio()
        assert!((r("pasword", "password") - 0.9333333333333333).abs() < 1e-12);
        assert!((r("abcd", "bcde") - 0.75).abs() < 1e-12);
        assert_eq!(r("abc", "xyz"), 0.0);
    }

    #[test]
    fn suggests_close_keys_only() {
        assert_eq!(close_matches("pasword", ["password", "port", "id"]), vec!["password"]);
        assert_eq!(close_matches("wfi", ["wifi", "web_server", "logger"]), vec!["wifi"]);
        assert!(close_matches("zzz", ["wifi", "ota"]).is_empty());
    }
}
