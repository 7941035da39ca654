//! A fake task registry for the task functions' unit tests.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use super::ProgressSink;

#[derive(Debug, Clone, PartialEq)]
pub struct ProgressCall(pub u32, pub u32, pub String, pub f64);

/// Records what a task reports; its cancel flag is the test's to set.
#[derive(Default)]
pub struct FakeSink {
    pub calls: Mutex<Vec<ProgressCall>>,
    pub details: Mutex<Vec<serde_json::Value>>,
    pub flag: Arc<AtomicBool>,
}

impl ProgressSink for FakeSink {
    fn update_progress(&self, current: u32, total: u32, phase: &str, percentage: f64) {
        let call = ProgressCall(current, total, phase.into(), percentage);
        self.calls.lock().unwrap().push(call);
    }

    fn update_detail(&self, detail: serde_json::Value) {
        self.details.lock().unwrap().push(detail);
    }

    fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.flag.clone()
    }
}
