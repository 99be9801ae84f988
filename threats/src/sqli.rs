//! SQL injection: a small SQL tokenizer and injection fingerprints over its tokens, tried with the
//! value starting outside any string (numeric context) and inside a single- or double-quoted one.
//!
//! An injected value has to leave the literal it was placed in and then say something SQL. So the
//! fingerprints look at what follows the break-out: a tautology (`' or '1'='1`, `1 or 1=1`), a
//! comment that cuts the rest of the query off (`admin'--`), a stacked statement (`; drop table`),
//! `union select`, `order by N` probing. A few signals count anywhere because prose never has them:
//! `sleep(5)`, `benchmark(`, `waitfor delay '`, `@@version`, `load_file(`, `(select …`.
//!
//! Prose stays quiet because the rules want SQL on *both* sides of the break: `O'Brien` breaks out
//! and continues with a plain word; `Rockin' and Rollin'` has a logical word but then only a word;
//! `Select your plan; drop-off at 5` has a statement word after `;` but not the statement's shape.
//! A plain query in a documented free-text field (`SELECT name FROM users WHERE id = 42`) does not
//! break out of anything and is not flagged; one with `union select` or `; drop table` is.

/// A token class; strings and words carry just what the fingerprints need.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    Str { closed: bool },
    Num,
    Word(Fun),
    Func(Fun),
    Kw(Kw),
    Logic { symbolic: bool },
    Not,
    Cmp { symbolic: bool },
    Arith,
    LParen,
    RParen,
    Comma,
    Semi,
    Var { system: bool },
    Other,
}

/// What a word means when it is called as a function.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fun {
    Plain,
    Sleep,
    Benchmark,
    /// Calls that only make sense in an attack: heavy work for timing, file and network access.
    Danger,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kw {
    Union,
    Select,
    From,
    Where,
    Order,
    Group,
    By,
    Having,
    Limit,
    Procedure,
    Into,
    FileSink,
    Case,
    When,
    Exists,
    Const,
    AllDistinct,
    Drop,
    Insert,
    Delete,
    Update,
    Exec,
    Shutdown,
    Declare,
    Waitfor,
    Delay,
    Truncate,
    AlterCreate,
    Object,
    Set,
    Values,
}

struct Lexed {
    toks: Vec<Tok>,
    /// The value ends in a comment: whatever the application appends after it is cut off.
    trailing_comment: bool,
}

/// Whether `s` (decoded, any case) carries an SQL injection.
pub(crate) fn is_sqli(s: &[u8]) -> bool {
    let plain = lex(s, None);
    if anywhere(&plain.toks) || numeric_context(&plain) {
        return true;
    }
    for quote in [b'\'', b'"'] {
        if s.contains(&quote) {
            let quoted = lex(s, Some(quote));
            if after_break(&quoted) || anywhere(&quoted.toks) {
                return true;
            }
        }
    }
    false
}

fn lex(s: &[u8], open_quote: Option<u8>) -> Lexed {
    let mut toks = Vec::with_capacity(s.len() / 3 + 1);
    let mut i = 0;
    let mut comment_last = false;
    let mut in_versioned = false;
    if let Some(q) = open_quote {
        let (end, closed) = string_end(s, 0, q);
        toks.push(Tok::Str { closed });
        i = end;
    }
    while let Some(&b) = s.get(i) {
        let next = s.get(i + 1).copied();
        let (tok, len) = match b {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0 => {
                i += 1;
                continue;
            }
            b'-' if next == Some(b'-') => {
                i = line_end(s, i);
                comment_last = true;
                continue;
            }
            b'#' => {
                i = line_end(s, i);
                comment_last = true;
                continue;
            }
            b'/' if next == Some(b'*') => {
                if s.get(i + 2) == Some(&b'!') {
                    // MySQL runs the inside of `/*!50000 … */`: unwrap it.
                    i += 3;
                    while s.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                    in_versioned = true;
                } else {
                    match find(s, i + 2, b"*/") {
                        Some(end) => i = end + 2,
                        None => {
                            i = s.len();
                            comment_last = true;
                        }
                    }
                }
                continue;
            }
            b'*' if in_versioned && next == Some(b'/') => {
                in_versioned = false;
                i += 2;
                continue;
            }
            b'\'' | b'"' => {
                let (end, closed) = string_end(s, i + 1, b);
                (Tok::Str { closed }, end - i)
            }
            b'`' => {
                let end = s
                    .get(i + 1..)
                    .and_then(|r| r.iter().position(|&c| c == b'`'))
                    .map_or(s.len(), |p| i + 1 + p + 1);
                (Tok::Word(Fun::Plain), end - i)
            }
            b'0'..=b'9' => (
                Tok::Num,
                run(s, i, |c| c.is_ascii_alphanumeric() || c == b'.'),
            ),
            b'.' if next.is_some_and(|c| c.is_ascii_digit()) => (
                Tok::Num,
                run(s, i, |c| c.is_ascii_alphanumeric() || c == b'.'),
            ),
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b'$' | 0x80..=0xFF => {
                let len = run(s, i, word_byte);
                (classify(s.get(i..i + len).unwrap_or_default()), len)
            }
            b'@' => {
                let system = next == Some(b'@');
                let start = if system { i + 2 } else { i + 1 };
                let len = run(s, start, word_byte);
                let name = s.get(start..start + len).unwrap_or_default();
                let known = system && is_system_variable(name);
                (Tok::Var { system: known }, start + len - i)
            }
            b'(' => {
                if let Some(Tok::Word(f)) = toks.last().copied()
                    && let Some(last) = toks.last_mut()
                {
                    *last = Tok::Func(f);
                }
                (Tok::LParen, 1)
            }
            b')' => (Tok::RParen, 1),
            b',' => (Tok::Comma, 1),
            b';' => (Tok::Semi, 1),
            b'=' => (
                Tok::Cmp { symbolic: true },
                if next == Some(b'=') { 2 } else { 1 },
            ),
            b'<' => {
                let len = match (next, s.get(i + 2)) {
                    (Some(b'='), Some(b'>')) => 3,
                    (Some(b'=' | b'>'), _) => 2,
                    _ => 1,
                };
                (Tok::Cmp { symbolic: true }, len)
            }
            b'>' => (
                Tok::Cmp { symbolic: true },
                if next == Some(b'=') { 2 } else { 1 },
            ),
            b'!' if next == Some(b'=') => (Tok::Cmp { symbolic: true }, 2),
            b'!' => (Tok::Not, 1),
            b'|' if next == Some(b'|') => (Tok::Logic { symbolic: true }, 2),
            b'&' if next == Some(b'&') => (Tok::Logic { symbolic: true }, 2),
            b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'~' | b'|' | b'&' => (Tok::Arith, 1),
            _ => (Tok::Other, 1),
        };
        toks.push(tok);
        comment_last = false;
        i += len.max(1);
    }
    Lexed {
        toks,
        trailing_comment: comment_last,
    }
}

fn word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.') || c >= 0x80
}

/// Length of the run of bytes from `start` that satisfy `f`.
fn run(s: &[u8], start: usize, f: impl Fn(u8) -> bool) -> usize {
    s.get(start..)
        .map_or(0, |r| r.iter().take_while(|&&c| f(c)).count())
}

/// End of a string body starting at `start`, and whether its closing quote was there. Quotes are
/// not unescaped (`''`, `\'`): each quote ends the string, which is what a break-out relies on.
fn string_end(s: &[u8], start: usize, quote: u8) -> (usize, bool) {
    match s
        .get(start..)
        .and_then(|r| r.iter().position(|&c| c == quote))
    {
        Some(p) => (start + p + 1, true),
        None => (s.len(), false),
    }
}

fn line_end(s: &[u8], start: usize) -> usize {
    s.get(start..)
        .and_then(|r| r.iter().position(|&c| c == b'\n'))
        .map_or(s.len(), |p| start + p)
}

fn find(s: &[u8], start: usize, needle: &[u8]) -> Option<usize> {
    s.get(start..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| start + p)
}

fn is_system_variable(name: &[u8]) -> bool {
    const NAMES: [&str; 9] = [
        "version",
        "datadir",
        "hostname",
        "basedir",
        "servername",
        "tmpdir",
        "spid",
        "language",
        "identity",
    ];
    NAMES
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

fn classify(word: &[u8]) -> Tok {
    let mut buf = [0u8; 24];
    let Some(lower) = buf.get_mut(..word.len()) else {
        return Tok::Word(Fun::Plain);
    };
    lower.copy_from_slice(word);
    lower.make_ascii_lowercase();
    let lower: &[u8] = lower;
    let kw = match lower {
        b"union" => Kw::Union,
        b"select" => Kw::Select,
        b"from" => Kw::From,
        b"where" => Kw::Where,
        b"order" => Kw::Order,
        b"group" => Kw::Group,
        b"by" => Kw::By,
        b"having" => Kw::Having,
        b"limit" => Kw::Limit,
        b"procedure" => Kw::Procedure,
        b"into" => Kw::Into,
        b"outfile" | b"dumpfile" => Kw::FileSink,
        b"case" => Kw::Case,
        b"when" => Kw::When,
        b"exists" => Kw::Exists,
        b"true" | b"false" | b"null" => Kw::Const,
        b"all" | b"distinct" => Kw::AllDistinct,
        b"drop" => Kw::Drop,
        b"insert" => Kw::Insert,
        b"delete" => Kw::Delete,
        b"update" => Kw::Update,
        b"exec" | b"execute" => Kw::Exec,
        b"shutdown" => Kw::Shutdown,
        b"declare" => Kw::Declare,
        b"waitfor" => Kw::Waitfor,
        b"delay" | b"time" => Kw::Delay,
        b"truncate" => Kw::Truncate,
        b"alter" | b"create" => Kw::AlterCreate,
        b"table" | b"database" | b"schema" | b"view" | b"index" | b"user" | b"function"
        | b"trigger" | b"login" => Kw::Object,
        b"set" => Kw::Set,
        b"values" => Kw::Values,
        b"and" | b"or" | b"xor" => return Tok::Logic { symbolic: false },
        b"not" => return Tok::Not,
        b"like" | b"rlike" | b"regexp" | b"is" | b"in" | b"between" | b"sounds" | b"glob" => {
            return Tok::Cmp { symbolic: false };
        }
        b"div" | b"mod" => return Tok::Arith,
        _ => {
            // `dbms_pipe.receive_message`, `master..xp_cmdshell`: the last segment names the call.
            let name = lower.rsplit(|&c| c == b'.').next().unwrap_or(lower);
            let fun = match name {
                b"sleep" | b"pg_sleep" => Fun::Sleep,
                b"benchmark" => Fun::Benchmark,
                b"receive_message" | b"randomblob" | b"load_file" | b"extractvalue"
                | b"updatexml" | b"xp_cmdshell" | b"xp_dirtree" | b"get_host_address" => {
                    Fun::Danger
                }
                _ => Fun::Plain,
            };
            return Tok::Word(fun);
        }
    };
    Tok::Kw(kw)
}

fn at(t: &[Tok], i: usize) -> Option<Tok> {
    t.get(i).copied()
}

fn is_kw(t: &[Tok], i: usize, kw: Kw) -> bool {
    at(t, i) == Some(Tok::Kw(kw))
}

/// Signals that count wherever they appear.
fn anywhere(t: &[Tok]) -> bool {
    (0..t.len()).any(|i| match at(t, i) {
        Some(Tok::Kw(Kw::Union)) => match at(t, i + 1) {
            Some(Tok::Kw(Kw::Select)) => true,
            Some(Tok::Kw(Kw::AllDistinct) | Tok::LParen) => is_kw(t, i + 2, Kw::Select),
            _ => false,
        },
        Some(Tok::Semi) => stacked(t, i + 1),
        Some(Tok::Func(Fun::Sleep)) => {
            at(t, i + 1) == Some(Tok::LParen)
                && at(t, i + 2) == Some(Tok::Num)
                && at(t, i + 3) == Some(Tok::RParen)
        }
        Some(Tok::Func(Fun::Benchmark)) => {
            at(t, i + 2) == Some(Tok::Num) && at(t, i + 3) == Some(Tok::Comma)
        }
        Some(Tok::Func(Fun::Danger) | Tok::Word(Fun::Danger)) => true,
        Some(Tok::Kw(Kw::Waitfor)) => {
            is_kw(t, i + 1, Kw::Delay) && matches!(at(t, i + 2), Some(Tok::Str { .. }))
        }
        Some(Tok::Var { system: true }) => true,
        Some(Tok::LParen) => {
            (is_kw(t, i + 1, Kw::Select) && select_shape(t, i + 2))
                || (is_kw(t, i + 1, Kw::Case) && is_kw(t, i + 2, Kw::When))
        }
        Some(Tok::Kw(Kw::Into)) => is_kw(t, i + 1, Kw::FileSink),
        _ => false,
    })
}

/// Whether the tokens after `select` (from `i`) read as a select list rather than prose.
fn select_shape(t: &[Tok], i: usize) -> bool {
    match at(t, i) {
        Some(
            Tok::Num
            | Tok::Str { .. }
            | Tok::Var { .. }
            | Tok::Func(_)
            | Tok::Kw(Kw::Const | Kw::AllDistinct)
            | Tok::Arith
            | Tok::LParen,
        ) => true,
        Some(Tok::Word(_)) => matches!(at(t, i + 1), Some(Tok::Comma | Tok::Kw(Kw::From))),
        _ => false,
    }
}

/// Whether a statement starts at `i` (after `;`, or directly after a break-out for T-SQL).
fn stacked(t: &[Tok], i: usize) -> bool {
    let Some(Tok::Kw(kw)) = at(t, i) else {
        return false;
    };
    let next = at(t, i + 1);
    match kw {
        Kw::Drop | Kw::Truncate | Kw::AlterCreate => {
            matches!(next, Some(Tok::Kw(Kw::Object | Kw::Procedure)))
        }
        Kw::Insert => {
            is_kw(t, i + 1, Kw::Into)
                && matches!(at(t, i + 2), Some(Tok::Word(_) | Tok::Func(_)))
                && matches!(
                    at(t, i + 3),
                    Some(Tok::LParen | Tok::Kw(Kw::Values | Kw::Select))
                )
        }
        Kw::Delete => {
            is_kw(t, i + 1, Kw::From)
                && matches!(at(t, i + 2), Some(Tok::Word(_)))
                && matches!(at(t, i + 3), None | Some(Tok::Kw(Kw::Where) | Tok::Semi))
        }
        Kw::Update => matches!(next, Some(Tok::Word(_))) && is_kw(t, i + 2, Kw::Set),
        Kw::Select => select_shape(t, i + 1),
        Kw::Exec => matches!(
            next,
            Some(Tok::Word(_) | Tok::Func(_) | Tok::LParen | Tok::Var { .. } | Tok::Str { .. })
        ),
        Kw::Shutdown => matches!(next, None | Some(Tok::Semi)),
        Kw::Declare | Kw::Set => matches!(next, Some(Tok::Var { .. })),
        Kw::Waitfor => next == Some(Tok::Kw(Kw::Delay)),
        _ => false,
    }
}

/// Whether an operand that makes the condition true or probes the database starts at `i`,
/// after `or`/`and` (`' or 1=1`, `' or 'a'='a`, `1 and sleep(5)`, `' or (select …)`).
fn condition(t: &[Tok], i: usize, trailing: bool, symbolic: bool, depth: u8) -> bool {
    let next = at(t, i + 1);
    let ends = next.is_none();
    match at(t, i) {
        Some(Tok::Arith) if depth < 4 => condition(t, i + 1, trailing, symbolic, depth + 1),
        Some(Tok::Num) => {
            matches!(next, Some(Tok::Cmp { .. } | Tok::Semi | Tok::RParen)) || (ends && trailing)
        }
        Some(Tok::Str { closed: true }) => {
            matches!(next, Some(Tok::Cmp { .. } | Tok::Semi))
                || (next == Some(Tok::Arith)
                    && matches!(at(t, i + 2), Some(Tok::Str { .. } | Tok::Num)))
                || (ends && trailing)
        }
        // `1'||'1`: the application's own closing quote ends the operand.
        Some(Tok::Str { closed: false }) => ends && symbolic,
        Some(Tok::Kw(Kw::Const)) => matches!(next, None | Some(Tok::Cmp { .. } | Tok::Semi)),
        Some(Tok::Var { .. }) => matches!(next, Some(Tok::Cmp { .. })),
        Some(Tok::Func(_)) => true,
        Some(Tok::LParen | Tok::Not) if depth < 4 => {
            condition(t, i + 1, trailing, symbolic, depth + 1)
                || is_kw(t, i + 1, Kw::Select) && select_shape(t, i + 2)
        }
        Some(Tok::Kw(Kw::Exists)) => next == Some(Tok::LParen),
        Some(Tok::Kw(Kw::Select)) => select_shape(t, i + 1),
        Some(Tok::Word(_)) => match next {
            Some(Tok::Cmp { symbolic: true }) => matches!(
                at(t, i + 2),
                Some(
                    Tok::Word(_)
                        | Tok::Num
                        | Tok::Str { .. }
                        | Tok::Kw(Kw::Const)
                        | Tok::Var { .. }
                        | Tok::Func(_)
                        | Tok::LParen
                )
            ),
            Some(Tok::Cmp { symbolic: false }) => matches!(
                at(t, i + 2),
                Some(
                    Tok::Num
                        | Tok::Str { .. }
                        | Tok::Kw(Kw::Const)
                        | Tok::Var { .. }
                        | Tok::Func(_)
                        | Tok::LParen
                )
            ),
            _ => false,
        },
        _ => false,
    }
}

/// The value placed unquoted (a number or identifier): `1 or 1=1`, `1) and (1=1`, `1 order by 5`.
fn numeric_context(l: &Lexed) -> bool {
    let t = &l.toks;
    let mut i = usize::from(at(t, 0) == Some(Tok::Arith));
    match at(t, i) {
        Some(Tok::Logic { symbolic }) => {
            return condition(t, i + 1, l.trailing_comment, symbolic, 0);
        }
        Some(Tok::Num | Tok::Word(_) | Tok::Var { .. }) => i += 1,
        Some(Tok::RParen) => {}
        _ => return false,
    }
    while at(t, i) == Some(Tok::RParen) {
        i += 1;
    }
    match at(t, i) {
        Some(Tok::Logic { symbolic }) => condition(t, i + 1, l.trailing_comment, symbolic, 0),
        Some(Tok::Kw(Kw::Order | Kw::Group)) => {
            is_kw(t, i + 1, Kw::By) && at(t, i + 2) == Some(Tok::Num)
        }
        Some(Tok::Kw(Kw::Having)) => condition(t, i + 1, l.trailing_comment, false, 0),
        Some(Tok::Kw(Kw::Procedure)) => true,
        _ => false,
    }
}

/// The value placed inside a quoted literal: the first token is the string it closes; what follows
/// must be SQL that does something.
fn after_break(l: &Lexed) -> bool {
    let t = &l.toks;
    let trailing = l.trailing_comment;
    if at(t, 0) != Some(Tok::Str { closed: true }) {
        return false;
    }
    let mut i = 1;
    while at(t, i) == Some(Tok::RParen) {
        i += 1;
    }
    match at(t, i) {
        // `admin'--`: the rest of the query is commented out.
        None => trailing,
        Some(Tok::Logic { symbolic }) => condition(t, i + 1, trailing, symbolic, 0),
        Some(Tok::Semi) => (at(t, i + 1).is_none() && trailing) || stacked(t, i + 1),
        Some(Tok::Kw(Kw::Union)) => matches!(
            at(t, i + 1),
            Some(Tok::Kw(Kw::Select | Kw::AllDistinct) | Tok::LParen)
        ),
        Some(Tok::Cmp { .. }) => compared(t, i + 1, trailing),
        // `'-'`, `'*'`, `' + (select …) + '`
        Some(Tok::Arith) => match at(t, i + 1) {
            Some(Tok::Str { closed: false }) => at(t, i + 2).is_none(),
            Some(Tok::LParen) => is_kw(t, i + 2, Kw::Select),
            Some(Tok::Func(_)) => true,
            _ => false,
        },
        Some(Tok::Kw(Kw::Order | Kw::Group)) => {
            is_kw(t, i + 1, Kw::By)
                && match at(t, i + 2) {
                    Some(Tok::Num) => true,
                    Some(Tok::Word(_)) => match at(t, i + 3) {
                        Some(Tok::Kw(Kw::Having) | Tok::Comma) => true,
                        None => trailing,
                        _ => false,
                    },
                    _ => false,
                }
        }
        Some(Tok::Kw(Kw::Having)) => condition(t, i + 1, trailing, false, 0),
        Some(Tok::Kw(Kw::Procedure)) => true,
        Some(Tok::Kw(Kw::Into)) => is_kw(t, i + 1, Kw::FileSink),
        Some(Tok::Kw(Kw::Limit)) => {
            at(t, i + 1) == Some(Tok::Num) && (matches!(at(t, i + 2), Some(Tok::Comma)) || trailing)
        }
        Some(Tok::Kw(Kw::Exec | Kw::Waitfor | Kw::Declare | Kw::Shutdown)) => stacked(t, i),
        _ => false,
    }
}

/// After a break-out and a comparison: `'='`, `x' like 'x`, `' = 1 --`.
fn compared(t: &[Tok], i: usize, trailing: bool) -> bool {
    let next = at(t, i + 1);
    match at(t, i) {
        Some(Tok::Str { closed: false }) => next.is_none(),
        Some(
            Tok::Str { closed: true }
            | Tok::Num
            | Tok::Word(_)
            | Tok::Kw(Kw::Const)
            | Tok::Var { .. },
        ) => match next {
            None => trailing,
            Some(Tok::Logic { .. } | Tok::Semi) => true,
            _ => false,
        },
        Some(Tok::Func(_)) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqli(s: &str) -> bool {
        is_sqli(s.as_bytes())
    }

    #[test]
    fn break_outs_with_sql_after_them_are_found() {
        for v in [
            "' or '1'='1",
            "admin'--",
            "') or ('1'='1",
            "1' AND SUBSTRING(@@version,1,1)='5",
            "'; shutdown--",
            "'-'",
            "x' AND email IS NULL; --",
            "' GROUP BY columnnames having 1=1 --",
            "1'||'1",
        ] {
            assert!(sqli(v), "{v}");
        }
    }

    #[test]
    fn numeric_context_and_anywhere_signals_are_found() {
        for v in [
            "1 or 1=1",
            "-1 OR 2>1",
            "1)) OR ((1=1",
            "1 union select null",
            "1 /*!50000UNION*/ /*!50000SELECT*/ 1,2",
            "IF(1=1,SLEEP(5),0)",
            "1 ORDER BY 10--",
            "1; DROP TABLE users",
            "(CASE WHEN (1=1) THEN 1 ELSE 1/0 END)",
        ] {
            assert!(sqli(v), "{v}");
        }
    }

    #[test]
    fn prose_and_plain_queries_are_not_injections() {
        for v in [
            "O'Brien",
            "Rock 'n' Roll",
            "Rockin' and Rollin'",
            "Select your plan; drop-off at 5",
            "I said 'yes' or 'no', nothing else.",
            "1 or 2 guests",
            "{\"or\": 1, \"and\": 2}",
            "SELECT name FROM users WHERE id = 42",
            "WHERE name = 'O''Brien' AND active = 1",
            "Dunkin' and coffee is great",
            "Kids' group by age 5-7",
            "Join the union, select your benefits",
        ] {
            assert!(!sqli(v), "{v}");
        }
    }

    #[test]
    fn lexer_survives_unterminated_constructs() {
        for v in [
            "'", "\"", "`", "/*", "/*!", "--", "@@", "@", "0x", "(", "a(", "*/",
        ] {
            let _ = sqli(v);
        }
        let l = lex(b"a /*!5 b */ c", None);
        assert_eq!(l.toks.len(), 3);
        assert!(lex(b"x'--", Some(b'\'')).trailing_comment);
        assert!(!lex(b"x /**/ y", None).trailing_comment);
    }
}
