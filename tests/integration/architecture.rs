//! The shape of the code (STYLE.md, "Our layout"), checked the way ArchUnit checks Java layers:
//! every `crate::…` path in `src/` names only modules its layer may use, no two top-level modules
//! import each other (directly or around a loop), no two files inside a module import each other
//! around a loop either, the audit events' names are written only by the type that owns them,
//! and the templates write no URL and no limit by hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each layered top-level module may import. Modules not listed (`startup`, `config`,
/// `telemetry`) assemble the whole and may import anything, but no layered module may import
/// them, and the cycle check covers them too.
///
/// This table, not STYLE.md's arrows, is the truth, and it allows two arrows STYLE.md does not
/// draw: `http → service` (the state both faces share carries the use cases' `Ctx`, and the
/// health probes ask `service::health`), and `web → crypto` (the anonymous forms' CSRF tokens
/// are HMACs of a cookie secret, made in `web::csrf` where the cookie is). Neither lets a face
/// reach the store or the other face.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("crypto", &["domain"]),
    ("store", &["domain"]),
    ("service", &["store", "domain", "crypto"]),
    ("http", &["service", "domain", "crypto"]),
    ("web", &["http", "service", "domain", "crypto"]),
    ("api", &["http", "service", "domain", "crypto"]),
    ("scim", &["http", "service", "domain", "crypto"]),
    // The command line reads its flags (`config`), opens the installation (`startup`) and calls
    // use cases; the rows are the store's and the URLs the web face's, never the command's.
    (
        "cli",
        &[
            "config", "startup", "service", "domain", "crypto", "demo", "seed",
        ],
    ),
    ("demo", &["service", "domain", "crypto"]),
    // Bench data: its bulk SQL is the store's (`store::bulk`).
    ("seed", &["service", "store", "domain"]),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file under `src/`: `service/pins/verify.rs` is `service::pins::verify`,
/// `service/pins/mod.rs` is `service::pins`, `lib.rs` and `main.rs` are the crate root.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.last().map(String::as_str) {
        Some("mod.rs" | "lib.rs" | "main.rs") => {
            parts.pop();
        }
        Some(last) => {
            let stem = last.trim_end_matches(".rs").to_owned();
            parts.pop();
            parts.push(stem);
        }
        None => {}
    }
    parts
}

fn ident_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The paths of a use tree starting at `text` (just after `crate::` or a `super::` chain):
/// `a::b`, `{a, b::{c, d}}`, `a::{b, c}`.
fn use_tree(text: &str) -> Vec<Vec<String>> {
    fn tree(text: &str, at: &mut usize) -> Vec<Vec<String>> {
        let bytes = text.as_bytes();
        let skip_space = |at: &mut usize| {
            while *at < bytes.len() && (bytes[*at] as char).is_whitespace() {
                *at += 1;
            }
        };
        skip_space(at);
        if *at < bytes.len() && bytes[*at] == b'{' {
            *at += 1;
            let mut out = Vec::new();
            loop {
                skip_space(at);
                if *at >= bytes.len() {
                    return out;
                }
                if bytes[*at] == b'}' {
                    *at += 1;
                    return out;
                }
                out.extend(tree(text, at));
                skip_space(at);
                if *at < bytes.len() && bytes[*at] == b',' {
                    *at += 1;
                }
            }
        }
        let name = ident_at(&text[*at..]);
        *at += name.len();
        if name.is_empty() {
            return Vec::new();
        }
        if text[*at..].starts_with("::") {
            *at += 2;
            let rest = tree(text, at);
            if rest.is_empty() {
                return vec![vec![name]];
            }
            return rest
                .into_iter()
                .map(|mut p| {
                    p.insert(0, name.clone());
                    p
                })
                .collect();
        }
        if name == "self" {
            return vec![Vec::new()];
        }
        vec![vec![name]]
    }
    let mut at = 0;
    tree(text, &mut at)
}

/// The absolute module paths that `code` (the file of module `module`) names through
/// `crate::…` paths and `super::…` chains, use groups included. Comments are not code.
fn imports_of(code: &str, module: &[String]) -> BTreeSet<Vec<String>> {
    let mut found = BTreeSet::new();
    // Use groups span lines: read the code with comments taken out, as one text.
    let text: String = code
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = text.as_str();
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        for p in use_tree(after) {
            found.insert(p);
        }
        rest = after;
    }
    let mut rest = text.as_str();
    while let Some(at) = rest.find("super::") {
        let before_ok = at == 0
            || !rest[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        let mut after = &rest[at..];
        let mut climbs = 0;
        while let Some(next) = after.strip_prefix("super::") {
            climbs += 1;
            after = next;
        }
        if before_ok && climbs <= module.len() {
            let base = &module[..module.len() - climbs];
            for p in use_tree(after) {
                let mut full = base.to_vec();
                full.extend(p);
                found.insert(full);
            }
        }
        rest = after;
    }
    found
}

/// Every forbidden import in the files given as (path below `src/`, contents), with the top-level
/// module graph they form.
fn check(files: &[(PathBuf, String)]) -> (Vec<String>, BTreeMap<String, BTreeSet<String>>) {
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let modules: Vec<(Vec<String>, &PathBuf, &String)> = files
        .iter()
        .map(|(p, code)| (module_path(p), p, code))
        .collect();
    let top_level: BTreeSet<String> = modules
        .iter()
        .filter_map(|(m, _, _)| m.first().cloned())
        .collect();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|(m, _, _)| m.clone()).collect();
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut siblings: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path, code) in &modules {
        let Some(top) = module.first() else {
            continue;
        };
        for used in imports_of(code, module) {
            let Some(used_top) = used.first() else {
                continue;
            };
            if !top_level.contains(used_top) {
                continue;
            }
            if used_top != top {
                graph
                    .entry(top.clone())
                    .or_default()
                    .insert(used_top.clone());
                if let Some(allowed) = layers.get(top.as_str()) {
                    if !allowed.contains(&used_top.as_str()) {
                        problems.push(format!(
                            "src/{}: `{top}` may not import `crate::{used_top}` (it may use: {})",
                            path.display(),
                            if allowed.is_empty() {
                                "nothing of the crate".to_owned()
                            } else {
                                allowed.join(", ")
                            }
                        ));
                    }
                }
                continue;
            }
            // Inside one top-level module: an edge between the two children of their nearest
            // common ancestor, when the target is a module (items of a parent are the parent's
            // vocabulary, which every child may use).
            let Some(target) = (1..=used.len())
                .rev()
                .map(|n| used[..n].to_vec())
                .find(|p| known.contains(p))
            else {
                continue;
            };
            let common = module
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common >= module.len() || common >= target.len() {
                continue;
            }
            let from = module[..=common].join("::");
            let to = target[..=common].join("::");
            siblings.entry(from).or_default().insert(to);
        }
    }
    for cycle in cycles(&graph) {
        problems.push(format!(
            "an import cycle between top-level modules: {}",
            cycle.join(" → ")
        ));
    }
    for cycle in cycles(&siblings) {
        problems.push(format!(
            "an import cycle between files of one module: {}",
            cycle.join(" → ")
        ));
    }
    (problems, graph)
}

/// The cycles of `graph` (each reported once, from its smallest module).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn walk(
        graph: &BTreeMap<String, BTreeSet<String>>,
        start: &str,
        at: &str,
        path: &mut Vec<String>,
        out: &mut BTreeSet<Vec<String>>,
    ) {
        for next in graph.get(at).into_iter().flatten() {
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_owned());
                out.insert(cycle);
            } else if next.as_str() > start && !path.contains(next) {
                path.push(next.clone());
                walk(graph, start, next, path, out);
                path.pop();
            }
        }
    }
    let mut out = BTreeSet::new();
    for start in graph.keys() {
        walk(graph, start, start, &mut vec![start.clone()], &mut out);
    }
    out.into_iter().collect()
}

fn source_tree() -> Vec<(PathBuf, String)> {
    let root = src_dir();
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let code = std::fs::read_to_string(&p).expect("read a source file");
            (
                p.strip_prefix(&root).expect("under src").to_path_buf(),
                code,
            )
        })
        .collect()
}

#[test]
fn the_layers_of_stylemd_hold_and_no_modules_import_each_other() {
    let (problems, graph) = check(&source_tree());
    assert!(
        problems.is_empty(),
        "the one-way layers are broken:\n{}",
        problems.join("\n")
    );
    // The check saw the layers it guards (an empty graph would pass anything).
    for (module, _) in LAYERS.iter().filter(|(m, _)| *m != "domain") {
        assert!(graph.contains_key(*module), "no imports found in {module}");
    }
}

#[test]
fn the_check_catches_a_face_importing_the_other_face_or_the_store() {
    let file = |path: &str, code: &str| (PathBuf::from(path), code.to_owned());
    let tree = vec![
        file("api/mod.rs", "use crate::web::AppState;\n"),
        file("web/mod.rs", "use super::store::users;\n"),
        file("web/login.rs", "use crate::{http::AppState, store};\n"),
        file("http/mod.rs", "use crate::api::router;\n"),
        file("store/mod.rs", "// use crate::web::nothing (a comment)\n"),
        file("service/mod.rs", "use crate::store;\n"),
        file("domain/mod.rs", "use super::pin;\n"),
        file("domain/pin.rs", "use super::super::service::Ctx;\n"),
        file("crypto.rs", "use crate::domain::SupportPin;\n"),
        file("cli/import.rs", "use crate::web::urls;\n"),
        file("cli/ops.rs", "use crate::store::{self, Db};\n"),
        file("cli/serve.rs", "use crate::startup::App;\n"),
    ];
    let (problems, _) = check(&tree);
    let text = problems.join("\n");
    assert!(
        text.contains("src/cli/import.rs: `cli` may not import `crate::web`"),
        "{text}"
    );
    assert!(
        text.contains("src/cli/ops.rs: `cli` may not import `crate::store`"),
        "{text}"
    );
    assert!(!text.contains("src/cli/serve.rs"), "{text}");
    assert!(text.contains("`api` may not import `crate::web`"), "{text}");
    assert!(
        text.contains("src/web/mod.rs: `web` may not import `crate::store`"),
        "{text}"
    );
    assert!(
        text.contains("src/web/login.rs: `web` may not import `crate::store`"),
        "{text}"
    );
    assert!(
        text.contains("`domain` may not import `crate::service`"),
        "{text}"
    );
    assert!(text.contains("an import cycle between top-level"), "{text}");
    assert!(
        !text.contains("`store` may not"),
        "comments are not imports: {text}"
    );
    assert!(!text.contains("`crypto` may not"), "{text}");
}

#[test]
fn the_check_catches_two_files_of_one_module_importing_each_other() {
    let file = |path: &str, code: &str| (PathBuf::from(path), code.to_owned());
    let tree = vec![
        file(
            "service/mod.rs",
            "pub mod accounts;\npub mod pins;\npub struct Ctx;\n",
        ),
        file(
            "service/accounts.rs",
            "use super::{audit, pins::status, Ctx};\n",
        ),
        file(
            "service/pins/mod.rs",
            "pub mod verify;\nuse super::super::service::accounts::account_of;\n",
        ),
        // A child using its parent's items and its sibling is no cycle.
        file(
            "service/pins/verify.rs",
            "use super::super::{Ctx, accounts};\nuse super::record;\n",
        ),
        file(
            "store/mod.rs",
            "use crate::domain::{\n    User,\n    Account,\n};\n",
        ),
    ];
    let (problems, _) = check(&tree);
    let text = problems.join("\n");
    assert!(
        text.contains("files of one module: service::accounts → service::pins → service::accounts"),
        "{text}"
    );
    assert_eq!(problems.len(), 1, "{text}");
    let (problems, _) = check(&tree[..1]);
    assert!(problems.is_empty());
}

/// The stored names of the audit events, as `domain/event.rs` declares them.
fn event_names(event_rs: &str) -> Vec<String> {
    event_rs
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once("=> \"")?;
            let name = rest.split('"').next()?;
            // The events! table's rows: `Variant => "name", Some(Kind), "words";`.
            rest.contains(", ").then(|| name.to_owned())
        })
        .filter(|n| n.contains('.'))
        .collect()
}

/// Where `code` writes an audit event's name (one with a dot: single words such as `logout` are
/// too common to tell apart) as a string or a SQL literal, or a SQL pattern over a family of
/// them (`'pin.%'`).
fn event_names_written(code: &str, names: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for name in names {
        for quoted in [format!("\"{name}\""), format!("'{name}'")] {
            if code.contains(&quoted) {
                found.push(quoted);
            }
        }
        let family = name.split('.').next().unwrap_or("");
        for pattern in [format!("'{family}.%'"), format!("\"{family}.%\"")] {
            if code.contains(&pattern) && !found.contains(&pattern) {
                found.push(pattern);
            }
        }
    }
    found
}

#[test]
fn audit_event_names_are_written_only_by_their_type() {
    let owner = Path::new("domain").join("event.rs");
    let tree = source_tree();
    let (_, event_rs) = tree
        .iter()
        .find(|(p, _)| *p == owner)
        .expect("src/domain/event.rs");
    let names = event_names(event_rs);
    assert!(
        names.len() > 30 && names.contains(&"pin.locked".to_owned()),
        "{names:?}"
    );
    let mut problems = Vec::new();
    for (path, code) in tree.iter().filter(|(p, _)| *p != owner) {
        for written in event_names_written(code, &names) {
            problems.push(format!("src/{}: {written}", path.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "write Event::… instead:\n{}",
        problems.join("\n")
    );
    // And the check can fail.
    let names = vec!["pin.locked".to_owned()];
    assert_eq!(
        event_names_written("audit(tx, \"pin.locked\")", &names).len(),
        1
    );
    assert_eq!(
        event_names_written("WHERE event LIKE 'pin.%'", &names).len(),
        1
    );
    assert!(event_names_written("Event::PinLocked", &names).is_empty());
}

fn template_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read templates") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            template_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Hand-written URLs (`href="/…"` and friends) and limits (an inequality with a number, the
/// lock's "six") in a template.
fn hand_written(template: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in [
        "href",
        "action",
        "src",
        "hx-get",
        "hx-post",
        "hx-put",
        "hx-delete",
    ] {
        for quote in ['"', '\''] {
            let needle = format!("{attr}={quote}/");
            if template.contains(&needle) {
                found.push(needle);
            }
        }
    }
    // Inequalities only: `== 1` picks a plural, `< 6` is a limit written twice.
    for op in ["< ", "> ", "<= ", ">= "] {
        for (at, _) in template.match_indices(op) {
            if template[at + op.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
            {
                found.push(format!("a comparison with a literal number: `{op}…`"));
            }
        }
    }
    if template.to_lowercase().contains(" six ") {
        found.push("the word \"six\" (say MAX_PIN_FAILURES)".into());
    }
    // A field's limit is the type's (`Username::MAX_LEN`), never a number of its own.
    for (at, _) in template.match_indices("maxlength=\"") {
        if template[at + "maxlength=\"".len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
        {
            found.push("a maxlength written as a number".into());
        }
    }
    // A state is matched as the enum it is, never as its stored text.
    if template.contains(".as_str() ==") {
        found.push("`.as_str() ==` (compare the enum: `state == PinState::Locked`)".into());
    }
    found
}

#[test]
fn templates_take_every_url_and_limit_from_the_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut paths = Vec::new();
    template_files(&root, &mut paths);
    assert!(paths.len() >= 8, "templates found: {}", paths.len());
    let mut problems = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("read a template");
        for p in hand_written(&text) {
            problems.push(format!("{}: {p}", path.display()));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // And the check can fail.
    assert!(!hand_written("<a href=\"/users\">").is_empty());
    assert!(!hand_written("{% if attempts_left < 6 %}").is_empty());
    assert!(hand_written("<a href=\"{{ urls::USERS }}\">").is_empty());
    assert!(!hand_written("<input maxlength=\"64\">").is_empty());
    assert!(hand_written("<input maxlength=\"{{ Username::MAX_LEN }}\">").is_empty());
    assert!(!hand_written("{% if state.as_str() == \"LOCKED\" %}").is_empty());
}

/// Where `code` matches a value's text against string literals (`match x.as_str() { "a" => …`):
/// a word one file writes and another reads back. Outside `domain/` (whose types own their
/// stored names and parse them) a value is parsed into its type and the type is matched.
fn text_matches(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("match ") {
        let Some(brace) = code[at..].find('{') else {
            continue;
        };
        let head = &code[at..at + brace];
        if head.contains('\n') || !head.trim_end().ends_with(".as_str()") {
            continue;
        }
        let arm = code[at + brace + 1..].trim_start();
        if arm.starts_with('"') {
            found.push(head.trim().to_owned());
        }
    }
    found
}

#[test]
fn no_text_is_matched_back_outside_the_domain() {
    let mut problems = Vec::new();
    for (path, code) in source_tree() {
        if path.starts_with("domain") {
            continue;
        }
        for m in text_matches(&code) {
            problems.push(format!("src/{}: `{m} {{ \"…\"`", path.display()));
        }
    }
    assert!(
        problems.is_empty(),
        "parse the text into its domain type and match that:\n{}",
        problems.join("\n")
    );
    // And the check can fail.
    assert_eq!(
        text_matches("let r = match a.reason.as_str() {\n    \"locked\" => 1,\n    _ => 2,\n};")
            .len(),
        1
    );
    assert!(text_matches("match a.reason {\n    AlarmReason::Locks => 1,\n}").is_empty());
    assert!(text_matches("match self.as_str() {\n    x if x.is_empty() => 1,\n}").is_empty());
}
