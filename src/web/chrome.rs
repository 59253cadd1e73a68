//! The header every page shows (SPEC step 2): the account, the Support menu, the person, and
//! the CSRF token the page's forms carry.

use super::session::Auth;

/// The header every page shows (SPEC step 2): the account, the Support menu, the person.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub username: String,
    pub full_name: String,
    pub account_name: Option<String>,
    pub is_admin: bool,
    pub is_agent: bool,
    pub csrf: String,
    /// Two-step login must be set up before anything else: the menus stay hidden.
    pub setting_up: bool,
}

impl Chrome {
    pub fn of(auth: &Auth) -> Chrome {
        Chrome {
            username: auth.user.username.clone(),
            full_name: auth.user.full_name.clone(),
            account_name: auth.account.as_ref().map(|a| a.name.clone()),
            is_admin: auth.user.is_admin(),
            is_agent: auth.user.is_agent(),
            csrf: auth.csrf.clone(),
            setting_up: auth.setting_up,
        }
    }
}
