//! Who is asking: password hashing and the web session (with its CSRF token and timeouts).

pub mod password;
pub mod session;
