//! Who may do what to whom: SPEC's role table as pure functions, used before every use case.
//! A person outside the target's account gets `NotFound`, never `Forbidden`, so ids do not leak.

use super::{Result, ServiceError};
use crate::domain::{UnlockPolicy, User};

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
    if actor.is_admin() || (own && policy == UnlockPolicy::SelfService) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "not permitted to unlock this Support PIN",
        ))
    }
}

/// Resetting (a new generated PIN nobody sees): an administrator of the account, never on
/// oneself, never an agent (a reset is an unlock too).
pub fn may_reset(actor: &User, target: &User) -> Result<()> {
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

/// Administering an account (its members, its unlock policy): its administrators.
pub fn may_administer(actor: &User, account_id: i64) -> Result<()> {
    if actor.is_admin() && actor.account_id == Some(account_id) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(
            "only administrators of the account may do this",
        ))
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
            auth_epoch: 0,
            password_hash: String::new(),
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
            may_reset(&admin, &other),
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
            may_reset(&agent, &member),
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
            may_reset(&admin, &admin),
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
    fn agents_cannot_be_looked_up() {
        let agent = user(3, None, Role::Agent);
        let other_agent = user(4, None, Role::Agent);
        assert!(matches!(
            may_view(&agent, &other_agent),
            Err(ServiceError::NotFound)
        ));
    }
}
