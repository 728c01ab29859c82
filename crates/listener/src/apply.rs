//! [`Control`] as the reload core's [`Apply`]: the core compiles, the control binds,
//! retires and publishes.

use std::sync::Arc;

use sluicegate_runtime::{Apply, ApplyError, Snapshot};

use crate::control::Control;
use crate::error::ServeError;

impl Apply for Control {
    fn current(&self) -> Arc<Snapshot> {
        Control::current(self)
    }

    async fn apply(&self, next: Snapshot) -> Result<(), ApplyError> {
        Control::apply(self, next).await.map_err(|e| match &e {
            ServeError::Bind { listener, .. } => ApplyError::Bind {
                listener: listener.clone(),
                message: e.to_string(),
            },
            ServeError::Stopped => ApplyError::Refused(e.to_string()),
        })
    }
}
