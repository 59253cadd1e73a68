//! Every URL of the web panel, used by the router, redirects and templates alike (templates name
//! them as `urls::PROFILE` or call `urls::with_id(…)`; none writes a path by hand).

use crate::domain::MemberAction;
use crate::http::assets::{self, Asset};
pub const HOME: &str = "/";
pub const LOGIN: &str = "/login";
/// The login page saying that the session ended.
pub const LOGIN_EXPIRED: &str = "/login?expired=1";
/// The login page saying that a password was set.
pub const LOGIN_PASSWORD_SET: &str = "/login?password=set";
pub const LOGOUT: &str = "/logout";
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";

/// Where the static files are served, and the ones every page loads, under their fingerprinted
/// names (see `http::assets`).
pub const STATIC: &str = assets::PREFIX;
pub const STATIC_FILE: &str = "/static/{file}";
pub fn app_css() -> &'static str {
    assets::url(Asset::AppCss)
}
pub fn app_js() -> &'static str {
    assets::url(Asset::AppJs)
}
pub fn htmx_js() -> &'static str {
    assets::url(Asset::Htmx)
}
pub fn favicon() -> &'static str {
    assets::url(Asset::Favicon)
}

pub const PROFILE: &str = "/profile";
/// The Support PIN section on the profile page (the Support menu's entry).
pub const PROFILE_SUPPORT_PIN: &str = "/profile#support-pin";
/// The Support PIN section of the profile page (the fragment, or the page without JavaScript).
pub const SUPPORT_PIN: &str = "/profile/support-pin";
pub const SUPPORT_PIN_SHOW: &str = "/profile/support-pin/show";
pub const SUPPORT_PIN_EDIT: &str = "/profile/support-pin/edit";
pub const SUPPORT_PIN_UNLOCK: &str = "/profile/support-pin/unlock";
pub const REAUTH: &str = "/profile/reauth";

pub const USERS: &str = "/users";
pub const USERS_POLICY: &str = "/users/policy";
/// An administrator's action on a member (`domain::MemberAction`): GET asks, POST takes it.
pub const MEMBER_ACTION: &str = "/users/{id}/{action}";
pub const USERS_ADD: &str = "/users/add";
/// Provisioning: a new token for the account's identity system, revoking one, and whether the
/// members it creates sign in only through single sign-on.
pub const USERS_TOKENS: &str = "/users/provisioning/tokens";
pub const USERS_TOKEN_REVOKE: &str = "/users/provisioning/tokens/{id}/revoke";
pub const USERS_SIGN_IN: &str = "/users/provisioning/sign-in";
/// Importing members from a file: the upload and its preview, starting it, its progress.
pub const USERS_IMPORT: &str = "/users/import";
pub const USERS_IMPORT_START: &str = "/users/import/{id}/start";
pub const USERS_IMPORT_STATUS: &str = "/users/import/{id}";
/// Where the SCIM service is (for the Users page to say).
pub const SCIM: &str = "/scim/v2";
/// The account's activity, and the same as CSV.
pub const ACTIVITY: &str = "/users/activity";
pub const ACTIVITY_CSV: &str = "/users/activity.csv";
/// The administrators' Overview (their page after login), and acknowledging its alarm.
pub const OVERVIEW: &str = "/overview";
pub const OVERVIEW_ACKNOWLEDGE: &str = "/overview/alarm/{id}/acknowledge";

/// A person's own password, address and sessions.
pub const PASSWORD: &str = "/profile/password";
pub const EMAIL: &str = "/profile/email";
pub const EMAIL_CANCEL: &str = "/profile/email/cancel";
pub const EMAIL_ANSWER: &str = "/profile/email/answer";
/// The address page saying that a change took effect.
pub const EMAIL_CHANGED: &str = "/profile/email?changed=1";
pub const SESSIONS: &str = "/profile/sessions";
pub const SESSION_END: &str = "/profile/sessions/{id}/end";
pub const SESSIONS_END_OTHERS: &str = "/profile/sessions/end-others";
pub const TOKEN_REVOKE: &str = "/profile/tokens/{id}/revoke";

/// One-time links and the pages of people who are not logged in.
pub const FORGOT_PASSWORD: &str = "/password/forgot";
pub const RESET_PASSWORD: &str = "/password/reset/{token}";
pub const INVITATION: &str = "/invitation/{token}";
pub const SETUP: &str = "/setup/{token}";
/// A new address confirms a person's own change of address.
pub const EMAIL_CONFIRM_LINK: &str = "/email/confirm/{token}";
/// The current address answers an administrator's request to change it.
pub const EMAIL_ANSWER_LINK: &str = "/email/answer/{token}";

pub const AGENT: &str = "/agent";

/// Single sign-on: starting a sign-in at the provider, and where it sends people back.
pub const SSO_START: &str = "/login/oidc";
pub const SSO_CALLBACK: &str = "/login/oidc/callback";
/// A logged-in person links an identity, unlinks one, or confirms who they are with it.
pub const SSO_LINK: &str = "/profile/two-step/sso/link";
pub const SSO_UNLINK: &str = "/profile/two-step/sso/{id}/unlink";
pub const SSO_REAUTH: &str = "/profile/sso/reauth";
/// After logging out of a single sign-on session: the offer to sign out at the provider too.
pub const LOGGED_OUT: &str = "/logged-out";

/// The second step of a login (code or passkey).
pub const SECOND_STEP: &str = "/login/second-step";
pub const SECOND_STEP_PASSKEY_OPTIONS: &str = "/login/second-step/passkey/options";
pub const SECOND_STEP_PASSKEY: &str = "/login/second-step/passkey";

/// Two-step login set-up (every person, agents too).
pub const TWO_STEP: &str = "/profile/two-step";
/// The two-step page saying that an identity was linked.
pub const TWO_STEP_LINKED: &str = "/profile/two-step?linked=1";
pub const TWO_STEP_CONFIRM_PASSWORD: &str = "/profile/two-step/password";
pub const TWO_STEP_APP: &str = "/profile/two-step/app";
pub const TWO_STEP_APP_CONFIRM: &str = "/profile/two-step/app/confirm";
pub const TWO_STEP_RECOVERY_CODES: &str = "/profile/two-step/recovery-codes";
pub const TWO_STEP_OFF: &str = "/profile/two-step/off";
pub const PASSKEY_OPTIONS: &str = "/profile/two-step/passkeys/options";
pub const PASSKEYS: &str = "/profile/two-step/passkeys";
pub const PASSKEY_NAME: &str = "/profile/two-step/passkeys/{id}/name";
pub const PASSKEY_REMOVE: &str = "/profile/two-step/passkeys/{id}/remove";
pub fn passkey_js() -> &'static str {
    assets::url(Asset::PasskeyJs)
}

/// A route with an `{id}` segment, filled in: `with_id(USERS_IMPORT_STATUS, 7)` is
/// `/users/import/7`.
pub fn with_id(route: &'static str, id: i64) -> String {
    IdUrl::new(route, id).to_string()
}

/// A route with its `{id}` filled in, as a template writes it: straight into the page (a page
/// of 50 members writes some 200 of these, and a `String` each was a measurable part of its
/// cost); [`with_id`] where a `String` is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdUrl {
    route: &'static str,
    id: i64,
}

impl IdUrl {
    pub fn new(route: &'static str, id: i64) -> Self {
        IdUrl { route, id }
    }
}

impl std::fmt::Display for IdUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A byte search, not a substring search: this runs some 200 times a page.
        match self.route.find('{') {
            Some(at) if self.route[at..].starts_with("{id}") => {
                let (before, after) = (&self.route[..at], &self.route[at + "{id}".len()..]);
                write!(f, "{before}{}{after}", self.id)
            }
            _ => f.write_str(self.route),
        }
    }
}

/// [`MEMBER_ACTION`] for member `id` and `action`, as a template writes it (straight into the
/// page, like [`IdUrl`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionUrl {
    id: i64,
    action: MemberAction,
}

impl ActionUrl {
    pub fn new(id: i64, action: MemberAction) -> Self {
        ActionUrl { id, action }
    }
}

impl std::fmt::Display for ActionUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (users, _) = MEMBER_ACTION.split_at(MEMBER_ACTION.find('{').unwrap_or(0));
        write!(f, "{users}{}/{}", self.id, self.action)
    }
}

/// [`ActionUrl`] as a `String`.
pub fn member_action(id: i64, action: MemberAction) -> String {
    ActionUrl::new(id, action).to_string()
}

/// A route with an `{id}` segment filled in with a handle (hex or base64url, nothing to escape).
pub fn with_key(route: &str, key: &str) -> String {
    route.replace("{id}", key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_fills_the_segment_of_its_route() {
        assert_eq!(with_id(USERS_IMPORT_STATUS, 7), "/users/import/7");
        assert_eq!(
            ActionUrl::new(7, MemberAction::MakeAdmin).to_string(),
            "/users/7/make-admin"
        );
        assert_eq!(member_action(7, MemberAction::Unlock), "/users/7/unlock");
        assert_eq!(
            IdUrl::new(PASSKEY_REMOVE, 4711).to_string(),
            "/profile/two-step/passkeys/4711/remove"
        );
        assert_eq!(with_id(USERS, 7), "/users");
    }
}
