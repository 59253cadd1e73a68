//! An authenticator app, as the tests play it: the code it shows for a secret at a time, and
//! its set-up through the pages the way a person does it.

use totp_rs::{Algorithm, Builder, Secret};

use super::client::{between, Client};

/// The code an authenticator app shows for `secret` (base32, as the page shows it, spaces and
/// all) at unix time `at`.
pub fn totp_code(secret: &str, at: u64) -> String {
    let bytes = Secret::try_from_base32(secret.replace(' ', ""))
        .expect("a base32 secret")
        .as_bytes()
        .to_vec();
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_step_duration(30)
        .with_secret(bytes)
        .build()
        .expect("a TOTP")
        .generate(at)
        .to_string()
}

pub fn now() -> u64 {
    u64::try_from(pinpanel::store::now()).unwrap()
}

/// Sets up an authenticator app for the logged-in `c` the way a person does; returns the
/// secret the page showed and the ten recovery codes.
pub async fn set_up_app(c: &Client) -> (String, Vec<String>) {
    let (status, _, page) = c.get("/profile/two-step").await;
    assert_eq!(status, 200);
    assert!(page.contains("Add an authenticator app"), "{page}");
    let (status, _, setup) = c.post("/profile/two-step/app", &[]).await;
    assert_eq!(status, 200, "{setup}");
    assert!(setup.contains("<svg"), "a QR code drawn on the server");
    let secret = between(
        &setup,
        "id=\"totp-secret\" aria-labelledby=\"secret-label\">",
        "<",
    )
    .expect("the secret as text")
    .to_owned();
    assert!(
        secret.split(' ').all(|g| g.len() <= 4) && secret.len() > 30,
        "groups of four: {secret}"
    );
    let (status, _, done) = c
        .post(
            "/profile/two-step/app/confirm",
            &[("code", &totp_code(&secret, now()))],
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert!(done.contains("will not be shown again"), "{done}");
    let codes: Vec<String> = done
        .split("<li><code>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 10, "{done}");
    (secret, codes)
}
