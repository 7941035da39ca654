//! Cooperative cancellation shared between the caller and the render's threads.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A cheap, clonable flag: the caller calls [`CancelToken::cancel`], the renderer polls it
/// (every frame and every 100 ms in the bus loop) and stops with `RenderError::Cancelled`.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// Shares an existing flag, e.g. a task manager's per-task cancel flag.
    pub fn from_flag(flag: Arc<AtomicBool>) -> Self {
        Self(flag)
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_and_shared_flags_see_the_cancel() {
        let flag = Arc::new(AtomicBool::new(false));
        let token = CancelToken::from_flag(flag.clone());
        let clone = token.clone();
        assert!(!clone.is_cancelled());
        token.cancel();
        assert!(clone.is_cancelled());
        assert!(flag.load(Ordering::SeqCst));
    }
}
