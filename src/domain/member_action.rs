//! What an administrator does to a member from the Users page, each named as its address says
//! it (`/users/7/make-admin`): the one catalogue the page's dialog, the pages without
//! JavaScript and the rules share.

text_enum!(
    /// An administrator's confirmed action on a member.
    MemberAction {
        Unlock => "unlock",
        /// A new generated PIN, which the administrator never sees.
        Reset => "reset",
        /// Codes from the member's authenticator app work again after too many wrong ones.
        AllowCodes => "allow-codes",
        Enable => "enable",
        Disable => "disable",
        MakeUser => "make-user",
        MakeAdmin => "make-admin",
        /// The member signs in only with single sign-on: their password stops working.
        SsoOnly => "sso-only",
        /// The member's password works again beside single sign-on.
        PasswordAgain => "password-again",
    }
);

impl MemberAction {
    /// A change that cannot simply be taken back: its button says so.
    pub fn is_dangerous(self) -> bool {
        matches!(self, MemberAction::Reset | MemberAction::Disable)
    }
}
