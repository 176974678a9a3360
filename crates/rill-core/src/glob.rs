//! Glob-style pattern matching as Redis's `stringmatchlen` does it, for KEYS and SCAN MATCH:
//! `*`, `?`, `[abc]`, `[^a-z]`, and `\` to escape.

/// Whether `text` matches `pattern`. Recursion depth is bounded by the number of `*` in the
/// pattern, which the caller bounds through the request size.
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    match_from(pattern, text, 0)
}

const NESTING_MAX: usize = 1000;

fn match_from(mut p: &[u8], mut t: &[u8], depth: usize) -> bool {
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
                for start in 0..=t.len() {
                    if match_from(&p[1..], &t[start..], depth + 1) {
                        return true;
                    }
                }
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
    }
}
