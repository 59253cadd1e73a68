//! The administrators' Users page (SPEC web panel step 6): members with kind, role, PIN state
//! and last PIN activity, each with its actions; the Provisioning section; the account's unlock
//! policy. Only members of the administrator's own account can be named; any other id is 404.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

use super::error::{Result, WebError};
use super::flash::Flash;
use super::session::Auth;
use super::urls::{self, IdUrl};
use super::Chrome;
use crate::domain::{
    Account, DisplayName, EmailAddress, Kind, ListedMember, PinState, Role, UnlockPolicy, User,
    Username,
};
use crate::http::time::format_time;
use crate::http::AppState;
use crate::service::members::Show;
use crate::service::{
    accounts, members, people, policy, provisioning, two_step, Actor, ServiceError,
};

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
    pub unlock_url: IdUrl,
    pub reset_url: IdUrl,
    /// Disable or enable, make administrator or user: each a confirmed POST.
    pub actions: Vec<MemberAction>,
}

/// A confirmed action on a member row: a link to its confirmation page, which JavaScript opens
/// in the page's one dialog instead, with the question of its kind.
pub struct MemberAction {
    pub label: &'static str,
    pub url: IdUrl,
    pub kind: Confirm,
    pub danger: bool,
}

/// The kinds of question the Users page's shared dialog asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    Unlock,
    Reset,
    AllowCodes,
    Enable,
    Disable,
    MakeUser,
    MakeAdmin,
    SsoOnly,
    PasswordAgain,
}

impl Confirm {
    const ALL: [Confirm; 9] = [
        Confirm::Unlock,
        Confirm::Reset,
        Confirm::AllowCodes,
        Confirm::Enable,
        Confirm::Disable,
        Confirm::MakeUser,
        Confirm::MakeAdmin,
        Confirm::SsoOnly,
        Confirm::PasswordAgain,
    ];

    /// How the page names it (`data-confirm`, `data-question`).
    pub fn as_str(self) -> &'static str {
        match self {
            Confirm::Unlock => "unlock",
            Confirm::Reset => "reset",
            Confirm::AllowCodes => "allow-codes",
            Confirm::Enable => "enable",
            Confirm::Disable => "disable",
            Confirm::MakeUser => "make-user",
            Confirm::MakeAdmin => "make-admin",
            Confirm::SsoOnly => "sso-only",
            Confirm::PasswordAgain => "password-again",
        }
    }

    /// The dialog's title and its button.
    fn title_and_button(self) -> (&'static str, &'static str) {
        match self {
            Confirm::Unlock => ("Unlock Support PIN", "Unlock"),
            Confirm::Reset => ("Reset Support PIN", "Reset PIN"),
            Confirm::AllowCodes => ("Allow app codes again", "Allow app codes again"),
            Confirm::Enable => ("Enable", "Enable"),
            Confirm::Disable => ("Disable", "Disable"),
            Confirm::MakeUser => ("Make user", "Make user"),
            Confirm::MakeAdmin => ("Make administrator", "Make administrator"),
            Confirm::SsoOnly => ("Single sign-on only", "Single sign-on only"),
            Confirm::PasswordAgain => ("Allow the password again", "Allow the password again"),
        }
    }

    fn danger(self) -> bool {
        matches!(self, Confirm::Reset | Confirm::Disable)
    }

    /// The question, about `who`.
    fn question(self, who: &str, sso: Option<&str>) -> String {
        let codes = two_step::MAX_SECOND_STEP_FAILURES;
        let name = sso.unwrap_or("single sign-on");
        match self {
            Confirm::Unlock => {
                format!("Unlock the Support PIN of {who}? The PIN itself does not change.")
            }
            Confirm::Reset => format!(
                "Give {who} a new, generated Support PIN? Their current PIN stops working at \
                 once; they will see the new one on their profile page. You will not see it."
            ),
            Confirm::AllowCodes => format!(
                "Allow codes from the authenticator app of {who} again? They were refused after \
                 {codes} wrong ones in a row: make sure it is {who} who asks."
            ),
            Confirm::Enable => format!("Enable {who}? They can log in again with their password."),
            Confirm::Disable => format!(
                "Disable {who}? Their sessions and API tokens end at once, they cannot log in, \
                 and Support cannot verify them."
            ),
            Confirm::MakeUser => format!(
                "Make {who} a user? They can no longer manage this account's members; their \
                 sessions end."
            ),
            Confirm::MakeAdmin => format!(
                "Make {who} an administrator? They can then manage this account's members, \
                 unlock and reset their Support PINs; their sessions end."
            ),
            Confirm::SsoOnly => format!(
                "Let {who} sign in only with {name}? Their password stops working, their \
                 sessions end, and they are told by mail. Make sure they have linked their \
                 {name} account."
            ),
            Confirm::PasswordAgain => format!(
                "Let {who} log in with their password again? Their sessions end, and they are \
                 told by mail."
            ),
        }
    }
}

/// What the shared dialog asks for one kind of action; `text` says `{who}` where the member's
/// name goes (the page's script fills it in from the link).
pub struct Question {
    pub kind: &'static str,
    pub title: &'static str,
    pub button: &'static str,
    pub text: String,
    pub danger: bool,
}

/// Every question the page's dialog may ask, once per page.
fn questions(sso: Option<&str>) -> Vec<Question> {
    Confirm::ALL
        .into_iter()
        .map(|c| {
            let (title, button) = c.title_and_button();
            Question {
                kind: c.as_str(),
                title,
                button,
                text: c.question("{who}", sso),
                danger: c.danger(),
            }
        })
        .collect()
}

/// The add-member form as it was sent (to show it again with what was wrong).
#[derive(Deserialize)]
pub struct AddForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
    #[serde(default = "default_kind")]
    pub kind: Kind,
    #[serde(default = "default_role")]
    pub role: Role,
}

fn default_kind() -> Kind {
    Kind::User
}

fn default_role() -> Role {
    Role::User
}

impl Default for AddForm {
    fn default() -> Self {
        AddForm {
            username: String::new(),
            name: String::new(),
            email: String::new(),
            kind: default_kind(),
            role: default_role(),
        }
    }
}

impl AddForm {
    fn is_contact(&self) -> bool {
        self.kind == Kind::Contact
    }
    fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// What the Users page says above the list.
#[derive(Default)]
pub struct Notice {
    pub flash: Option<Flash>,
    /// An invitation link to pass on by hand (mail is not configured), shown once.
    pub invitation: Option<(String, String)>,
    /// The add-member form, with the reason it was refused.
    pub add: AddForm,
    pub add_error: Option<String>,
    /// A provisioning token just made: (its name, the token), shown once.
    pub new_token: Option<(String, String)>,
    /// The token form, with the reason it was refused.
    pub token_error: Option<String>,
    /// Which members to list (the search, the filter, the page).
    pub listing: ListQuery,
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

#[derive(Template, WebTemplate)]
#[template(path = "users/page.html")]
pub struct UsersPage {
    chrome: Chrome,
    account_name: String,
    account_number: String,
    policy: UnlockPolicy,
    members: Vec<MemberRow>,
    list: ListView,
    /// What the shared confirmation dialog may ask.
    questions: Vec<Question>,
    flash: Option<Flash>,
    invitation: Option<(String, String)>,
    add: AddForm,
    add_error: Option<String>,
    mail_sends: bool,
    provisioning: Section,
}

/// A token as the section lists it.
pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub created: String,
    pub created_by: String,
    pub last_used: String,
    pub revoke_url: String,
}

/// What the section shows.
pub struct Section {
    pub scim_url: String,
    pub tokens: Vec<TokenRow>,
    pub new_token: Option<(String, String)>,
    pub error: Option<String>,
    /// Single sign-on is set up, so the account may make its members sign in only that way.
    pub sso_name: Option<String>,
    pub sso_only: bool,
    /// A new token needs the password again (the last entry is not recent).
    pub needs_password: bool,
}

async fn provisioning_section(
    state: &AppState,
    auth: &Auth,
    account: &Account,
    new_token: Option<(String, String)>,
    error: Option<String>,
) -> Result<Section> {
    let tokens = provisioning::tokens(&state.ctx, &auth.user, account)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            revoke_url: urls::with_id(urls::USERS_TOKEN_REVOKE, t.id),
            id: t.id,
            name: t.name,
            created: format_time(t.created_at),
            created_by: t.created_by,
            last_used: t
                .last_used_at
                .map(format_time)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    let base = state.ctx.settings.link_base.as_str().trim_end_matches('/');
    Ok(Section {
        scim_url: format!("{base}{}", urls::SCIM),
        tokens,
        new_token,
        error,
        sso_name: state.ctx.sso.as_ref().map(|s| s.name.clone()),
        sso_only: account.sso_only,
        needs_password: auth.recent_password(&state.ctx).is_none(),
    })
}

/// What a confirmation page confirms, which decides its button's look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmAction {
    Unlock,
    /// A change that cannot simply be taken back (a reset, disabling).
    Danger,
    Confirm,
}

impl ConfirmAction {
    /// The CSS class of the confirming button.
    pub fn button_class(self) -> &'static str {
        match self {
            ConfirmAction::Danger => "button-danger",
            ConfirmAction::Unlock | ConfirmAction::Confirm => "button-primary",
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "users/confirm.html")]
pub struct ConfirmPage {
    pub chrome: Chrome,
    pub action: ConfirmAction,
    pub title: String,
    pub question: String,
    pub button: &'static str,
    pub url: String,
}

/// The administrator's account, or 403 for anyone else.
pub(super) fn admin_account(auth: &Auth) -> Result<Account> {
    let refused =
        || WebError::Forbidden("Only administrators of an account may manage its users.".into());
    let account = auth.account.as_ref().ok_or_else(refused)?;
    policy::may_administer(&auth.user, account.id).map_err(|_| refused())?;
    Ok(account.clone())
}

/// The confirmed actions on a member; `sso` is the provider's name when the panel has single
/// sign-on.
fn actions_of(m: &ListedMember, me: i64, sso: Option<&str>) -> Vec<MemberAction> {
    if m.id == me {
        return Vec::new();
    }
    let action = |label, route, kind: Confirm| MemberAction {
        label,
        url: IdUrl::new(route, m.id),
        kind,
        danger: kind.danger(),
    };
    let mut actions = Vec::new();
    if m.second_step_failures >= two_step::MAX_SECOND_STEP_FAILURES {
        let label = "Allow app codes again";
        actions.push(action(label, urls::USER_ALLOW_CODES, Confirm::AllowCodes));
    }
    actions.push(match m.disabled {
        true => action("Enable", urls::USER_ENABLE, Confirm::Enable),
        false => action("Disable", urls::USER_DISABLE, Confirm::Disable),
    });
    actions.push(match m.role == Role::Admin {
        true => action("Make user", urls::USER_MAKE_USER, Confirm::MakeUser),
        false => action(
            "Make administrator",
            urls::USER_MAKE_ADMIN,
            Confirm::MakeAdmin,
        ),
    });
    match sso {
        Some(_) if m.role != Role::Agent && !m.sso_only => {
            let label = "Single sign-on only";
            actions.push(action(label, urls::USER_SSO_ONLY, Confirm::SsoOnly));
        }
        _ if m.sso_only => {
            let label = "Allow the password again";
            actions.push(action(
                label,
                urls::USER_PASSWORD_AGAIN,
                Confirm::PasswordAgain,
            ));
        }
        _ => {}
    }
    actions
}

pub(super) async fn page(
    state: &AppState,
    auth: &Auth,
    account: Account,
    notice: Notice,
) -> Result<UsersPage> {
    let sso_name = state.ctx.sso.as_ref().map(|s| s.name.as_str());
    let lq = &notice.listing;
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
    let members = found
        .into_iter()
        .map(|m| MemberRow {
            id: m.id,
            unlock_url: IdUrl::new(urls::USER_UNLOCK, m.id),
            reset_url: IdUrl::new(urls::USER_RESET, m.id),
            is_me: m.id == auth.user.id,
            actions: actions_of(&m, auth.user.id, sso_name),
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
    Ok(UsersPage {
        chrome: Chrome::of(auth),
        members,
        list,
        questions: questions(sso_name),
        flash: notice.flash,
        invitation: notice.invitation,
        provisioning: provisioning_section(
            state,
            auth,
            &account,
            notice.new_token,
            notice.token_error,
        )
        .await?,
        account_name: account.name,
        account_number: account.number,
        policy: account.unlock_policy,
        add: notice.add,
        add_error: notice.add_error,
        mail_sends: state.ctx.settings.mail_sends,
    })
}

/// [`page`] with only a message.
pub(super) async fn page_with(
    state: &AppState,
    auth: &Auth,
    account: Account,
    flash: Option<Flash>,
) -> Result<UsersPage> {
    page(
        state,
        auth,
        account,
        Notice {
            flash,
            ..Notice::default()
        },
    )
    .await
}

pub async fn users_get(
    State(state): State<AppState>,
    auth: Auth,
    Query(listing): Query<ListQuery>,
) -> Result<Response> {
    let account = admin_account(&auth)?;
    let notice = Notice {
        listing,
        ..Notice::default()
    };
    let page = page(&state, &auth, account, notice).await?;
    let status = if page.list.problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, page).into_response())
}

#[derive(Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    unlock_policy: String,
}

pub async fn policy_post(
    State(state): State<AppState>,
    auth: Auth,
    Form(form): Form<PolicyForm>,
) -> Result<Response> {
    let mut account = admin_account(&auth)?;
    let Ok(policy) = form.unlock_policy.parse::<UnlockPolicy>() else {
        let flash = Some(Flash::problem("Choose who may unlock PINs."));
        let p = page_with(&state, &auth, account, flash).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, p).into_response());
    };
    accounts::set_unlock_policy(&state.ctx, Actor::User(&auth.user), account.id, policy).await?;
    account.unlock_policy = policy;
    let message = match policy {
        UnlockPolicy::SelfService => "Members may now unlock their own Support PIN.",
        UnlockPolicy::Admins => "Only administrators may now unlock Support PINs.",
    };
    Ok(
        page_with(&state, &auth, account, Some(Flash::done(message)))
            .await?
            .into_response(),
    )
}

/// The member `id` if the administrator may name them (same account), else 404.
pub(super) async fn target(state: &AppState, auth: &Auth, id: i64) -> Result<User> {
    admin_account(auth)?;
    Ok(people::member(&state.ctx, &auth.user, id).await?)
}
