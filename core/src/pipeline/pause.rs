//! Pause: when the CRM account as a whole refuses work (a revoked token,
//! missing scopes, the daily request limit), every event would fail the same
//! way, so processing stops instead of dead-lettering them all.
//!
//! The event that met the failure goes back unharmed (`paused`, its attempt
//! not counted); workers stop claiming; `/readyz` ("crm") and the gauge
//! `switchboard_crm_paused{issue}` say why. A probe asks the CRM every
//! `worker.pause_probe` whether the account works again, and on success
//! processing resumes and the paused events are queued again.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::watch;

use crate::connector::AccountIssue;
use crate::server::ReadinessCheck;

/// Why processing is paused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paused {
    pub issue: AccountIssue,
    pub message: String,
    pub since: DateTime<Utc>,
}

impl Paused {
    fn issue_label(&self) -> &'static str {
        match self.issue {
            AccountIssue::BadToken => "bad_token",
            AccountIssue::MissingScopes => "missing_scopes",
            AccountIssue::DailyLimit => "daily_limit",
        }
    }
}

/// Shared by the workers, the probe and the readiness check.
#[derive(Debug, Clone)]
pub struct PauseState {
    state: Arc<watch::Sender<Option<Paused>>>,
}

impl Default for PauseState {
    fn default() -> Self {
        PauseState {
            state: Arc::new(watch::Sender::new(None)),
        }
    }
}

impl PauseState {
    /// Pauses processing; a pause already in force keeps its first reason.
    pub fn pause(&self, issue: AccountIssue, message: &str) {
        let paused = Paused {
            issue,
            message: message.to_string(),
            since: Utc::now(),
        };
        let newly = self.state.send_if_modified(|state| match state {
            Some(_) => false,
            None => {
                *state = Some(paused.clone());
                true
            }
        });
        if newly {
            metrics::gauge!("switchboard_crm_paused", "issue" => paused.issue_label()).set(1.0);
            tracing::error!(issue = %issue, error = message, "CRM account refuses all work: processing paused until it works again");
        }
    }

    /// Resumes processing.
    pub fn resume(&self) {
        let previous = self.state.send_replace(None);
        if let Some(paused) = previous {
            metrics::gauge!("switchboard_crm_paused", "issue" => paused.issue_label()).set(0.0);
            tracing::info!(issue = %paused.issue, paused_since = %paused.since, "CRM account works again: processing resumed");
        }
    }

    pub fn current(&self) -> Option<Paused> {
        self.state.borrow().clone()
    }

    pub fn is_paused(&self) -> bool {
        self.state.borrow().is_some()
    }

    /// Observes pauses and resumptions.
    pub fn subscribe(&self) -> watch::Receiver<Option<Paused>> {
        self.state.subscribe()
    }
}

/// `/readyz` check "crm": fails with the reason while processing is paused.
#[async_trait]
impl ReadinessCheck for PauseState {
    async fn check(&self) -> Result<(), String> {
        match self.current() {
            None => Ok(()),
            Some(paused) => Err(format!(
                "processing is paused since {}: {} ({})",
                paused
                    .since
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                paused.issue,
                paused.message
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pause_keeps_its_first_reason_until_resumed() {
        let pause = PauseState::default();
        assert!(pause.check().await.is_ok());
        pause.pause(AccountIssue::BadToken, "401 from the CRM");
        pause.pause(AccountIssue::DailyLimit, "later");
        let why = pause.check().await.expect_err("paused");
        assert!(why.contains("invalid or revoked"), "{why}");
        assert!(why.contains("401 from the CRM"), "{why}");
        assert_eq!(
            pause.current().map(|p| p.issue),
            Some(AccountIssue::BadToken)
        );
        pause.resume();
        assert!(!pause.is_paused());
        assert!(pause.check().await.is_ok());
    }
}
