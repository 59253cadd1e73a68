//! A User-Agent as a person reads it: "Chrome 156 on Linux". Written by hand (about thirty
//! lines) instead of a user-agent crate: the well-kept ones pull in regex tables far larger than
//! the four browsers and six systems a sessions page needs to name.

/// The browser and system a User-Agent names, or "An unknown browser".
pub fn browser_label(ua: &str) -> String {
    // Order matters: Edge and Opera also say Chrome; Chrome also says Safari.
    let browsers = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
        ("curl/", "curl"),
    ];
    let browser = browsers.iter().find_map(|(token, name)| {
        let at = ua.find(token)?;
        let version: String = ua[at + token.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        Some(if version.is_empty() {
            (*name).to_owned()
        } else {
            format!("{name} {version}")
        })
    });
    let systems = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("CrOS", "ChromeOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ];
    let system = systems
        .iter()
        .find(|(token, _)| ua.contains(token))
        .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b,
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => "An unknown browser".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::browser_label;

    #[test]
    fn common_browsers_are_named_with_their_system() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                      Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(browser_label(chrome), "Chrome 156 on Linux");
        let edge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                    Gecko) Chrome/130.0 Safari/537.36 Edg/130.0.2849.68";
        assert_eq!(browser_label(edge), "Edge 130 on Windows");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1";
        assert_eq!(browser_label(safari), "Safari 18 on iOS");
        let firefox = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:132.0) Gecko/20100101 \
                       Firefox/132.0";
        assert_eq!(browser_label(firefox), "Firefox 132 on macOS");
    }

    #[test]
    fn anything_else_is_unknown() {
        assert_eq!(browser_label(""), "An unknown browser");
        assert_eq!(browser_label("<script>"), "An unknown browser");
    }
}
