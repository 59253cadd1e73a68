//! The agents' Verify caller page (SPEC web panel step 7): account number + username + the PIN
//! the caller recites. Agents see the outcome and the PIN state, never a PIN; the PIN field is
//! never filled back in. An optional ticket or call reference goes with the verification; the
//! page lists the agent's own last verifications.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::error::{Result, WebError};
use super::session::Auth;
use super::{urls, Chrome};
use crate::domain::{
    AccountNumber, Event, Reference, Username, VerifyRefusal, MAX_PIN_FAILURES, RECITED_MAX_CHARS,
};
use crate::http::time::{format_time, iso_time};
use crate::http::AppState;
use crate::service::pins::{self, VerifyOutcome};
use crate::service::{activity, people, policy, ServiceError};

/// How an attempt came out, as the page marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    Verified,
    Failed,
    Locked,
    /// No such member, or no PIN.
    Missing,
    Disabled,
    /// The form was not filled in right.
    Invalid,
}

impl std::fmt::Display for OutcomeKind {
    /// The page's CSS and test hook.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OutcomeKind::Verified => "verified",
            OutcomeKind::Failed => "failed",
            OutcomeKind::Locked => "locked",
            OutcomeKind::Missing => "missing",
            OutcomeKind::Disabled => "disabled",
            OutcomeKind::Invalid => "invalid",
        })
    }
}

/// What the agent sees after an attempt.
pub struct Outcome {
    pub kind: OutcomeKind,
    pub headline: String,
    pub detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "agent/page.html")]
pub struct AgentPage {
    chrome: Chrome,
    account: String,
    username: String,
    reference: String,
    outcome: Option<Outcome>,
    recent: Vec<RecentRow>,
    reference_max: usize,
}

/// One of the agent's own verifications, as the page lists it.
pub struct RecentRow {
    pub when: String,
    pub iso: String,
    pub member: String,
    pub outcome: &'static str,
    pub correct: bool,
    pub reference: String,
}

/// The agent's own latest verifications.
async fn recent(state: &AppState, auth: &Auth) -> Result<Vec<RecentRow>> {
    Ok(activity::own_verifications(&state.ctx, &auth.user)
        .await?
        .into_iter()
        .map(|e| {
            let correct = e.event == Event::PinVerified;
            // A refusal's detail is its VerifyRefusal, written by the verification itself.
            let refused = e.detail.parse::<VerifyRefusal>().ok();
            RecentRow {
                when: format_time(e.at),
                iso: iso_time(e.at),
                member: e.subject_name.unwrap_or_default(),
                outcome: match (correct, refused) {
                    (true, _) => "Correct",
                    (false, Some(refusal)) => refusal.label(),
                    (false, None) => "Wrong",
                },
                correct,
                reference: e.reference.unwrap_or_default(),
            }
        })
        .collect())
}

fn agent_only(auth: &Auth) -> Result<()> {
    policy::may_verify(&auth.user)
        .map_err(|_| WebError::Forbidden("Only support agents may verify callers.".into()))
}

pub async fn agent_get(State(state): State<AppState>, auth: Auth) -> Result<AgentPage> {
    agent_only(&auth)?;
    Ok(AgentPage {
        chrome: Chrome::of(&auth),
        account: String::new(),
        username: String::new(),
        reference: String::new(),
        outcome: None,
        recent: recent(&state, &auth).await?,
        reference_max: Reference::MAX_CHARS,
    })
}

#[derive(Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    account: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    pin: String,
    /// A ticket or call reference, optional.
    #[serde(default)]
    reference: String,
}

fn invalid(msg: &str) -> Outcome {
    Outcome {
        kind: OutcomeKind::Invalid,
        headline: "Check the form".into(),
        detail: msg.into(),
    }
}

pub async fn agent_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<VerifyForm>,
) -> Result<Response> {
    agent_only(&auth)?;
    let (status, outcome) = match check(&state, &auth, &form).await? {
        Ok(o) => (StatusCode::OK, o),
        Err(o) => (StatusCode::UNPROCESSABLE_ENTITY, o),
    };
    let page = AgentPage {
        chrome: Chrome::of(&auth),
        account: form.account.trim().chars().take(12).collect(),
        username: form.username.trim().chars().take(64).collect(),
        reference: form
            .reference
            .trim()
            .chars()
            .take(Reference::MAX_CHARS)
            .collect(),
        outcome: Some(outcome),
        recent: recent(&state, &auth).await?,
        reference_max: Reference::MAX_CHARS,
    };
    Ok((status, page).into_response())
}

async fn check(
    state: &AppState,
    auth: &Auth,
    form: &VerifyForm,
) -> Result<Result<Outcome, Outcome>> {
    let Ok(number) = AccountNumber::parse(&form.account) else {
        return Ok(Err(invalid(
            "Enter the caller's account number (digits only).",
        )));
    };
    let Ok(username) = Username::parse(&form.username) else {
        return Ok(Err(invalid("Enter the caller's username.")));
    };
    let reference = match Reference::parse(&form.reference) {
        Ok(r) => r,
        Err(why) => return Ok(Err(invalid(&why))),
    };
    let member = people::member_by_username(&state.ctx, &auth.user, &number, &username).await?;
    let Some(member) = member else {
        return Ok(Ok(Outcome {
            kind: OutcomeKind::Missing,
            headline: "No such member".into(),
            detail: format!("Account {number} has no member with the username {username}."),
        }));
    };
    let who = format!("{} ({})", member.full_name, member.username);
    let outcome = match pins::verify(
        &state.ctx,
        &auth.user,
        &member,
        &form.pin,
        reference.as_ref(),
    )
    .await
    {
        Err(ServiceError::PinRequired) => {
            return Ok(Err(invalid("Enter the Support PIN the caller gives you.")))
        }
        other => other?,
    };
    let outcome = match outcome {
        VerifyOutcome::Verified => Outcome {
            kind: OutcomeKind::Verified,
            headline: "Verified".into(),
            detail: format!("The caller gave the right Support PIN for {who}."),
        },
        VerifyOutcome::Incorrect { attempts_left: 0 } => Outcome {
            kind: OutcomeKind::Locked,
            headline: "Not verified: Support PIN Locked".into(),
            detail: format!(
                "That was the {MAX_PIN_FAILURES}th wrong PIN in a row, so the Support PIN of {who} \
                 is now locked. It must be unlocked before it can be verified again."
            ),
        },
        VerifyOutcome::Incorrect { attempts_left } => Outcome {
            kind: OutcomeKind::Failed,
            headline: "Not verified".into(),
            detail: format!(
                "That is not the Support PIN of {who}. {attempts_left} attempt{} left before the \
                 PIN locks.",
                if attempts_left == 1 { "" } else { "s" }
            ),
        },
        VerifyOutcome::Locked => Outcome {
            kind: OutcomeKind::Locked,
            headline: "Support PIN Locked".into(),
            detail: format!(
                "The Support PIN of {who} is locked and cannot be verified until it is unlocked."
            ),
        },
        VerifyOutcome::Disabled => Outcome {
            kind: OutcomeKind::Disabled,
            headline: "Not verified: member disabled".into(),
            detail: format!(
                "{who} is disabled in their account, so they cannot be verified. Nothing was \
                 counted against their Support PIN."
            ),
        },
        VerifyOutcome::NoPin => Outcome {
            kind: OutcomeKind::Missing,
            headline: "No Support PIN".into(),
            detail: format!("{who} has no Support PIN yet."),
        },
    };
    Ok(Ok(outcome))
}
