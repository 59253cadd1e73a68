//! Who may do what to whom: SPEC's role table as pure functions, used before every use case.
//! A person outside the target's account gets `NotFound`, never `Forbidden`, so ids do not leak.
//! The rules that need a fact from the database (the re-auth window's time, the count of
//! administrators) take that fact as an argument, so each rule is still written here once.

use super::{Actor, Result, ServiceError};
use crate::domain::second_factor::MAX_SECOND_STEP_FAILURES;
use crate::domain::{ListedMember, MemberAction, PinState, Role, UnlockPolicy, User};

/// May `actor` know that `target` exists? Agents may look up any member; members may name
/// only people of their own account.
pub fn may_name(actor: &User, target: &User) -> Result<()> {
    let same_account = actor.account_id.is_some() && actor.account_id == target.account_id;
    if (actor.is_agent() && !target.is_agent()) || same_account {
        Ok(())
    } else {
        Err(ServiceError::NotFound)
    }
}

/// Reading a member's details and PIN state: the member, an administrator of the account, an
/// agent.
pub fn may_view(actor: &User, target: &User) -> Result<()> {
    may_name(actor, target)?;
    if actor.id == target.id || actor.is_admin() || actor.is_agent() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only administrators may view other members",
        ))
    }
}

/// Showing or changing a PIN: its owner only.
pub fn may_use_own_pin(actor: &User, target: &User) -> Result<()> {
    may_name(actor, target)?;
    if actor.id == target.id && !actor.is_agent() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only its owner may see or change a Support PIN",
        ))
    }
}

/// The roles whose members may unlock another member's PIN (of their own account).
pub fn roles_that_unlock_others() -> &'static [Role] {
    &[Role::Admin]
}

/// Unlocking: an administrator of the account; the owner when the account's policy is `self`.
/// Never an agent: an agent who could unlock could guess any PIN in verify-and-unlock loops
/// (six guesses, unlock, six more …).
pub fn may_unlock(actor: &User, target: &User, policy: UnlockPolicy) -> Result<()> {
    may_name(actor, target)?;
    let own = actor.id == target.id;
    if actor.is_agent() {
        return Err(ServiceError::Forbidden(
            "support agents verify PINs; they never unlock them",
        ));
    }
    if roles_that_unlock_others().contains(&actor.role)
        || (own && policy == UnlockPolicy::SelfService)
    {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "not permitted to unlock this Support PIN",
        ))
    }
}

/// Resetting (a new generated PIN nobody sees): an administrator of the account, never on
/// oneself, never an agent (a reset is an unlock too); the command line and the panel's own
/// steps (an import issuing missing PINs); never an identity system.
pub fn may_reset(actor: Actor<'_>, target: &User) -> Result<()> {
    match actor {
        Actor::User(actor) => {
            may_name(actor, target)?;
            if actor.id == target.id {
                return Err(ServiceError::Forbidden(
                    "nobody may reset their own Support PIN; change it instead",
                ));
            }
            if actor.is_admin() {
                Ok(())
            } else {
                Err(ServiceError::Forbidden(
                    "only administrators may reset a Support PIN",
                ))
            }
        }
        Actor::Provisioning { .. } => Err(ServiceError::Forbidden(
            "an identity system never resets a Support PIN",
        )),
        Actor::Cli | Actor::System => Ok(()),
    }
}

/// Verifying a caller's PIN: agents only.
pub fn may_verify(actor: &User) -> Result<()> {
    if actor.is_agent() {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only support agents may verify a Support PIN",
        ))
    }
}

/// Administering an account (its members, its unlock policy): its administrators, a
/// provisioning token of that account, the command line and the panel's own steps.
pub fn may_administer(actor: Actor<'_>, account_id: i64) -> Result<()> {
    let may = match actor {
        Actor::User(u) => u.is_admin() && u.account_id == Some(account_id),
        Actor::Provisioning {
            account_id: own, ..
        } => own == account_id,
        Actor::Cli | Actor::System => true,
    };
    if may {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only administrators of the account may do this",
        ))
    }
}

/// A provisioning token reaches its own account's members only: anyone else (another account's
/// member, an agent) does not exist for it (`NotFound`).
pub fn may_provision(token_account_id: i64, member: &User) -> Result<()> {
    if member.account_id == Some(token_account_id) && !member.is_agent() {
        Ok(())
    } else {
        Err(ServiceError::NotFound)
    }
}

/// What an administrator changes about a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    /// Disabling or enabling.
    Enabled,
    /// Making a user or an administrator.
    Role,
    /// How they sign in (single sign-on only, or a password too).
    SignIn,
}

/// Changing a member (disabling, enabling, their role, how they sign in): an administrator of
/// the account, never on themselves (`Conflict`: the page says why, as for the last
/// administrator); a provisioning token of the account, on its members ([`may_provision`]); the
/// command line and the panel's own steps.
pub fn may_change_member(actor: Actor<'_>, target: &User, change: MemberChange) -> Result<()> {
    match actor {
        Actor::User(u) => {
            may_administer(actor, target.account_id.ok_or(ServiceError::NotFound)?)?;
            if u.id == target.id {
                return Err(ServiceError::Conflict(
                    match change {
                        MemberChange::Enabled => "Nobody may disable or enable themselves.",
                        MemberChange::Role => "Nobody may change their own role.",
                        MemberChange::SignIn => "Nobody may change how they sign in themselves.",
                    }
                    .into(),
                ));
            }
            Ok(())
        }
        Actor::Provisioning { account_id, .. } => may_provision(account_id, target),
        Actor::Cli | Actor::System => Ok(()),
    }
}

/// The actions an administrator is offered on a member of their list, in the order the row
/// shows them: none on themselves; Unlock for a locked PIN, else Reset; app codes again once
/// they were refused; Enable or Disable; Make user or administrator; with single sign-on set up
/// (`sso`), single sign-on only or the password again. The actions' own rules still decide
/// when one is taken (the last administrator, say).
pub fn actions_on(viewer: &User, member: &ListedMember, sso: bool) -> Vec<MemberAction> {
    if !viewer.is_admin() || member.role == Role::Agent {
        return Vec::new();
    }
    if member.id == viewer.id {
        // Their own PIN they unlock here too; nothing else do they change of themselves.
        return match member.pin_state {
            PinState::Locked => vec![MemberAction::Unlock],
            PinState::Active | PinState::Inactive => Vec::new(),
        };
    }
    let mut actions = Vec::new();
    actions.push(match member.pin_state {
        PinState::Locked => MemberAction::Unlock,
        PinState::Active | PinState::Inactive => MemberAction::Reset,
    });
    if member.second_step_failures >= MAX_SECOND_STEP_FAILURES {
        actions.push(MemberAction::AllowCodes);
    }
    actions.push(match member.disabled {
        true => MemberAction::Enable,
        false => MemberAction::Disable,
    });
    actions.push(match member.role {
        Role::Admin => MemberAction::MakeUser,
        Role::User | Role::Agent => MemberAction::MakeAdmin,
    });
    if member.sso_only {
        actions.push(MemberAction::PasswordAgain);
    } else if sso {
        actions.push(MemberAction::SsoOnly);
    }
    actions
}

/// An account always keeps an enabled administrator: a change that takes the account from
/// `before` enabled administrators to `after` is refused when it leaves none.
pub fn keeps_an_administrator(before: i64, after: i64) -> Result<()> {
    if before > 0 && after == 0 {
        return Err(ServiceError::Conflict(
            "An account always keeps an enabled administrator: this is the last one.".into(),
        ));
    }
    Ok(())
}

/// Proof that a person entered their password (or signed in) recently enough to show or change
/// their PIN or their second factors ("sudo mode"): the only way to those use cases. Made by
/// [`recent_password`] from when the password was last entered (a session's re-entry, a
/// token's issue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecentPassword {
    user_id: i64,
}

impl RecentPassword {
    /// Is this proof about `user`?
    pub fn of(&self, user: &User) -> Result<()> {
        if self.user_id == user.id {
            Ok(())
        } else {
            Err(ServiceError::ReauthRequired)
        }
    }
}

/// Proof for the step a password was just checked for (a login, a re-entry, a token's issue):
/// it lets that step go on even when the re-auth window is shorter than a request.
pub fn password_just_entered(user: &User) -> RecentPassword {
    RecentPassword { user_id: user.id }
}

/// The re-auth window, the one rule for the panel's sessions and the API's tokens: `user`
/// entered their password at `entered_at`; within `window_secs` of `now` that is proof enough.
pub fn recent_password(
    user: &User,
    entered_at: i64,
    now: i64,
    window_secs: i64,
) -> Result<RecentPassword> {
    if now - entered_at < window_secs {
        Ok(RecentPassword { user_id: user.id })
    } else {
        Err(ServiceError::ReauthRequired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Kind, Role};

    fn user(id: i64, account: Option<i64>, role: Role) -> User {
        User {
            id,
            account_id: account,
            username: format!("u{id}"),
            full_name: format!("User {id}"),
            email: None,
            kind: account.map(|_| Kind::User),
            role,
            disabled: false,
            sso_only: false,
            auth_epoch: 0,
            password_hash: None,
            created_at: 0,
        }
    }

    #[test]
    fn members_of_another_account_are_not_found() {
        let admin = user(1, Some(10), Role::Admin);
        let other = user(2, Some(20), Role::User);
        assert!(matches!(
            may_view(&admin, &other),
            Err(ServiceError::NotFound)
        ));
        assert!(matches!(
            may_unlock(&admin, &other, UnlockPolicy::SelfService),
            Err(ServiceError::NotFound)
        ));
        assert!(matches!(
            may_reset(Actor::User(&admin), &other),
            Err(ServiceError::NotFound)
        ));
    }

    #[test]
    fn the_owner_may_unlock_only_under_the_self_policy() {
        let me = user(1, Some(10), Role::User);
        assert!(may_unlock(&me, &me, UnlockPolicy::SelfService).is_ok());
        assert!(matches!(
            may_unlock(&me, &me, UnlockPolicy::Admins),
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[test]
    fn administrators_may_unlock_under_either_policy() {
        let admin = user(1, Some(10), Role::Admin);
        let member = user(2, Some(10), Role::User);
        for policy in UnlockPolicy::ALL {
            assert!(may_unlock(&admin, &member, *policy).is_ok());
        }
    }

    #[test]
    fn agents_never_unlock_or_reset() {
        let agent = user(3, None, Role::Agent);
        let member = user(2, Some(10), Role::User);
        for policy in UnlockPolicy::ALL {
            assert!(matches!(
                may_unlock(&agent, &member, *policy),
                Err(ServiceError::Forbidden(_))
            ));
        }
        assert!(matches!(
            may_reset(Actor::User(&agent), &member),
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[test]
    fn a_plain_member_may_not_unlock_another() {
        let a = user(1, Some(10), Role::User);
        let b = user(2, Some(10), Role::User);
        assert!(matches!(
            may_unlock(&a, &b, UnlockPolicy::SelfService),
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[test]
    fn nobody_resets_their_own_pin() {
        let admin = user(1, Some(10), Role::Admin);
        assert!(matches!(
            may_reset(Actor::User(&admin), &admin),
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[test]
    fn only_the_owner_sees_a_pin() {
        let admin = user(1, Some(10), Role::Admin);
        let member = user(2, Some(10), Role::User);
        let agent = user(3, None, Role::Agent);
        assert!(may_use_own_pin(&member, &member).is_ok());
        assert!(may_use_own_pin(&admin, &member).is_err());
        assert!(may_use_own_pin(&agent, &member).is_err());
    }

    #[test]
    fn only_agents_verify() {
        assert!(may_verify(&user(3, None, Role::Agent)).is_ok());
        assert!(may_verify(&user(1, Some(10), Role::Admin)).is_err());
    }

    #[test]
    fn nobody_changes_themselves_and_the_last_administrator_stays() {
        let admin = user(1, Some(10), Role::Admin);
        let member = user(2, Some(10), Role::User);
        assert!(may_change_member(Actor::User(&admin), &member, MemberChange::Role).is_ok());
        assert!(matches!(
            may_change_member(Actor::User(&admin), &admin, MemberChange::Enabled),
            Err(ServiceError::Conflict(_))
        ));
        assert!(matches!(
            may_change_member(Actor::User(&member), &admin, MemberChange::Enabled),
            Err(ServiceError::Forbidden(_))
        ));
        assert!(keeps_an_administrator(2, 1).is_ok());
        assert!(keeps_an_administrator(0, 0).is_ok());
        assert!(matches!(
            keeps_an_administrator(1, 0),
            Err(ServiceError::Conflict(_))
        ));
    }

    /// Every kind of actor is judged: a token reaches its own account only and never resets
    /// a PIN; the operator and the panel's own steps may.
    #[test]
    fn every_actor_is_judged_by_its_kind() {
        let member = user(2, Some(10), Role::User);
        let elsewhere = user(4, Some(20), Role::User);
        let token = Actor::Provisioning {
            token: "Okta",
            account_id: 10,
        };
        assert!(may_administer(token, 10).is_ok());
        assert!(may_administer(token, 20).is_err());
        assert!(may_change_member(token, &member, MemberChange::Enabled).is_ok());
        assert!(matches!(
            may_change_member(token, &elsewhere, MemberChange::Enabled),
            Err(ServiceError::NotFound)
        ));
        assert!(matches!(
            may_reset(token, &member),
            Err(ServiceError::Forbidden(_))
        ));
        for actor in [Actor::Cli, Actor::System] {
            assert!(may_administer(actor, 20).is_ok());
            assert!(may_reset(actor, &member).is_ok());
            assert!(may_change_member(actor, &member, MemberChange::Role).is_ok());
        }
    }

    #[test]
    fn a_password_entry_is_proof_within_the_window_only() {
        let me = user(1, Some(10), Role::User);
        let other = user(2, Some(10), Role::User);
        let proof = recent_password(&me, 1000, 1000 + 899, 900).unwrap();
        assert!(proof.of(&me).is_ok());
        assert!(proof.of(&other).is_err());
        assert!(matches!(
            recent_password(&me, 1000, 1900, 900),
            Err(ServiceError::ReauthRequired)
        ));
    }

    #[test]
    fn the_unlockers_are_the_roles_that_may_unlock_another() {
        let member = user(2, Some(10), Role::User);
        for role in [Role::User, Role::Admin] {
            let other = user(3, Some(10), role);
            assert_eq!(
                may_unlock(&other, &member, UnlockPolicy::Admins).is_ok(),
                roles_that_unlock_others().contains(&role)
            );
        }
    }

    #[test]
    fn agents_cannot_be_looked_up() {
        let agent = user(3, None, Role::Agent);
        let other_agent = user(4, None, Role::Agent);
        assert!(matches!(
            may_view(&agent, &other_agent),
            Err(ServiceError::NotFound)
        ));
    }
}
