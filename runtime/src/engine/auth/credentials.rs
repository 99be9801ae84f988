//! Reading credentials from a request head: bearer tokens and API keys, from exactly the places a
//! scheme declares.

use http::HeaderName;
use http::request::Parts;
use percent_encoding::percent_decode_str;
use specgate_plan::scheme::TokenSource;

/// What a scheme found where it looks for its credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Found {
    Nothing,
    One(String),
    /// More than one credential where one is expected.
    Several,
    /// Something that claims to be a credential but cannot be one (`Authorization: Bearer` with no
    /// token, characters a token never has, a value that is not UTF-8).
    Malformed,
}

/// Bearer tokens from the scheme's sources. The same token in several places counts once; two
/// different tokens are [`Found::Several`].
pub(crate) fn bearer(head: &Parts, sources: &[TokenSource]) -> Found {
    let mut tokens: Vec<String> = Vec::new();
    for source in sources {
        let values = match source {
            TokenSource::Header => authorization_bearer(head),
            TokenSource::Query(name) => query_values(head, name),
            TokenSource::Cookie(name) => cookie_values(head, name),
        };
        for value in values {
            match value {
                Some(token) if is_b64token(&token) => tokens.push(token),
                _ => return Found::Malformed,
            }
        }
    }
    match tokens.split_first() {
        None => Found::Nothing,
        Some((first, rest)) if rest.iter().all(|t| t == first) => Found::One(first.clone()),
        Some(_) => Found::Several,
    }
}

/// An API key from where the scheme declares it. A second copy, even an identical one, is
/// [`Found::Several`]: a client sends its key once.
pub(crate) fn api_key(head: &Parts, place: &KeyPlace) -> Found {
    let values: Vec<Option<String>> = match place {
        KeyPlace::Header(header) => head
            .headers
            .get_all(header)
            .iter()
            .map(|v| {
                v.to_str()
                    .ok()
                    .map(|v| v.trim_matches([' ', '\t']).to_owned())
            })
            .collect(),
        KeyPlace::Query(name) => query_values(head, name),
        KeyPlace::Cookie(name) => cookie_values(head, name),
    };
    match values.as_slice() {
        [] => Found::Nothing,
        [Some(key)] if !key.is_empty() => Found::One(key.clone()),
        [_] => Found::Malformed,
        _ => Found::Several,
    }
}

/// Where an API key is read: a header (its name parsed once), a query parameter or a cookie.
#[derive(Debug, Clone)]
pub(crate) enum KeyPlace {
    Header(HeaderName),
    Query(String),
    Cookie(String),
}

/// The tokens of every `Authorization: Bearer …` header; `None` for one that names the Bearer
/// scheme but holds no usable token. Headers of other schemes (Basic, …) are not bearer tokens.
fn authorization_bearer(head: &Parts) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for value in head.headers.get_all(http::header::AUTHORIZATION) {
        let bytes = value.as_bytes().trim_ascii();
        let Some(scheme) = bytes.get(..6) else {
            continue;
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            continue;
        }
        let rest = &bytes[6..];
        if !rest.is_empty() && !rest.starts_with(b" ") {
            // `Bearerx…` is another scheme's name.
            continue;
        }
        let token = std::str::from_utf8(rest.trim_ascii_start())
            .ok()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        out.push(token);
    }
    out
}

/// Every value of query parameter `name` (names and values percent-decoded, `+` a space), `None` for
/// a value that is not UTF-8.
fn query_values(head: &Parts, name: &str) -> Vec<Option<String>> {
    let Some(query) = head.uri.query() else {
        return Vec::new();
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key, true).as_deref() == Some(name)).then(|| decode(value, true))
        })
        .collect()
}

/// Every value of cookie `name` across all `Cookie` headers (unquoted, then percent-decoded, as
/// cookie parameters are), `None` for a value that is not UTF-8.
fn cookie_values(head: &Parts, name: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    for header in head.headers.get_all(http::header::COOKIE) {
        let Ok(header) = header.to_str() else {
            continue;
        };
        for pair in header.split(';') {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            if key.trim_matches([' ', '\t']) != name {
                continue;
            }
            let value = value.trim_matches([' ', '\t']);
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            out.push(decode(value, false));
        }
    }
    out
}

fn decode(raw: &str, plus_is_space: bool) -> Option<String> {
    let spaced;
    let raw = if plus_is_space && raw.contains('+') {
        spaced = raw.replace('+', " ");
        &spaced
    } else {
        raw
    };
    percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// RFC 6750 `b64token`: the characters a bearer token may have.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_other_schemes_are_ignored() {
        let sources = [TokenSource::Header];
        for value in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER   abc.def.ghi ",
        ] {
            assert_eq!(
                bearer(&head("/", &[("authorization", value)]), &sources),
                Found::One("abc.def.ghi".into())
            );
        }
        assert_eq!(
            bearer(&head("/", &[("authorization", "Basic dXNlcjpw")]), &sources),
            Found::Nothing
        );
        assert_eq!(
            bearer(&head("/", &[("authorization", "Bearerabc")]), &sources),
            Found::Nothing
        );
        assert_eq!(
            bearer(&head("/", &[("authorization", "Bearer")]), &sources),
            Found::Malformed
        );
        assert_eq!(
            bearer(&head("/", &[("authorization", "Bearer a b")]), &sources),
            Found::Malformed
        );
        assert_eq!(bearer(&head("/", &[]), &sources), Found::Nothing);
    }

    #[test]
    fn query_and_cookie_tokens_only_when_listed() {
        let h = head(
            "/x?access_token=q.q.q",
            &[("cookie", "a=1; session=\"c.c.c\"")],
        );
        assert_eq!(bearer(&h, &[TokenSource::Header]), Found::Nothing);
        assert_eq!(
            bearer(&h, &[TokenSource::Query("access_token".into())]),
            Found::One("q.q.q".into())
        );
        assert_eq!(
            bearer(&h, &[TokenSource::Cookie("session".into())]),
            Found::One("c.c.c".into())
        );
        assert_eq!(
            bearer(
                &h,
                &[
                    TokenSource::Query("access_token".into()),
                    TokenSource::Cookie("session".into())
                ]
            ),
            Found::Several
        );
    }

    #[test]
    fn the_same_token_twice_is_one_and_two_different_are_several() {
        let sources = [TokenSource::Header, TokenSource::Query("t".into())];
        let same = head("/?t=a.b.c", &[("authorization", "Bearer a.b.c")]);
        assert_eq!(bearer(&same, &sources), Found::One("a.b.c".into()));
        let two_headers = head(
            "/",
            &[
                ("authorization", "Bearer a.b.c"),
                ("authorization", "Bearer x.y.z"),
            ],
        );
        assert_eq!(bearer(&two_headers, &sources), Found::Several);
        let two_queries = head("/?t=a.b.c&t=x.y.z", &[]);
        assert_eq!(bearer(&two_queries, &sources), Found::Several);
    }

    #[test]
    fn api_keys_in_each_location() {
        let header = KeyPlace::Header(HeaderName::from_static("x-api-key"));
        let query = KeyPlace::Query("api_key".into());
        let cookie = KeyPlace::Cookie("api_key".into());
        let h = head(
            "/?api_key=k%201",
            &[("X-API-Key", " k-h "), ("cookie", "api_key=k%2Bc")],
        );
        assert_eq!(api_key(&h, &header), Found::One("k-h".into()));
        assert_eq!(api_key(&h, &query), Found::One("k 1".into()));
        assert_eq!(api_key(&h, &cookie), Found::One("k+c".into()));
        let twice = head(
            "/?api_key=a&api_key=a",
            &[("x-api-key", "a"), ("x-api-key", "a")],
        );
        assert_eq!(api_key(&twice, &query), Found::Several);
        assert_eq!(api_key(&twice, &header), Found::Several);
        let empty = head("/?api_key=", &[]);
        assert_eq!(api_key(&empty, &query), Found::Malformed);
        let bad_utf8 = head("/?api_key=%FF", &[]);
        assert_eq!(api_key(&bad_utf8, &query), Found::Malformed);
    }
}
