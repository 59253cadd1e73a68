//! The shape of the code (STYLE.md, "Our layout"), checked the way ArchUnit checks Java layers:
//! every `crate::…` path in `src/` names only modules its layer may use, no two top-level modules
//! import each other (directly or around a loop), and the templates write no URL and no limit by
//! hand.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What each layered top-level module may import. Modules not listed (`startup`, `cli`,
/// `config`, `demo`, `seed`, `telemetry`) assemble the whole and may import anything, but no
/// layered module may import them, and the cycle check covers them too.
const LAYERS: &[(&str, &[&str])] = &[
    ("domain", &[]),
    ("crypto", &["domain"]),
    ("store", &["domain"]),
    ("service", &["store", "domain", "crypto"]),
    ("http", &["service", "domain", "crypto"]),
    ("web", &["http", "service", "domain", "crypto"]),
    ("api", &["http", "service", "domain", "crypto"]),
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

/// The top-level module a file under `src/` belongs to (`None` for `lib.rs` and `main.rs`), and
/// how deep below that module's root it is (0 for `src/web.rs` or `src/web/mod.rs`).
fn module_of(relative: &Path) -> Option<(String, usize)> {
    let parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    match parts.as_slice() {
        [file] if file == "lib.rs" || file == "main.rs" => None,
        [file] => Some((file.trim_end_matches(".rs").to_owned(), 0)),
        [module, rest @ ..] => {
            let last = rest.last().map(String::as_str).unwrap_or("");
            let depth = rest.len() - usize::from(last == "mod.rs");
            Some((module.clone(), depth))
        }
        [] => None,
    }
}

fn ident_at(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules that `code` (one file of module `module`, `depth` files below its root)
/// names through `crate::…` paths, `crate::{a, b}` groups, or `super::` paths that climb out of
/// the module.
fn imports_of(code: &str, depth: usize) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            if let Some(group) = after.strip_prefix('{') {
                // `crate::{a, b::c, d}`: the first segment of each item (one level of braces).
                let inner = group.split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let name = ident_at(item.trim());
                    if !name.is_empty() && name != "self" {
                        found.insert(name);
                    }
                }
            } else {
                let name = ident_at(after);
                if !name.is_empty() {
                    found.insert(name);
                }
            }
            rest = after;
        }
        // `super::x` climbs one level per `super`; past the module's root it names a top-level
        // module.
        let mut rest = line;
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
            if before_ok && climbs > depth {
                let name = ident_at(after);
                if !name.is_empty() {
                    found.insert(name);
                }
            }
            rest = after;
        }
    }
    found
}

/// Every forbidden import in the files given as (path below `src/`, contents), with the top-level
/// module graph they form.
fn check(files: &[(PathBuf, String)]) -> (Vec<String>, BTreeMap<String, BTreeSet<String>>) {
    let layers: BTreeMap<&str, &[&str]> = LAYERS.iter().copied().collect();
    let top_level: BTreeSet<String> = files
        .iter()
        .filter_map(|(p, _)| module_of(p).map(|(m, _)| m))
        .collect();
    let mut problems = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, code) in files {
        let Some((module, depth)) = module_of(path) else {
            continue;
        };
        for used in imports_of(code, depth) {
            if used == module || !top_level.contains(&used) {
                continue;
            }
            graph
                .entry(module.clone())
                .or_default()
                .insert(used.clone());
            if let Some(allowed) = layers.get(module.as_str()) {
                if !allowed.contains(&used.as_str()) {
                    problems.push(format!(
                        "src/{}: `{module}` may not import `crate::{used}` (it may use: {})",
                        path.display(),
                        if allowed.is_empty() {
                            "nothing of the crate".to_owned()
                        } else {
                            allowed.join(", ")
                        }
                    ));
                }
            }
        }
    }
    for cycle in cycles(&graph) {
        problems.push(format!(
            "an import cycle between top-level modules: {}",
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
fn the_layers_of_stylemd_hold_and_no_top_level_modules_import_each_other() {
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
    ];
    let (problems, _) = check(&tree);
    let text = problems.join("\n");
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
    assert!(text.contains("an import cycle"), "{text}");
    assert!(
        !text.contains("`store` may not"),
        "comments are not imports: {text}"
    );
    assert!(!text.contains("`crypto` may not"), "{text}");
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
}
