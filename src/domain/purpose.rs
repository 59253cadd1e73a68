//! What a one-time link or a sign-in at the identity provider is for, as their rows store it.

text_enum!(
    /// What a one-time link opens.
    LinkPurpose {
        /// An invited member chooses their first password.
        Invitation => "invitation",
        /// A forgotten password is replaced.
        Password => "password",
        /// The first start's set-up of the first account.
        Setup => "setup",
    }
);

text_enum!(
    /// What a sign-in at the identity provider is for.
    SignInPurpose {
        /// Logging in.
        Login => "login",
        /// A logged-in person links an identity.
        Link => "link",
        /// A logged-in person confirms who they are.
        Reauth => "reauth",
    }
);
