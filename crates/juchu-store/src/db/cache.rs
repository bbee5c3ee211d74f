//! A per-process cache keyed by the `masters_revision` setting.
//!
//! Every write to masters, rules or settings replaces that revision in its own
//! transaction ([`super::bump_masters_revision`]), so a reader that finds the
//! revision it cached under can use its copy; one that does not reloads. The
//! cache holds any value so that this floor names nothing above it: the
//! snapshot module decides what is cached.

use std::any::Any;
use std::sync::{Arc, Mutex};

/// A value and the revision it was loaded at.
type Entry = (String, Arc<dyn Any + Send + Sync>);

#[derive(Clone, Default)]
pub struct RevisionCache(Arc<Mutex<Option<Entry>>>);

impl RevisionCache {
    /// The value cached at `revision`, if that is what is cached.
    pub fn get<T: Any + Send + Sync>(&self, revision: &str) -> Option<Arc<T>> {
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        match cached {
            Some((rev, value)) if rev == revision => value.downcast::<T>().ok(),
            _ => None,
        }
    }

    pub fn put<T: Any + Send + Sync>(&self, revision: String, value: Arc<T>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((revision, value));
    }
}
