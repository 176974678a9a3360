//! Raft's own promises about what a node stores: a vote and a log entry, once stored, outlive
//! a crash (power loss included), and a log's terms never fall along its indexes. A node
//! that forgets its vote can vote twice in one term; one that keeps a deposed leader's
//! entries after a newer leader's can bring them back.

use rill_raft::StoredRaft;

/// What node `node` stored before a crash (`before`) is what it finds when it boots
/// (`after`): the same vote and purge point, and the same log but for a tail it had written
/// and not yet reported stored (its group commit had not fsynced it). Every entry up to
/// `reported`, the highest index it told openraft was stored, must be there.
pub fn a_crash_keeps_the_vote_and_the_log(
    node: u64,
    before: &StoredRaft,
    reported: u64,
    after: &StoredRaft,
) -> Vec<String> {
    let mut out = Vec::new();
    if before.vote != after.vote {
        out.push(format!(
            "n{node} stored the vote {:?} before its crash and booted with {:?}",
            before.vote, after.vote
        ));
    }
    if before.purged != after.purged {
        out.push(format!(
            "n{node} had purged its log to {:?} before its crash and booted with {:?}",
            before.purged, after.purged
        ));
    }
    let kept_a_prefix = before.log.starts_with(&after.log);
    let reported_lost = before
        .log
        .iter()
        .filter(|(_, index)| *index <= reported)
        .count()
        > after.log.len();
    if !kept_a_prefix || reported_lost {
        let lost = before
            .log
            .iter()
            .filter(|id| !after.log.contains(id))
            .count();
        let gained = after
            .log
            .iter()
            .filter(|id| !before.log.contains(id))
            .count();
        out.push(format!(
            "n{node} booted with another log than it stored before its crash: {lost} entries lost, {gained} not there before (last before {:?}, after {:?}, reported stored up to {reported})",
            before.log.last(),
            after.log.last()
        ));
    }
    out
}

/// The log's indexes are consecutive from the purge point, its terms never fall, and none is
/// above the vote's term.
pub fn log_terms_never_fall(node: u64, state: &StoredRaft) -> Option<String> {
    let log = &state.log;
    if let (Some((_, purged)), Some((_, first))) = (state.purged, log.first()) {
        if *first != purged + 1 {
            return Some(format!(
                "n{node}'s log starts at {first}, after a purge up to {purged}"
            ));
        }
    }
    for pair in log.windows(2) {
        let ((term_a, index_a), (term_b, index_b)) = (pair[0], pair[1]);
        if index_b != index_a + 1 {
            return Some(format!("n{node}'s log skips from {index_a} to {index_b}"));
        }
        if term_b < term_a {
            return Some(format!(
                "n{node}'s log falls from term {term_a} at {index_a} to term {term_b} at {index_b}: a stale suffix"
            ));
        }
    }
    let vote_term = state.vote.map_or(0, |(term, _, _)| term);
    match log.last() {
        Some((term, index)) if *term > vote_term => Some(format!(
            "n{node}'s log holds term {term} at {index}, above its vote's term {vote_term}"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(vote: (u64, u64), log: &[(u64, u64)]) -> StoredRaft {
        StoredRaft {
            vote: Some((vote.0, vote.1, true)),
            purged: None,
            log: log.to_vec(),
        }
    }

    #[test]
    fn a_vote_or_entry_lost_in_a_crash_is_caught() {
        let before = state((3, 2), &[(1, 1), (3, 2)]);
        let check = |after: &StoredRaft| a_crash_keeps_the_vote_and_the_log(1, &before, 2, after);
        assert!(check(&before.clone()).is_empty());
        assert_eq!(check(&state((2, 2), &[(1, 1), (3, 2)])).len(), 1);
        assert_eq!(check(&state((3, 2), &[(1, 1)])).len(), 1);
        // An entry that was not there before.
        assert_eq!(check(&state((3, 2), &[(1, 1), (3, 2), (3, 3)])).len(), 1);
    }

    /// A power loss may take the log's tail past what was reported stored, and nothing else.
    #[test]
    fn only_an_unreported_tail_may_be_lost() {
        let before = state((3, 2), &[(1, 1), (3, 2), (3, 3), (3, 4)]);
        let check = |reported, after: &[(u64, u64)]| {
            a_crash_keeps_the_vote_and_the_log(1, &before, reported, &state((3, 2), after)).len()
        };
        assert_eq!(check(2, &[(1, 1), (3, 2)]), 0);
        assert_eq!(check(2, &[(1, 1), (3, 2), (3, 3)]), 0);
        assert_eq!(check(3, &[(1, 1), (3, 2)]), 1);
        // Not a prefix: the middle lost, the tail kept.
        assert_eq!(check(2, &[(1, 1), (3, 2), (3, 4)]), 1);
        assert_eq!(check(0, &[(1, 1), (3, 3)]), 1);
    }

    #[test]
    fn a_stale_suffix_is_caught() {
        assert_eq!(
            log_terms_never_fall(1, &state((3, 1), &[(1, 1), (3, 2), (3, 3)])),
            None
        );
        // Term 3's entry at 2, then term 2's left behind at 3.
        assert!(log_terms_never_fall(1, &state((3, 1), &[(1, 1), (3, 2), (2, 3)])).is_some());
        assert!(log_terms_never_fall(1, &state((3, 1), &[(1, 1), (1, 3)])).is_some());
        assert!(log_terms_never_fall(1, &state((2, 1), &[(1, 1), (3, 2)])).is_some());
    }
}
