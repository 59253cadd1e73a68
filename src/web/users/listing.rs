//! The Users page's list of members: search, filter and pages in its query (so a page of
//! results is a link), and each row with its PIN state and the actions the service offers on
//! the member ([`policy::actions_on`]).

use serde::Deserialize;

use super::actions::Words;
use crate::domain::{Account, MemberAction, PinState};
use crate::http::time::format_time;
use crate::http::AppState;
use crate::service::members::{self, Show};
use crate::service::{policy, ServiceError};
use crate::web::error::Result;
use crate::web::session::Auth;
use crate::web::urls;

pub struct MemberRow {
    pub id: i64,
    pub full_name: String,
    pub username: String,
    pub kind: &'static str,
    pub role: &'static str,
    pub state: PinState,
    pub state_label: &'static str,
    pub last_activity: String,
    pub disabled: bool,
    /// Has no e-mail address, so gets no mail.
    pub no_email: bool,
    /// Signs in only with single sign-on.
    pub sso_only: bool,
    pub is_me: bool,
    /// What the administrator may do to them, each a link to its confirmation (a dialog with
    /// JavaScript).
    pub actions: Vec<RowAction>,
}

/// An action on a row: its link and how it looks.
pub struct RowAction {
    pub action: MemberAction,
    pub url: urls::ActionUrl,
    pub label: &'static str,
}

impl RowAction {
    /// The CSS class of the row's link: the one action a locked PIN needs stands out, a change
    /// that cannot simply be taken back looks dangerous.
    pub fn class(&self) -> &'static str {
        match self.action {
            MemberAction::Unlock => "button-primary",
            a if a.is_dangerous() => "button-danger",
            _ => "button-secondary",
        }
    }
}

/// The Users page's search, filter and page, in its query (so a page of results is a link).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub show: Option<String>,
    #[serde(default)]
    pub page: Option<String>,
}

/// The filters the list offers: (value in the query, label).
const SHOWS: [(&str, &str, Show); 4] = [
    ("", "Everyone", Show::Everyone),
    ("locked", "Locked PINs", Show::Locked),
    ("disabled", "Disabled members", Show::Disabled),
    ("admins", "Administrators", Show::Admins),
];

impl ListQuery {
    fn search(&self) -> Option<&str> {
        self.q.as_deref().map(str::trim).filter(|s| !s.is_empty())
    }

    fn show(&self) -> Show {
        let wanted = self.show.as_deref().unwrap_or("");
        SHOWS
            .iter()
            .find(|(value, _, _)| *value == wanted)
            .map_or(Show::Everyone, |s| s.2)
    }

    fn show_value(&self) -> &'static str {
        let show = self.show();
        SHOWS.iter().find(|s| s.2 == show).map_or("", |s| s.0)
    }

    /// The page asked for, from 1; `Err` with the text when it is not a number.
    fn page(&self) -> std::result::Result<i64, String> {
        match self
            .page
            .as_deref()
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            None => Ok(1),
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| p.chars().take(20).collect()),
        }
    }

    /// The link to page `page` of the same search and filter.
    fn link(&self, page: i64) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        if let Some(s) = self.search() {
            q.append_pair("q", s);
        }
        match self.show_value() {
            "" => {}
            v => {
                q.append_pair("show", v);
            }
        }
        if page > 1 {
            q.append_pair("page", &page.to_string());
        }
        match q.finish() {
            query if query.is_empty() => urls::USERS.to_owned(),
            query => format!("{}?{query}", urls::USERS),
        }
    }
}

/// What the list shows above and below its rows.
pub struct ListView {
    pub q: String,
    pub max_search: usize,
    /// (value, label, selected) of each filter.
    pub shows: Vec<(&'static str, &'static str, bool)>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
    pub previous: Option<String>,
    pub next: Option<String>,
    /// What is wrong with the search or the page, in words.
    pub problem: Option<String>,
    pub filtered: bool,
}

/// The list of `account`'s members that `q` asks for, with what it shows around the rows.
pub(super) async fn list(
    state: &AppState,
    auth: &Auth,
    account: &Account,
    lq: &ListQuery,
) -> Result<(ListView, Vec<MemberRow>)> {
    let sso = state.ctx.sso.is_some();
    let mut problem = None;
    let page = lq.page().unwrap_or_else(|p| {
        problem = Some(format!("'{p}' is not a page number."));
        1
    });
    let search = lq.search();
    let (found, total) =
        match members::listing(&state.ctx, &auth.user, account.id, search, lq.show(), page).await {
            Ok(found) => found,
            Err(ServiceError::Invalid(why)) => {
                problem = Some(why);
                (Vec::new(), 0)
            }
            Err(e) => return Err(e.into()),
        };
    let pages = ((total + members::USERS_PAGE - 1) / members::USERS_PAGE).max(1);
    if page > pages && problem.is_none() {
        problem = Some(format!(
            "There is no page {page}: the list has {pages} page{}.",
            if pages == 1 { "" } else { "s" }
        ));
    }
    let list = ListView {
        q: search
            .unwrap_or_default()
            .chars()
            .take(members::MAX_SEARCH + 20)
            .collect(),
        max_search: members::MAX_SEARCH,
        shows: SHOWS
            .iter()
            .map(|(value, label, show)| (*value, *label, *show == lq.show()))
            .collect(),
        total,
        page: page.min(pages),
        pages,
        previous: (page > 1 && page <= pages).then(|| lq.link(page - 1)),
        next: (page < pages).then(|| lq.link(page + 1)),
        problem,
        filtered: search.is_some() || lq.show() != Show::Everyone,
    };
    let rows = found
        .into_iter()
        .map(|m| MemberRow {
            actions: policy::actions_on(&auth.user, &m, sso)
                .into_iter()
                .map(|action| RowAction {
                    action,
                    url: urls::ActionUrl::new(m.id, action),
                    label: action.button(),
                })
                .collect(),
            id: m.id,
            is_me: m.id == auth.user.id,
            full_name: m.full_name,
            username: m.username,
            kind: m.kind.map_or("", |k| k.label()),
            role: m.role.label(),
            state: m.pin_state,
            state_label: m.pin_state.label(),
            last_activity: m.last_pin_activity.map(format_time).unwrap_or_default(),
            disabled: m.disabled,
            no_email: !m.has_email,
            sso_only: m.sso_only,
        })
        .collect();
    Ok((list, rows))
}
