//! Path templates to operations: literal segments beat templated ones (`/users/me` before `/users/{id}`).
//!
//! Templates go to `matchit` with their parameters renamed by position, so `/users/{id}` and
//! `/users/{userId}/posts` share one tree. Templates matchit cannot hold (two parameters in one
//! segment, such as `/files/{name}.{ext}`) are matched by an anchored regex after the tree.
//! Matching rules, as documented for users:
//! - Paths are matched as sent, still percent-encoded, but for unreserved characters: `/pet%73` is
//!   `/pets` ([`normalize`]), as it is to any upstream that decodes it, while `%2F` inside a segment
//!   never splits it; parameter values are percent-decoded after matching, by their style.
//! - A trailing slash is significant: `/pets/` is not `/pets` (404), as OpenAPI paths are exact.
//! - Paths with `.` or `..` segments (plain or encoded) are refused before routing (see `check`),
//!   since an upstream that resolves them would serve another route than the one checked.

use std::borrow::Cow;

use regex::Regex;
use specgate_plan::HttpMethod;

use super::LoadError;

/// `path` with its percent-encoded unreserved characters decoded (letters, digits, `-`, `.`, `_`,
/// `~`): RFC 3986 §6.2.2.2 makes `%61` and `a` the same URI, so an upstream may route `/pet%73` as
/// `/pets`, and the route checked must be that one. Other escapes stay as sent.
pub fn normalize(path: &str) -> Cow<'_, str> {
    let unreserved_at = |i: usize| {
        let bytes = path.as_bytes();
        (bytes.get(i) == Some(&b'%'))
            .then(|| path.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            .filter(|b| b.is_ascii_alphanumeric() || b"-._~".contains(b))
    };
    let Some(first) = (0..path.len()).find(|&i| unreserved_at(i).is_some()) else {
        return Cow::Borrowed(path);
    };
    let mut normal = String::with_capacity(path.len());
    normal.push_str(&path[..first]);
    let mut i = first;
    while i < path.len() {
        match unreserved_at(i) {
            Some(byte) => {
                normal.push(char::from(byte));
                i += 3;
            }
            None => {
                let c = path[i..].chars().next().unwrap_or_default();
                normal.push(c);
                i += c.len_utf8();
            }
        }
    }
    Cow::Owned(normal)
}

/// One path template and the operations declared on it.
#[derive(Debug)]
struct PathEntry {
    template: String,
    /// Parameter names in template order.
    names: Vec<String>,
    /// Characters of the template outside parameters: more is more specific.
    literal_len: usize,
    methods: Vec<(HttpMethod, usize)>,
}

#[derive(Debug)]
pub struct Router {
    tree: matchit::Router<usize>,
    /// Templates the tree cannot hold, tried in order after it.
    fallback: Vec<(Regex, usize)>,
    entries: Vec<PathEntry>,
}

/// The outcome of routing a request.
#[derive(Debug, PartialEq, Eq)]
pub enum RouteMatch<'r, 'p> {
    /// The operation index and the raw path parameter values by name.
    Found {
        operation: usize,
        params: Vec<(&'r str, &'p str)>,
    },
    /// The path exists but not with this method; lists the methods it has.
    MethodNotAllowed {
        allowed: Vec<HttpMethod>,
    },
    NotFound,
}

impl Router {
    pub fn new<'a>(
        operations: impl IntoIterator<Item = (&'a str, HttpMethod, usize)>,
    ) -> Result<Self, LoadError> {
        let mut entries: Vec<PathEntry> = Vec::new();
        for (template, method, index) in operations {
            match entries.iter_mut().find(|e| e.template == template) {
                Some(entry) => entry.methods.push((method, index)),
                None => entries.push(PathEntry {
                    template: template.to_owned(),
                    literal_len: template.len()
                        - parameter_names(template)
                            .iter()
                            .map(|n| n.len() + 2)
                            .sum::<usize>(),
                    names: parameter_names(template),
                    methods: vec![(method, index)],
                }),
            }
        }
        let mut tree = matchit::Router::new();
        let mut fallback = Vec::new();
        let mut shapes: Vec<(String, usize)> = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let shape = positional(&entry.template);
            if let Some((_, other)) = shapes.iter().find(|(s, _)| *s == shape) {
                return Err(LoadError::Route {
                    path: entry.template.clone(),
                    message: format!(
                        "cannot be told apart from `{}` (templates that differ only in parameter names are the same path)",
                        entries[*other].template
                    ),
                });
            }
            shapes.push((shape.clone(), i));
            let in_tree =
                one_parameter_per_segment(&entry.template) && tree.insert(shape, i).is_ok();
            if !in_tree {
                fallback.push((template_regex(&entry.template), i));
            }
        }
        Ok(Self {
            tree,
            fallback,
            entries,
        })
    }

    pub fn find<'p>(&self, method: HttpMethod, path: &'p str) -> RouteMatch<'_, 'p> {
        let mut candidates: Vec<(usize, Vec<&'p str>)> = Vec::with_capacity(1);
        if let Ok(m) = self.tree.at(path) {
            candidates.push((*m.value, m.params.iter().map(|(_, v)| v).collect()));
        }
        for (re, i) in &self.fallback {
            if let Some(c) = re.captures(path) {
                candidates.push((*i, c.iter().skip(1).flatten().map(|m| m.as_str()).collect()));
            }
        }
        // The template with the method wins over one without; then the one with more literal text
        // (`/files/{name}.{ext}` over `/files/{id}`); then the tree's own choice.
        let has_method = |i: usize| self.entries[i].methods.iter().any(|(m, _)| *m == method);
        let best = candidates
            .into_iter()
            .enumerate()
            .max_by_key(|(order, (i, _))| {
                (
                    has_method(*i),
                    self.entries[*i].literal_len,
                    std::cmp::Reverse(*order),
                )
            })
            .map(|(_, c)| c);
        let Some((index, values)) = best else {
            return RouteMatch::NotFound;
        };
        let entry = &self.entries[index];
        match entry.methods.iter().find(|(m, _)| *m == method) {
            Some((_, operation)) => RouteMatch::Found {
                operation: *operation,
                params: entry.names.iter().map(String::as_str).zip(values).collect(),
            },
            None => {
                let mut allowed: Vec<HttpMethod> = entry.methods.iter().map(|(m, _)| *m).collect();
                allowed.sort();
                RouteMatch::MethodNotAllowed { allowed }
            }
        }
    }
}

fn parameter_names(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        names.push(rest[start + 1..start + len].to_owned());
        rest = &rest[start + len + 1..];
    }
    names
}

/// The template with parameters renamed `p0`, `p1`… (the shape two templates share if they collide).
fn positional(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut n = 0;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&format!("{{p{n}}}"));
        n += 1;
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

fn one_parameter_per_segment(template: &str) -> bool {
    template
        .split('/')
        .all(|segment| segment.matches('{').count() <= 1)
}

/// An anchored regex for a template: each parameter matches one or more characters of one segment.
fn template_regex(template: &str) -> Regex {
    let mut pattern = String::from("^");
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        pattern.push_str(&regex::escape(&rest[..start]));
        pattern.push_str("([^/]+?)");
        rest = &rest[start + len + 1..];
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    Regex::new(&pattern).unwrap_or_else(|e| unreachable!("escaped template is a valid regex: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use HttpMethod::*;

    fn router(routes: &[(&str, HttpMethod)]) -> Router {
        Router::new(routes.iter().enumerate().map(|(i, (p, m))| (*p, *m, i))).unwrap()
    }

    #[test]
    fn only_unreserved_characters_are_decoded_before_routing() {
        assert!(matches!(normalize("/pets/7"), Cow::Borrowed("/pets/7")));
        assert!(matches!(normalize("/a%2Fb%20c%25"), Cow::Borrowed(_)));
        assert_eq!(normalize("/pet%73/%37"), "/pets/7");
        assert_eq!(normalize("/%61dmin/x%2dy%5F%7e%2E"), "/admin/x-y_~.");
        assert_eq!(normalize("/a%2Fb%61"), "/a%2Fba", "other escapes stay");
        assert_eq!(normalize("/a%6"), "/a%6", "a cut escape stays");
        assert_eq!(normalize("/a%+6b"), "/a%+6b");
    }

    #[test]
    fn literal_segments_beat_templates() {
        let r = router(&[
            ("/users/{id}", Get),
            ("/users/me", Get),
            ("/users/{userId}/posts", Get),
        ]);
        assert_eq!(
            r.find(Get, "/users/me"),
            RouteMatch::Found {
                operation: 1,
                params: vec![]
            }
        );
        assert_eq!(
            r.find(Get, "/users/42"),
            RouteMatch::Found {
                operation: 0,
                params: vec![("id", "42")]
            }
        );
        assert_eq!(
            r.find(Get, "/users/42/posts"),
            RouteMatch::Found {
                operation: 2,
                params: vec![("userId", "42")]
            }
        );
        assert_eq!(
            r.find(Get, "/users/me/posts"),
            RouteMatch::Found {
                operation: 2,
                params: vec![("userId", "me")]
            }
        );
    }

    #[test]
    fn paths_match_as_sent() {
        let r = router(&[("/pets", Get), ("/pets/{id}", Get)]);
        assert_eq!(
            r.find(Get, "/pets/"),
            RouteMatch::NotFound,
            "a trailing slash is significant"
        );
        assert_eq!(
            r.find(Get, "/pet%73"),
            RouteMatch::NotFound,
            "an encoded letter is not the letter"
        );
        assert_eq!(
            r.find(Get, "/pets/a%2Fb"),
            RouteMatch::Found {
                operation: 1,
                params: vec![("id", "a%2Fb")]
            },
            "%2F stays in its segment"
        );
    }

    #[test]
    fn wrong_method_lists_the_allowed_ones() {
        let r = router(&[("/pets", Post), ("/pets", Get)]);
        assert_eq!(
            r.find(Delete, "/pets"),
            RouteMatch::MethodNotAllowed {
                allowed: vec![Get, Post]
            }
        );
        assert_eq!(r.find(Get, "/cats"), RouteMatch::NotFound);
    }

    #[test]
    fn several_parameters_in_one_segment() {
        let r = router(&[("/files/{name}.{ext}", Get), ("/files/{id}", Delete)]);
        assert_eq!(
            r.find(Get, "/files/report.tar.gz"),
            RouteMatch::Found {
                operation: 0,
                params: vec![("name", "report"), ("ext", "tar.gz")]
            }
        );
    }

    #[test]
    fn templates_that_differ_only_in_names_collide() {
        let err = Router::new([("/a/{x}", Get, 0), ("/a/{y}", Post, 1)]).unwrap_err();
        assert!(err.to_string().contains("cannot be told apart"), "{err}");
    }
}
