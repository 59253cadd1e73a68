//! Assembling the whole: [`open`] opens the database and checks the PIN key (what the command
//! line and the server share), [`server`] builds the application from its settings and serves it
//! until shutdown, [`router`] puts the faces, the static files and the layers together.

pub mod open;
pub mod router;
pub mod server;

/// The database's connection options, as the command line sets them.
pub use crate::store::DbOptions;
pub use open::{connect, open, Opened, RECOVERY_KEY_NAME};
pub use router::{app, loggable_path};
pub use server::{shutdown_signal, App, ServeSettings};
