//! A message a page shows above its content after an action: what was done, or what stopped it.

/// Whether a flash tells of something done or of a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Done,
    Problem,
}

/// A message a page shows once, announced to screen readers (`status` or `alert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub tone: Tone,
}

impl Flash {
    pub fn done(text: impl Into<String>) -> Flash {
        Flash {
            text: text.into(),
            tone: Tone::Done,
        }
    }

    pub fn problem(text: impl Into<String>) -> Flash {
        Flash {
            text: text.into(),
            tone: Tone::Problem,
        }
    }

    /// The CSS class of its notice.
    pub fn class(&self) -> &'static str {
        match self.tone {
            Tone::Done => "success",
            Tone::Problem => "error",
        }
    }

    /// Its ARIA role: a problem interrupts, a confirmation waits its turn.
    pub fn role(&self) -> &'static str {
        match self.tone {
            Tone::Done => "status",
            Tone::Problem => "alert",
        }
    }
}

/// A sentence from a service's lowercase reason: capitalised, with one full stop.
pub fn sentence(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => format!("{}{}.", f.to_uppercase(), c.as_str().trim_end_matches('.')),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::sentence;

    #[test]
    fn reasons_become_sentences() {
        assert_eq!(sentence("only admins may"), "Only admins may.");
        assert_eq!(sentence("already a sentence."), "Already a sentence.");
        assert_eq!(sentence(""), "");
    }
}
