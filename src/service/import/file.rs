//! Reading an import file: UTF-8 (a byte-order mark is dropped), commas or semicolons, a header
//! row naming the columns, quoted fields holding commas and line breaks. Each row is checked on
//! its own (the values' rules); every problem is kept with its line, in words. Nothing here
//! touches the database.

use std::collections::HashMap;

use crate::domain::{AccountNumber, DisplayName, EmailAddress, Kind, Role, SupportPin, Username};

/// The columns a file may have; `account` is needed unless the import is for one account.
pub const REQUIRED: &[&str] = &["username", "name", "email", "type", "role"];
pub const OPTIONAL: &[&str] = &["account", "external_id", "pin"];
/// The longest value read in any cell.
const MAX_CELL: usize = 1000;
const MAX_EXTERNAL_ID: usize = 255;

/// A problem with the file, on a line (1 is the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: u64,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A row, its values checked.
#[derive(Debug, Clone)]
pub struct Row {
    pub line: u64,
    /// The account's number, when the file names one.
    pub account: Option<AccountNumber>,
    pub username: Username,
    pub full_name: DisplayName,
    pub email: Option<EmailAddress>,
    pub kind: Kind,
    pub role: Role,
    pub external_id: Option<String>,
    pub pin: Option<SupportPin>,
}

/// The most problems kept to be shown: a file wrong on every line would otherwise make a page
/// (and a server's memory) many times its own size. The rest are counted.
pub const MAX_PROBLEMS: usize = 100;

/// A file's problems: the [`MAX_PROBLEMS`] first by line, and how many there are in all.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    kept: Vec<Problem>,
    total: usize,
}

impl Problems {
    /// Counts a problem, keeping it while it is among the first by line.
    pub fn push(&mut self, p: Problem) {
        self.total += 1;
        if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(p);
            return;
        }
        // Full: the new one replaces the latest kept one when it comes earlier in the file.
        if let Some((i, last)) = self.kept.iter().enumerate().max_by_key(|(_, k)| k.line) {
            if p.line < last.line {
                self.kept[i] = p;
            }
        }
    }

    pub fn extend(&mut self, problems: impl IntoIterator<Item = Problem>) {
        for p in problems {
            self.push(p);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many problems the file has, kept or not.
    pub fn len(&self) -> usize {
        self.total
    }

    /// The kept problems, by line.
    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.kept.iter()
    }

    pub fn first(&self) -> Option<&Problem> {
        self.kept.first()
    }

    /// How many problems were counted but not kept.
    pub fn more(&self) -> usize {
        self.total - self.kept.len()
    }

    /// Puts the kept problems in the file's order (a stable sort: a line's problems keep theirs).
    pub fn sort(&mut self) {
        self.kept.sort_by_key(|p| p.line);
    }
}

/// The file read: its rows and what is wrong with it.
#[derive(Debug, Default)]
pub struct Read {
    pub rows: Vec<Row>,
    pub problems: Problems,
}

fn problem(line: u64, message: impl Into<String>) -> Problem {
    Problem {
        line,
        message: message.into(),
    }
}

/// The text of the file: UTF-8 without its byte-order mark, or the line where it is not.
fn text_of(bytes: &[u8]) -> Result<&str, Problem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = Lines::of(&bytes[..e.valid_up_to()]).line_of(e.valid_up_to());
        problem(
            line,
            "the file is not UTF-8 text: save it as \"CSV UTF-8\" and try again",
        )
    })
}

/// Where the file's lines start, as an editor or a spreadsheet numbers them: a line ends at
/// `\r\n`, `\n` or a lone `\r`. (The csv reader's own line count is one short on every line
/// after a header that ends in `\r\n`, which is what Excel writes.)
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &[u8]) -> Lines {
        let mut starts = vec![0];
        let mut i = 0;
        while i < text.len() {
            match text[i] {
                b'\r' if text.get(i + 1) == Some(&b'\n') => {
                    starts.push(i + 2);
                    i += 2;
                    continue;
                }
                b'\r' | b'\n' => starts.push(i + 1),
                _ => {}
            }
            i += 1;
        }
        Lines(starts)
    }

    /// The line (from 1) the byte at `offset` is on.
    fn line_of(&self, offset: usize) -> u64 {
        self.0.partition_point(|&start| start <= offset) as u64
    }

    /// The line a record starts on, from the position the csv reader gives it: with `\r\n` that
    /// position is the `\n` that ends the line before, so line breaks there are stepped over (a
    /// record never starts with one: the reader skips empty lines).
    fn line_of_record(&self, text: &[u8], position: Option<&csv::Position>) -> u64 {
        let Some(p) = position else { return 0 };
        let mut at = p.byte() as usize;
        while matches!(text.get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        self.line_of(at)
    }
}

/// Commas, or semicolons when the header has more of them (outside quotes).
fn delimiter_of(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    let (mut commas, mut semicolons, mut quoted) = (0, 0, false);
    for c in header.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => commas += 1,
            ';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas {
        b';'
    } else {
        b','
    }
}

/// Who sends the file, which decides two of its columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The operator, for any account: the `account` column is required, and a `pin` column
    /// brings members' existing PINs over from another system.
    CommandLine,
    /// An administrator, for their own account: `account` may be left out, and every PIN is
    /// generated (administrators never know a member's PIN).
    Browser,
}

/// Reads the file as `source` may send it.
pub fn read(bytes: &[u8], source: Source) -> Read {
    let mut out = Read::default();
    let text = match text_of(bytes) {
        Ok(t) => t,
        Err(p) => {
            out.problems.push(p);
            return out;
        }
    };
    if text.trim().is_empty() {
        out.problems.push(problem(1, "the file is empty"));
        return out;
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter_of(text))
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let columns: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|c| c.trim().to_ascii_lowercase()).collect(),
        Err(e) => {
            out.problems
                .push(problem(1, format!("the header row cannot be read ({e})")));
            return out;
        }
    };
    let mut index = HashMap::new();
    for (i, c) in columns.iter().enumerate() {
        if !REQUIRED.contains(&c.as_str()) && !OPTIONAL.contains(&c.as_str()) {
            out.problems.push(problem(
                1,
                format!(
                    "'{}' is not a column of an import (the columns are {} and, optionally, {})",
                    c.chars().take(40).collect::<String>(),
                    REQUIRED.join(", "),
                    OPTIONAL.join(", ")
                ),
            ));
        } else if index.insert(c.clone(), i).is_some() {
            out.problems
                .push(problem(1, format!("the column '{c}' is there twice")));
        }
    }
    let mut wanted: Vec<&str> = REQUIRED.to_vec();
    if source == Source::CommandLine {
        wanted.insert(0, "account");
    }
    if source == Source::Browser && index.contains_key("pin") {
        out.problems.push(problem(
            1,
            "the column 'pin' is for the command line only: every PIN imported here is \
             generated, as a reset does, so that no administrator knows it (remove the column)",
        ));
    }
    for c in wanted {
        if !index.contains_key(c) {
            out.problems
                .push(problem(1, format!("the column '{c}' is missing")));
        }
    }
    if !out.problems.is_empty() {
        return out;
    }
    let lines = Lines::of(text.as_bytes());
    let line_at = |p: Option<&csv::Position>| lines.line_of_record(text.as_bytes(), p);
    let mut seen: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = line_at(e.position());
                let message = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => format!("it has {len} fields; the header has {expected_len}"),
                    _ => format!("it cannot be read as CSV ({e})"),
                };
                out.problems.push(problem(line, message));
                continue;
            }
        };
        let line = line_at(record.position());
        let cells = Cells {
            index: &index,
            record: &record,
        };
        if record.iter().any(|c| c.chars().count() > MAX_CELL) {
            out.problems.push(problem(
                line,
                format!("a value is longer than {MAX_CELL} characters"),
            ));
            continue;
        }
        match row_of(line, &cells) {
            Ok(row) => {
                let key = row.username.as_str().to_owned();
                if let Some(first) = seen.insert(key, line) {
                    out.problems.push(problem(
                        line,
                        format!(
                            "username '{}' is also on line {first}",
                            row.username.as_str()
                        ),
                    ));
                } else {
                    out.rows.push(row);
                }
            }
            Err(problems) => out.problems.extend(problems),
        }
    }
    if out.rows.is_empty() && out.problems.is_empty() {
        out.problems
            .push(problem(1, "the file has a header but no rows"));
    }
    out
}

/// A row's cells by column name.
struct Cells<'a> {
    index: &'a HashMap<String, usize>,
    record: &'a csv::StringRecord,
}

impl Cells<'_> {
    /// The trimmed value of `name`, empty when the file has no such column.
    fn get(&self, name: &str) -> &str {
        self.index
            .get(name)
            .and_then(|&i| self.record.get(i))
            .map(str::trim)
            .unwrap_or("")
    }
}

/// One row's values, or every problem it has.
fn row_of(line: u64, cells: &Cells<'_>) -> Result<Row, Vec<Problem>> {
    let cell = |name: &str| cells.get(name);
    let mut problems = Vec::new();
    macro_rules! check {
        ($r:expr $(,)?) => {
            match $r {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.push(problem(line, e));
                    None
                }
            }
        };
    }
    let account =
        match cell("account") {
            "" => None,
            n => check!(AccountNumber::parse(n)
                .map_err(|_| format!("account '{n}' is not an account number")),),
        };
    let username = check!(Username::parse(cell("username")).map_err(|e| {
        format!(
            "username '{}': {}",
            cell("username").chars().take(64).collect::<String>(),
            lower_first(&e)
        )
    }));
    let full_name = check!(DisplayName::parse(cell("name")).map_err(|e| lower_first(&e)));
    let email = check!(EmailAddress::parse_optional(Some(cell("email")))
        .map_err(|_| format!("e-mail '{}' is not an address", cell("email"))),);
    // An empty cell is the default; otherwise the type's own names (agents are not imported).
    let kind = check!(match cell("type").to_ascii_lowercase() {
        t if t.is_empty() => Ok(Kind::User),
        t => t
            .parse::<Kind>()
            .map_err(|_| format!("type '{t}' is neither user nor contact")),
    });
    let role = check!(match cell("role").to_ascii_lowercase() {
        r if r.is_empty() => Ok(Role::User),
        r => match r.parse::<Role>() {
            Ok(Role::Agent) | Err(_) => Err(format!(
                "role '{r}' is neither user nor admin (agents are not imported)"
            )),
            Ok(role) => Ok(role),
        },
    });
    let external_id = match cell("external_id") {
        "" => Some(None),
        x if x.chars().count() > MAX_EXTERNAL_ID => {
            check!(Err(format!(
                "external_id is longer than {MAX_EXTERNAL_ID} characters"
            )))
        }
        x if x.chars().any(char::is_control) => {
            check!(Err(
                "external_id may not contain control characters".to_owned()
            ))
        }
        x => Some(Some(x.to_owned())),
    };
    let pin = match cell("pin") {
        "" => Some(None),
        // Never the PIN itself in a message: it may be a member's secret.
        p => check!(SupportPin::parse(p).map(Some).map_err(|e| {
            let hint = if p.len() == 5 && p.bytes().all(|b| b.is_ascii_digit()) {
                " (a spreadsheet may have dropped a leading 0: format the column as text)"
            } else {
                ""
            };
            format!("the PIN is refused: {}{hint}", lower_first(&e.to_string()))
        })),
    };
    match (username, full_name, email, kind, role, external_id, pin) {
        (
            Some(username),
            Some(full_name),
            Some(email),
            Some(kind),
            Some(role),
            Some(x),
            Some(p),
        ) if problems.is_empty() => Ok(Row {
            line,
            account,
            username,
            full_name,
            email,
            kind,
            role,
            external_id: x,
            pin: p,
        }),
        _ => Err(problems),
    }
}

/// "A name is required." → "a name is required".
fn lower_first(s: &str) -> String {
    let s = s.trim_end_matches('.');
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(r: &Read) -> Vec<String> {
        r.problems.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_good_file_in_either_dialect_reads_every_row() {
        let comma = "\u{feff}account,username,name,email,type,role,external_id,pin\n\
                     1044,Ada,\"Lovelace, Ada\",ada@example.com,user,admin,00u1,871694\n\
                     1044,bob,\"Bob, the Second\",,contact,,,\n";
        let r = read(comma.as_bytes(), Source::CommandLine);
        assert!(r.problems.is_empty(), "{:?}", lines(&r));
        assert_eq!(r.rows.len(), 2);
        assert_eq!(r.rows[0].username.as_str(), "ada");
        assert_eq!(r.rows[0].full_name.as_str(), "Lovelace, Ada");
        assert_eq!(r.rows[0].role, Role::Admin);
        assert_eq!(
            r.rows[0].pin.as_ref().map(SupportPin::expose),
            Some("871694")
        );
        assert_eq!(r.rows[1].full_name.as_str(), "Bob, the Second");
        assert_eq!(r.rows[1].line, 3);
        assert_eq!(r.rows[1].kind, Kind::Contact);
        let semicolons = "username;name;email;type;role\ncarol;Carol;c@example.com;user;user\n";
        let r = read(semicolons.as_bytes(), Source::Browser);
        assert!(r.problems.is_empty(), "{:?}", lines(&r));
        assert_eq!(r.rows[0].username.as_str(), "carol");
    }

    #[test]
    fn every_problem_is_listed_with_its_line() {
        let file = "account,username,name,email,type,role,pin\n\
                    1044,ada,Ada,ada@example.com,user,user,\n\
                    1044,ada,Ada Again,a2@example.com,user,user,\n\
                    1044,bob,Bob,x@,user,user,\n\
                    1044,carol,Carol,c@example.com,robot,agent,111123\n\
                    x,dan,,d@example.com,user,user,10245\n\
                    1044,eve,Eve,e@example.com,user\n";
        let r = read(file.as_bytes(), Source::CommandLine);
        assert_eq!(
            lines(&r),
            [
                "line 3: username 'ada' is also on line 2",
                "line 4: e-mail 'x@' is not an address",
                "line 5: type 'robot' is neither user nor contact",
                "line 5: role 'agent' is neither user nor admin (agents are not imported)",
                "line 5: the PIN is refused: it has more than three repeating numbers in a row",
                "line 6: account 'x' is not an account number",
                "line 6: a name is required",
                "line 6: the PIN is refused: it must be exactly six digits long (a spreadsheet \
                 may have dropped a leading 0: format the column as text)",
                "line 7: it has 5 fields; the header has 7",
            ]
        );
        assert!(
            !lines(&r).iter().any(|l| l.contains("111123")),
            "no PIN echoed"
        );
    }

    #[test]
    fn files_that_are_not_an_import_say_why() {
        let latin1 = b"username,name,email,type,role\nzoe,Zo\xe9,z@example.com,user,user\n";
        assert_eq!(
            lines(&read(latin1, Source::Browser)),
            ["line 2: the file is not UTF-8 text: save it as \"CSV UTF-8\" and try again"]
        );
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert!(lines(&read(png, Source::Browser))[0].contains("not UTF-8"));
        let missing = read(b"username,name,type,role\n", Source::Browser);
        assert_eq!(lines(&missing), ["line 1: the column 'email' is missing"]);
        let unknown = read(
            b"username,name,email,type,role,shoe size\n",
            Source::Browser,
        );
        assert!(lines(&unknown)[0].contains("'shoe size' is not a column"));
        assert_eq!(
            lines(&read(b"", Source::Browser)),
            ["line 1: the file is empty"]
        );
        let long = format!(
            "username,name,email,type,role\nlong,{},l@example.com,user,user\n",
            "n".repeat(1001)
        );
        assert_eq!(
            lines(&read(long.as_bytes(), Source::Browser)),
            ["line 2: a value is longer than 1000 characters"]
        );
        let too_long_name = format!(
            "username,name,email,type,role\nlong,{},l@example.com,user,user\n",
            "n".repeat(201)
        );
        assert_eq!(
            lines(&read(too_long_name.as_bytes(), Source::Browser)),
            ["line 2: a name has at most 200 characters"]
        );
    }

    #[test]
    fn a_quoted_line_break_keeps_the_line_numbers_right() {
        let file = "username,name,email,type,role,external_id\n\
                    ann,Ann,a@example.com,user,user,\"one\ntwo\"\n\
                    bea,,b@example.com,user,user,\n";
        let r = read(file.as_bytes(), Source::Browser);
        assert_eq!(
            lines(&r),
            [
                "line 2: external_id may not contain control characters",
                "line 4: a name is required"
            ]
        );
    }

    /// Every problem names the line its record starts on in the file, the header being line 1,
    /// whatever the line endings (Excel writes CRLF) and however many lines a quoted cell spans.
    #[test]
    fn problems_name_the_files_own_lines() {
        for end in ["\n", "\r\n", "\r"] {
            let file = [
                "username,name,email,type,role,external_id",
                "ann,Ann,a@example.com,user,user,",
                "bea,Bea,x@,user,user,",
                "cat,Cat,c@example.com,user,user,\"one",
                "two\"",
                "dan,,d@example.com,user,user,",
                "eve,Eve,e@example.com,user",
            ]
            .join(end);
            let r = read(file.as_bytes(), Source::Browser);
            assert_eq!(
                lines(&r),
                [
                    "line 3: e-mail 'x@' is not an address",
                    "line 4: external_id may not contain control characters",
                    "line 6: a name is required",
                    "line 7: it has 4 fields; the header has 6",
                ],
                "{end:?}"
            );
            assert_eq!(r.rows[0].line, 2, "{end:?}");
        }
    }

    #[test]
    fn formula_cells_are_text() {
        let file =
            "username,name,email,type,role\nmallory,=cmd|' /C calc'!A0,m@example.com,user,user\n";
        let r = read(file.as_bytes(), Source::Browser);
        assert!(r.problems.is_empty());
        assert_eq!(r.rows[0].full_name.as_str(), "=cmd|' /C calc'!A0");
    }
}
