//! Routing under the spec's `servers`: the path part of each server URL is a base path that requests
//! carry before the spec's path template (`https://api.example.com/v2` + `/pets` = `/v2/pets`).

use std::collections::BTreeMap;

use specgate_plan::Server;

/// The most URLs one server expands to (every combination of its variables' values).
const MAX_EXPANSIONS: usize = 64;

/// Every URL a server stands for: its variables replaced by each of their allowed values (an `enum`,
/// else the default), combinations bounded by [`MAX_EXPANSIONS`].
pub fn expand(server: &Server) -> Vec<String> {
    let mut urls = vec![server.url.clone()];
    for (name, values) in &server.variables {
        let placeholder = format!("{{{name}}}");
        if !server.url.contains(&placeholder) {
            continue;
        }
        let mut next = Vec::new();
        'outer: for url in &urls {
            for value in values {
                if next.len() == MAX_EXPANSIONS {
                    break 'outer;
                }
                next.push(url.replace(&placeholder, value));
            }
        }
        urls = next;
    }
    urls
}

/// The base path of a server URL: its path, without a trailing slash (`""` for the root).
pub fn base_path(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or("");
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        // A relative URL is relative to where the spec is served from; its path is the base.
        None => url,
    };
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        String::new()
    } else if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

/// The base paths of an operation's servers (the root when it has none), deduplicated.
pub fn base_paths(servers: &[Server]) -> Vec<String> {
    if servers.is_empty() {
        return vec![String::new()];
    }
    let mut bases: Vec<String> = servers
        .iter()
        .flat_map(expand)
        .map(|url| base_path(&url))
        .collect();
    bases.sort();
    bases.dedup();
    bases
}

/// `path` under `base`: what follows it, starting with `/`; `None` when the path is not under it.
pub fn strip<'p>(path: &'p str, base: &str) -> Option<&'p str> {
    if base.is_empty() {
        return Some(path);
    }
    let rest = path.strip_prefix(base)?;
    rest.starts_with('/').then_some(rest)
}

/// Base paths as indices shared by all operations: `bases` longest first (so `/api/v2` is tried
/// before `/api`), and each operation's set.
#[derive(Debug, Default)]
pub struct BasePaths {
    pub bases: Vec<String>,
    /// Per operation: indices into `bases`.
    pub of_operation: Vec<Vec<usize>>,
}

impl BasePaths {
    pub fn new(per_operation: Vec<Vec<String>>) -> Self {
        let mut all: Vec<String> = per_operation.iter().flatten().cloned().collect();
        all.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        all.dedup();
        let index: BTreeMap<&str, usize> = all
            .iter()
            .enumerate()
            .map(|(i, b)| (b.as_str(), i))
            .collect();
        let of_operation = per_operation
            .iter()
            .map(|bases| bases.iter().map(|b| index[b.as_str()]).collect())
            .collect();
        Self {
            bases: all,
            of_operation,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: &str, variables: &[(&str, &[&str])]) -> Server {
        Server {
            url: url.into(),
            variables: variables
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
                .collect(),
        }
    }

    #[test]
    fn base_paths_come_from_the_path_of_each_server() {
        assert_eq!(base_path("https://api.example.com/v1"), "/v1");
        assert_eq!(base_path("https://api.example.com/v1/"), "/v1");
        assert_eq!(base_path("https://api.example.com"), "");
        assert_eq!(base_path("http://localhost:8080/"), "");
        assert_eq!(base_path("/api"), "/api");
        assert_eq!(base_path("api/v3"), "/api/v3");
        assert_eq!(base_path(""), "");
        assert_eq!(base_path("https://x.example.com/a?b=c"), "/a");
    }

    #[test]
    fn variables_expand_to_every_allowed_value() {
        let s = server(
            "https://{region}.example.com/{version}",
            &[("region", &["eu", "us"]), ("version", &["v1", "v2"])],
        );
        let mut urls = expand(&s);
        urls.sort();
        assert_eq!(
            urls,
            [
                "https://eu.example.com/v1",
                "https://eu.example.com/v2",
                "https://us.example.com/v1",
                "https://us.example.com/v2"
            ]
        );
        assert_eq!(base_paths(&[s]), ["/v1", "/v2"]);
        assert_eq!(base_paths(&[]), [""]);
    }

    #[test]
    fn paths_are_stripped_at_segment_boundaries_only() {
        assert_eq!(strip("/v1/pets", "/v1"), Some("/pets"));
        assert_eq!(strip("/v1", "/v1"), None);
        assert_eq!(strip("/v10/pets", "/v1"), None);
        assert_eq!(strip("/pets", ""), Some("/pets"));
    }

    #[test]
    fn longer_bases_are_tried_first() {
        let b = BasePaths::new(vec![vec!["/api".into()], vec!["/api/v2".into(), "".into()]]);
        assert_eq!(b.bases, ["/api/v2", "/api", ""]);
        assert_eq!(b.of_operation, [vec![1], vec![0, 2]]);
    }
}
