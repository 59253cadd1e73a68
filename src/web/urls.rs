//! Every URL of the web panel, used by the router, redirects and templates alike.

pub const HOME: &str = "/";
pub const LOGIN: &str = "/login";
/// The login page saying that the session ended.
pub const LOGIN_EXPIRED: &str = "/login?expired=1";
pub const LOGOUT: &str = "/logout";
pub const HEALTHZ: &str = "/healthz";
pub const STATIC: &str = "/static";

pub const PROFILE: &str = "/profile";
/// The Support PIN section of the profile page (the fragment, or the page without JavaScript).
pub const SUPPORT_PIN: &str = "/profile/support-pin";
pub const SUPPORT_PIN_SHOW: &str = "/profile/support-pin/show";
pub const SUPPORT_PIN_EDIT: &str = "/profile/support-pin/edit";
pub const SUPPORT_PIN_UNLOCK: &str = "/profile/support-pin/unlock";
pub const REAUTH: &str = "/profile/reauth";

pub const USERS: &str = "/users";
pub const USERS_POLICY: &str = "/users/policy";
pub const USER_UNLOCK: &str = "/users/{id}/unlock";
pub const USER_RESET: &str = "/users/{id}/reset";

pub const AGENT: &str = "/agent";

/// `/users/7/unlock` and friends, for templates.
pub fn user_action(id: i64, action: &str) -> String {
    format!("{USERS}/{id}/{action}")
}
