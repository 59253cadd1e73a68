//! pinpanel: a self-hosted control panel for Support PINs.
//!
//! The arrows point one way: `web` and `api` translate HTTP and call `service`; `service` holds
//! every rule about who may do what and calls `store` and `domain`; `domain` imports nothing of
//! the others.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod domain;
pub mod seed;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;
