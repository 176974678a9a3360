//! Glob-style pattern matching as Redis's `stringmatchlen` does it, for KEYS and SCAN MATCH:
//! `*`, `?`, `[abc]`, `[^a-z]`, and `\` to escape.

/// Whether `text` matches `pattern`. Recursion depth is bounded by the number of `*` in the
/// pattern (and by [`NESTING_MAX`]), and the work by about pattern length times text length:
/// see `exhausted`.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    match_from(pattern, text, 0, &mut false)
}

const NESTING_MAX: usize = 1000;

/// `exhausted` is Redis's `skipLongerMatches` (7.0.9, CVE-2022-36021): a `*` that tried every
/// suffix of the text without a match sets it, and every `*` around it then stops trying
/// longer matches, which would fail too (the inner `*` has already tried every suffix they
/// could leave it). Without it, `*a*a*a*a*a*a*a*a*a*a*b` over 1 KiB of `a` tries about
/// 10^23 ways.
fn match_from(mut p: &[u8], mut t: &[u8], depth: usize, exhausted: &mut bool) -> bool {
    if depth > NESTING_MAX {
        return false;
    }
    while let Some(&c) = p.first() {
        match c {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                // As Redis: the rest of the pattern starts with something other than `*`, so
                // it needs at least one byte.
                for start in 0..t.len() {
                    if match_from(&p[1..], &t[start..], depth + 1, exhausted) {
                        return true;
                    }
                    if *exhausted {
                        return false;
                    }
                }
                *exhausted = true;
                return false;
            }
            b'?' => {
                if t.is_empty() {
                    return false;
                }
                t = &t[1..];
            }
            b'[' => {
                let Some((&ch, rest_t)) = t.split_first() else {
                    return false;
                };
                let (matched, rest_p) = match_class(&p[1..], ch);
                if !matched {
                    return false;
                }
                t = rest_t;
                p = rest_p;
                continue;
            }
            b'\\' if p.len() >= 2 => {
                if t.first() != Some(&p[1]) {
                    return false;
                }
                p = &p[1..];
                t = &t[1..];
            }
            _ => {
                if t.first() != Some(&c) {
                    return false;
                }
                t = &t[1..];
            }
        }
        p = &p[1..];
    }
    t.is_empty()
}

/// Matches `ch` against a class body (after `[`); returns the verdict and the pattern after `]`.
fn match_class(mut p: &[u8], ch: u8) -> (bool, &[u8]) {
    let negate = p.first() == Some(&b'^');
    if negate {
        p = &p[1..];
    }
    let mut matched = false;
    loop {
        match p {
            [] => break,
            [b']', rest @ ..] => {
                p = rest;
                break;
            }
            [b'\\', c, rest @ ..] => {
                matched |= *c == ch;
                p = rest;
            }
            [lo, b'-', hi, rest @ ..] if *hi != b']' => {
                let (lo, hi) = if lo <= hi { (*lo, *hi) } else { (*hi, *lo) };
                matched |= (lo..=hi).contains(&ch);
                p = rest;
            }
            [c, rest @ ..] => {
                matched |= *c == ch;
                p = rest;
            }
        }
    }
    (matched != negate, p)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn glob() {
        assert!(matches(b"*", b""));
        assert!(matches(b"s*", b"sensor"));
        assert!(!matches(b"s*", b"xs"));
        assert!(matches(b"h?llo", b"hallo"));
        assert!(matches(b"h[ae]llo", b"hello"));
        assert!(!matches(b"h[^e]llo", b"hello"));
        assert!(matches(b"h[a-b]llo", b"hbllo"));
        assert!(matches(b"a\\*", b"a*"));
        assert!(!matches(b"a\\*", b"ab"));
        assert!(matches(b"*:*:x", b"app:event:x"));
        assert!(matches(b"a*b*c", b"aXbYbZc"));
        assert!(!matches(b"a*b*c", b"aXbYbZ"));
        assert!(matches(b"*a", b"a"));
        assert!(!matches(b"a*b", b"a"));
        assert!(matches(b"a*", b"a"));
    }

    #[test]
    fn a_pathological_pattern_is_answered_at_once() {
        let text = vec![b'a'; 1024];
        let started = std::time::Instant::now();
        assert!(!matches(b"*a*a*a*a*a*a*a*a*a*a*b", &text));
        let mut with_b = text.clone();
        with_b.push(b'b');
        assert!(matches(b"*a*a*a*a*a*a*a*a*a*a*b", &with_b));
        // Milliseconds in a debug build; without the cut, longer than the universe's age.
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }

    /// Against a plain backtracking matcher (no cut), on short inputs where it is fast.
    #[test]
    fn the_cut_changes_no_answer() {
        fn naive(p: &[u8], t: &[u8]) -> bool {
            match (p.first(), t.first()) {
                (None, _) => t.is_empty(),
                (Some(b'*'), _) => (0..=t.len()).any(|i| naive(&p[1..], &t[i..])),
                (Some(b'?'), Some(_)) => naive(&p[1..], &t[1..]),
                (Some(c), Some(d)) if c == d => naive(&p[1..], &t[1..]),
                _ => false,
            }
        }
        let alphabet = [b'a', b'b', b'*', b'?'];
        let mut patterns = vec![Vec::new()];
        for _ in 0..5 {
            let longer: Vec<Vec<u8>> = patterns
                .iter()
                .flat_map(|p| alphabet.iter().map(move |c| [p.as_slice(), &[*c]].concat()))
                .collect();
            patterns.extend(longer);
        }
        patterns.sort();
        patterns.dedup();
        let texts: Vec<Vec<u8>> = (0..64u32)
            .flat_map(|bits| {
                (0..=6).map(move |len| {
                    (0..len)
                        .map(|i| if bits >> i & 1 == 1 { b'b' } else { b'a' })
                        .collect()
                })
            })
            .collect();
        for p in &patterns {
            for t in &texts {
                assert_eq!(
                    matches(p, t),
                    naive(p, t),
                    "{:?} on {:?}",
                    String::from_utf8_lossy(p),
                    String::from_utf8_lossy(t)
                );
            }
        }
    }
}
