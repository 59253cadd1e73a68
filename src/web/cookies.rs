//! The panel's cookies, each named and written in one place with the `cookie` crate: `HttpOnly`,
//! `SameSite=Lax`, `Path=/`, and with `Secure` on (the default) a `__Host-` name, so a sibling
//! subdomain cannot plant one.

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

/// The panel's cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PanelCookie {
    /// The session (tower-sessions writes it, under this name).
    Session,
    /// The anonymous forms' double-submit secret (`web::csrf`).
    Form,
    /// Binds a sign-in at the identity provider to the browser that started it (`web::sso`).
    SignIn,
}

impl PanelCookie {
    /// Its name: `__Host-` prefixed when cookies are `Secure`.
    pub fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (PanelCookie::Session, true) => "__Host-pinpanel",
            (PanelCookie::Session, false) => "pinpanel",
            (PanelCookie::Form, true) => "__Host-pinpanel-form",
            (PanelCookie::Form, false) => "pinpanel-form",
            (PanelCookie::SignIn, true) => "__Host-pinpanel-sso",
            (PanelCookie::SignIn, false) => "pinpanel-sso",
        }
    }

    /// Its value in a request, if the browser sent it.
    pub fn read(self, headers: &HeaderMap, secure: bool) -> Option<String> {
        let name = self.name(secure);
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }

    /// The `Set-Cookie` that gives it `value`, for `max_age` seconds (a browser session's when
    /// `None`).
    pub fn set(self, secure: bool, value: &str, max_age: Option<i64>) -> Option<HeaderValue> {
        let mut c = Cookie::build((self.name(secure), value.to_owned()))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(secure);
        if let Some(secs) = max_age {
            c = c.max_age(time::Duration::seconds(secs));
        }
        HeaderValue::from_str(&c.build().to_string()).ok()
    }

    /// The `Set-Cookie` that removes it.
    pub fn clear(self, secure: bool) -> Option<HeaderValue> {
        self.set(secure, "", Some(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_host_prefixed_when_secure_and_read_back() {
        let set = PanelCookie::SignIn.set(true, "abc", Some(600)).unwrap();
        let text = set.to_str().unwrap();
        assert!(text.starts_with("__Host-pinpanel-sso=abc"), "{text}");
        for attr in [
            "HttpOnly",
            "SameSite=Lax",
            "Path=/",
            "Secure",
            "Max-Age=600",
        ] {
            assert!(text.contains(attr), "{attr}: {text}");
        }
        let plain = PanelCookie::Form.set(false, "x", None).unwrap();
        assert!(!plain.to_str().unwrap().contains("Secure"));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; pinpanel-form=secret; __Host-pinpanel-sso=s"),
        );
        assert_eq!(
            PanelCookie::Form.read(&headers, false).as_deref(),
            Some("secret")
        );
        assert_eq!(
            PanelCookie::SignIn.read(&headers, true).as_deref(),
            Some("s")
        );
        assert_eq!(PanelCookie::SignIn.read(&headers, false), None);
        let gone = PanelCookie::SignIn.clear(false).unwrap();
        assert!(gone.to_str().unwrap().contains("Max-Age=0"));
    }
}
