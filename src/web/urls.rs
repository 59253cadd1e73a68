//! Every URL of the web panel, used by the router, redirects and templates alike (templates name
//! them as `urls::PROFILE` or call `urls::with_id(…)`; none writes a path by hand).

pub const HOME: &str = "/";
pub const LOGIN: &str = "/login";
/// The login page saying that the session ended.
pub const LOGIN_EXPIRED: &str = "/login?expired=1";
pub const LOGOUT: &str = "/logout";
pub const HEALTHZ: &str = "/healthz";

/// Where the static files are mounted, and the ones every page loads.
pub const STATIC: &str = "/static";
pub const APP_CSS: &str = "/static/app.css";
pub const APP_JS: &str = "/static/app.js";
pub const HTMX_JS: &str = "/static/htmx-2.0.11.min.js";
pub const FAVICON: &str = "/static/favicon.svg";

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
pub const USER_UNLOCK: &str = "/users/{id}/unlock";
pub const USER_RESET: &str = "/users/{id}/reset";

pub const AGENT: &str = "/agent";

/// A route with an `{id}` segment, filled in: `with_id(USER_UNLOCK, 7)` is `/users/7/unlock`.
pub fn with_id(route: &str, id: i64) -> String {
    route.replace("{id}", &id.to_string())
}
