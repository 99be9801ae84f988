//! Diagnostics: what went wrong, where (file, line:column, JSON pointer), and what to do about it.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// A place in a spec file. Lines and columns count from 1; columns count characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    pub file: String,
    pub line: u32,
    pub column: u32,
    /// JSON pointer of the node inside its file, `""` for the whole document.
    pub pointer: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Stable kebab-case identifier of the problem, such as `unresolved-ref`.
    pub code: &'static str,
    pub message: String,
    pub location: Location,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error; its hint starts as the general advice for its code, until [`Self::with_hint`].
    pub fn error(code: &'static str, location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            location,
            hint: default_hint(code).map(str::to_owned),
        }
    }

    pub fn warning(code: &'static str, location: Location, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, location, message)
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    /// `error[code]: message`, then ` --> file:line:col at #/pointer`, then the hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}[{}]: {}", self.severity, self.code, self.message)?;
        write!(f, "  --> {} at #{}", self.location, self.location.pointer)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

/// General advice for a code, for diagnostics that have nothing more specific to say.
fn default_hint(code: &str) -> Option<&'static str> {
    Some(match code {
        "syntax" => "check for a missing or extra comma, bracket, quote or indentation near here",
        "invalid-value" | "missing-key" | "unknown-key" => {
            "docs/x-security.md lists every key with its accepted values"
        }
        "invalid-schema" => {
            "a schema is a mapping of JSON Schema keywords, such as `{type: string, maxLength: 64}`"
        }
        "invalid-parameter" => {
            "a parameter needs `name`, `in` (path, query, header or cookie) and a `schema` or `content`"
        }
        "invalid-path" => "path templates start with `/`, such as `/pets/{id}`",
        "unresolved-ref" => {
            "a relative `$ref` is resolved against the folder of the file that holds it"
        }
        "invalid-ref" => "write `$ref: '#/components/schemas/Name'` or `$ref: 'other.yaml#/Name'`",
        "io" => "check that the file exists and is readable",
        "invalid-scheme" | "unknown-scheme" => {
            "declare schemes under components.securitySchemes and name them in `security`"
        }
        "invalid-jwks" => "a JWK Set is a JSON object with a `keys` list of public keys",
        _ => return None,
    })
}

/// The candidate closest to `word`, if any is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&word, &candidate.to_ascii_lowercase());
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

/// A "did you mean" hint for `word` among `candidates`.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(word, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_pointer_and_hint() {
        let d = Diagnostic::error(
            "unknown-key",
            Location {
                file: "api.yaml".into(),
                line: 3,
                column: 5,
                pointer: "/x-security/rate-limit".into(),
            },
            "unknown key `rate-limit`",
        )
        .with_hint("did you mean `rate-limits`?");
        assert_eq!(
            d.to_string(),
            "error[unknown-key]: unknown key `rate-limit`\n  --> api.yaml:3:5 at #/x-security/rate-limit\n  = hint: did you mean `rate-limits`?"
        );
    }

    #[test]
    fn suggests_near_misses_only() {
        assert_eq!(
            did_you_mean("rate-limit", ["mode", "rate-limits", "ip"]).as_deref(),
            Some("did you mean `rate-limits`?")
        );
        assert_eq!(did_you_mean("zzz", ["mode", "rate-limits"]), None);
    }
}
