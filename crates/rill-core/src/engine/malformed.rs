//! The reply to a malformed command that Redis answers only after looking up its key (and
//! group): a missing one wins over the syntax error, in the order the keys were named.

use crate::command::{Malformed, Missing};
use crate::reply::{errors, Reply};
use crate::store::Store;

use super::references::each_not_found;
use super::{nogroup, nogroup_for_key, nogroup_read, Exec};

impl<S: Store> Exec<'_, S> {
    pub(super) fn malformed(&mut self, m: &Malformed) -> Reply {
        for key in &m.keys {
            let key_exists = self.store.stream(key).is_some();
            let group_missing = match &m.group {
                Some(group) => !key_exists || self.store.group(key, group).is_none(),
                None => false,
            };
            let group = m.group.as_deref().unwrap_or_default();
            match m.missing {
                Missing::Zero if !key_exists || group_missing => return Reply::Int(0),
                Missing::NoGroup if !key_exists || group_missing => return nogroup(key, group),
                Missing::NoGroupRead if !key_exists || group_missing => {
                    return nogroup_read(key, group)
                }
                Missing::XGroup if !key_exists => return Reply::err(errors::XGROUP_NEEDS_KEY),
                Missing::XGroup if group_missing => return nogroup_for_key(key, group),
                Missing::EachNotFound(n) if !key_exists || group_missing => {
                    return each_not_found(n as usize)
                }
                Missing::NoSuchKey if !key_exists => return Reply::err("ERR no such key"),
                _ => {}
            }
        }
        Reply::Error(m.error.clone())
    }
}
