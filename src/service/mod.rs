//! The use cases, with every rule about who may do what. The web panel, the JSON API and the CLI
//! all call these and nothing below them, so a rule exists once.
//!
//! Inside the layer the files depend one way too (the architecture test checks): the use cases
//! (`pins`, `members`, `links`, `two_step` …) call the look-ups and mechanisms under them
//! (`people`, `sessions`, `limits`, `password`, `mail`), never each other in a loop.

pub mod accounts;
pub mod activity;
mod actor;
pub mod alarm;
mod audit;
pub mod backup;
mod ctx;
pub mod directory;
pub mod email;
mod error;
pub mod hashing;
pub mod health;
pub mod import;
pub mod keys;
pub mod limits;
pub mod links;
pub mod login;
pub mod mail;
pub mod maintenance;
pub mod member_actions;
pub mod members;
pub mod metrics;
pub mod overview;
pub mod password;
pub mod people;
pub mod pins;
pub mod policy;
pub mod provisioning;
pub mod sessions;
mod settings;
pub mod sso;
pub mod tokens;
pub mod two_step;

pub use actor::Actor;
pub use audit::{AuditRecord, Context};
pub use ctx::{Ctx, Instance, Keys, Parts};
pub use error::{Result, ServiceError, KEY_ROTATED_MESSAGE, UNAVAILABLE_RETRY_SECS};
pub use settings::{defaults, LinkRoutes, Settings};

/// Unix seconds now: the one clock every layer reads.
pub use crate::store::now;
