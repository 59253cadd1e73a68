//! Who did something, as the records keep it: the kind of actor, in a column of its own, and
//! their name (a username, a provisioning token's name), so what a page says of them never
//! depends on reading a name back.

text_enum!(
    /// The kinds of actors the audit log and the address changes record.
    ActorKind {
        Member => "member",
        /// An operator at the command line.
        Operator => "operator",
        /// The panel itself (a generated PIN, a sign-in linked by its rules).
        Panel => "panel",
        /// An account's identity system, through its provisioning token.
        Provisioning => "provisioning",
    }
);

/// Who did something: their kind and, for a member or an identity system, their name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActorRef {
    pub kind: ActorKind,
    /// A member's username, a provisioning token's name; empty for an operator or the panel.
    pub name: String,
}

impl ActorRef {
    pub fn member(username: &str) -> ActorRef {
        ActorRef {
            kind: ActorKind::Member,
            name: username.to_owned(),
        }
    }

    pub fn operator() -> ActorRef {
        ActorRef {
            kind: ActorKind::Operator,
            name: String::new(),
        }
    }

    pub fn panel() -> ActorRef {
        ActorRef {
            kind: ActorKind::Panel,
            name: String::new(),
        }
    }

    pub fn provisioning(token_name: &str) -> ActorRef {
        ActorRef {
            kind: ActorKind::Provisioning,
            name: token_name.to_owned(),
        }
    }

    /// As the structured log and the CSV export name them: a username, `command line`,
    /// `pinpanel`, `provisioning: Okta`. Written only, never read back.
    pub fn label(&self) -> String {
        match self.kind {
            ActorKind::Member => self.name.clone(),
            ActorKind::Operator => "command line".to_owned(),
            ActorKind::Panel => "pinpanel".to_owned(),
            ActorKind::Provisioning => format!("provisioning: {}", self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_column() {
        for k in ActorKind::ALL {
            assert_eq!(k.as_str().parse::<ActorKind>().unwrap(), *k);
        }
    }

    #[test]
    fn labels_name_each_kind() {
        assert_eq!(ActorRef::member("ada").label(), "ada");
        assert_eq!(ActorRef::operator().label(), "command line");
        assert_eq!(ActorRef::panel().label(), "pinpanel");
        assert_eq!(ActorRef::provisioning("Okta").label(), "provisioning: Okta");
    }
}
