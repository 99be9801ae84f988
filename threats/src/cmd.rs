//! OS command injection: a shell separator followed by a command that an attacker would run.
//!
//! Separators are `;`, `|`, `&`, newlines, `&&`, `||`, backticks, `$(`, `<(`, `>(` and brace
//! expansion `{cmd,arg}`. Quote and backslash tricks (`c'a't`, `w"h"o"am"i`, `who\ami`) are
//! undone first; `$IFS` and `/dev/tcp/` count on their own. A separator alone is not an attack:
//! prose is full of `;`, `&` and `|`. What follows must be a known command, and how much evidence
//! is needed depends on how command-like the word is:
//!
//! - words that are only commands (`whoami`, `wget`, `uname`, `powershell`) need nothing more;
//! - short Unix names (`id`, `rm`, `env`) need to stand alone or take a shell-style argument (`-x`,
//!   a path, `$var`, a redirection);
//! - English words that are also commands (`cat`, `echo`, `sleep`, `ping`, `type`) need a
//!   shell-style argument (`sleep 5` counts only as the whole remainder), unless the separator
//!   itself is shell-only (`&&`, `||`, backticks, `$(`).
//!
//! Unix commands are matched case-sensitively as shells do (`Name & ID` is prose); Windows ones
//! in any case.

use regex::bytes::Regex;
use std::borrow::Cow;

/// How much context a command word needs before it counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tier {
    /// Never prose.
    Strong,
    /// Alone, or with a shell-style argument.
    Medium,
    /// English words: a shell-style argument or a shell-only separator.
    Weak,
    /// `net user`, `net localgroup`, …
    NetSub,
}

/// `(name, tier, windows, takes a bare number such as a delay)`, sorted by name for binary search.
const COMMANDS: [(&str, Tier, bool, bool); 90] = [
    ("awk", Tier::Medium, false, false),
    ("base64", Tier::Strong, false, false),
    ("bash", Tier::Strong, false, false),
    ("bitsadmin", Tier::Strong, true, false),
    ("busybox", Tier::Strong, false, false),
    ("cat", Tier::Weak, false, false),
    ("certutil", Tier::Strong, true, false),
    ("chmod", Tier::Strong, false, false),
    ("chown", Tier::Strong, false, false),
    ("cmd", Tier::Medium, true, false),
    ("cscript", Tier::Strong, true, false),
    ("csh", Tier::Strong, false, false),
    ("curl", Tier::Strong, false, false),
    ("dash", Tier::Weak, false, false),
    ("dig", Tier::Weak, false, false),
    ("dir", Tier::Medium, true, false),
    ("echo", Tier::Weak, true, false),
    ("env", Tier::Medium, false, false),
    ("eval", Tier::Weak, false, false),
    ("exec", Tier::Weak, false, false),
    ("find", Tier::Weak, false, false),
    ("ftp", Tier::Medium, true, false),
    ("grep", Tier::Medium, false, false),
    ("head", Tier::Weak, false, false),
    ("hostname", Tier::Medium, true, false),
    ("id", Tier::Medium, false, false),
    ("ifconfig", Tier::Strong, false, false),
    ("ipconfig", Tier::Strong, true, false),
    ("kill", Tier::Weak, false, false),
    ("killall", Tier::Strong, false, false),
    ("ksh", Tier::Strong, false, false),
    ("less", Tier::Weak, false, false),
    ("ls", Tier::Strong, false, false),
    ("mkfifo", Tier::Strong, false, false),
    ("more", Tier::Weak, true, false),
    ("mshta", Tier::Strong, true, false),
    ("nc", Tier::Strong, false, false),
    ("ncat", Tier::Strong, false, false),
    ("net", Tier::NetSub, true, false),
    ("netcat", Tier::Strong, false, false),
    ("netstat", Tier::Strong, true, false),
    ("nmap", Tier::Strong, false, false),
    ("nohup", Tier::Strong, false, false),
    ("nslookup", Tier::Strong, true, false),
    ("openssl", Tier::Strong, false, false),
    ("perl", Tier::Strong, false, false),
    ("php", Tier::Strong, false, false),
    ("ping", Tier::Weak, true, true),
    ("pkill", Tier::Strong, false, false),
    ("powershell", Tier::Strong, true, false),
    ("printenv", Tier::Strong, false, false),
    ("printf", Tier::Strong, false, false),
    ("ps", Tier::Strong, false, false),
    ("pwd", Tier::Strong, false, false),
    ("pwsh", Tier::Strong, true, false),
    ("python", Tier::Strong, false, false),
    ("python2", Tier::Strong, false, false),
    ("python3", Tier::Strong, false, false),
    ("reg", Tier::Medium, true, false),
    ("regsvr32", Tier::Strong, true, false),
    ("rm", Tier::Medium, false, false),
    ("ruby", Tier::Strong, false, false),
    ("rundll32", Tier::Strong, true, false),
    ("scp", Tier::Strong, false, false),
    ("sed", Tier::Medium, false, false),
    ("sh", Tier::Strong, false, false),
    ("sleep", Tier::Weak, false, true),
    ("socat", Tier::Strong, false, false),
    ("ssh", Tier::Medium, false, false),
    ("sudo", Tier::Strong, false, false),
    ("systeminfo", Tier::Strong, true, false),
    ("tail", Tier::Weak, false, false),
    ("taskkill", Tier::Strong, true, false),
    ("tasklist", Tier::Strong, true, false),
    ("tcsh", Tier::Strong, false, false),
    ("telnet", Tier::Strong, true, false),
    ("tftp", Tier::Strong, true, false),
    ("timeout", Tier::Weak, true, true),
    ("touch", Tier::Weak, false, false),
    ("type", Tier::Weak, true, false),
    ("uname", Tier::Strong, false, false),
    ("useradd", Tier::Strong, false, false),
    ("ver", Tier::Medium, true, false),
    ("wget", Tier::Strong, false, false),
    ("whoami", Tier::Strong, true, false),
    ("wmic", Tier::Strong, true, false),
    ("wscript", Tier::Strong, true, false),
    ("xterm", Tier::Strong, false, false),
    ("xxd", Tier::Strong, false, false),
    ("zsh", Tier::Strong, false, false),
];

/// What `net` must be followed by to be the Windows command.
const NET_SUBCOMMANDS: [&str; 10] = [
    "user",
    "users",
    "localgroup",
    "group",
    "view",
    "share",
    "use",
    "accounts",
    "session",
    "start",
];

/// Compiled command-injection patterns.
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    /// Signals that need no separator: `$IFS` stands for whitespace only in shell payloads, and
    /// `/dev/tcp/` is bash's socket device, used for reverse shells.
    standalone: Regex,
}

impl Cmd {
    pub(crate) fn new() -> Self {
        let standalone = Regex::new(r"(?-u)\$\{?IFS\b|/dev/(?:tcp|udp)/");
        Self {
            standalone: standalone.unwrap_or_else(|e| panic!("built-in command pattern: {e}")),
        }
    }

    /// Whether `value` (URL-decoded already) carries an OS command injection.
    pub(crate) fn detect(&self, value: &[u8]) -> bool {
        self.standalone.is_match(value) || separated_command(value)
    }
}

/// Bytes that start a separator (`$`, `<`, `>` only before `(`).
const SEPARATOR_START: [bool; 256] = byte_set(b";|&\n\r`${<>");

/// Bytes the shell removes or rewrites while parsing a word.
const WORD_SYNTAX: [bool; 256] = byte_set(b"'\"\\^$");

const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
}

/// A separator followed by a command.
fn separated_command(value: &[u8]) -> bool {
    let n = normalize(value);
    let mut i = 0;
    while let Some(offset) = n
        .get(i..)
        .and_then(|r| r.iter().position(|&b| SEPARATOR_START[b as usize]))
    {
        i += offset;
        let next = n.get(i + 1).copied();
        let (len, shell_only, brace) = match (n.get(i).copied().unwrap_or_default(), next) {
            (b'&', Some(b'&')) | (b'|', Some(b'|')) => (2, true, false),
            (b'$' | b'<' | b'>', Some(b'(')) => (2, true, false),
            (b'`', _) => (1, true, false),
            (b';' | b'|' | b'&' | b'\n' | b'\r', _) => (1, false, false),
            (b'{', _) => (1, false, true),
            _ => {
                i += 1;
                continue;
            }
        };
        if command_at(&n, i + len, shell_only, brace) {
            return true;
        }
        i += len;
    }
    false
}

/// Quotes dropped, `\` before a letter or digit and `^` inside words dropped, `$@`, `$*` and `$1`
/// (empty in a fresh shell) dropped: what the shell sees once it has parsed the word.
fn normalize(value: &[u8]) -> Cow<'_, [u8]> {
    let mut out = Vec::new();
    let mut copied = 0;
    let mut changed = false;
    let mut i = 0;
    while let Some(offset) = value
        .get(i..)
        .and_then(|r| r.iter().position(|&b| WORD_SYNTAX[b as usize]))
    {
        i += offset;
        let prev_alnum = i > 0 && value.get(i - 1).is_some_and(u8::is_ascii_alphanumeric);
        let next = value.get(i + 1).copied();
        let next_alnum = next.is_some_and(|c| c.is_ascii_alphanumeric());
        let drop = match value.get(i).copied().unwrap_or_default() {
            b'\'' | b'"' => 1,
            // `\cat` skips aliases, `who\ami` is `whoami`; `^` is cmd.exe's escape.
            b'\\' if next_alnum => 1,
            b'^' if prev_alnum && next_alnum => 1,
            b'$' if next.is_some_and(|c| c.is_ascii_digit() || c == b'@' || c == b'*') => 2,
            _ => 0,
        };
        if drop > 0 {
            out.extend_from_slice(value.get(copied..i).unwrap_or_default());
            copied = i + drop;
            changed = true;
        }
        i += drop.max(1);
    }
    if !changed {
        return Cow::Borrowed(value);
    }
    out.extend_from_slice(value.get(copied..).unwrap_or_default());
    Cow::Owned(out)
}

/// Whether a command the attacker runs starts at `start`, right after a separator.
fn command_at(n: &[u8], start: usize, shell_only: bool, brace: bool) -> bool {
    let mut i = start;
    if !brace {
        while n
            .get(i)
            .is_some_and(|&c| matches!(c, b' ' | b'\t' | b'(' | b'{' | b'!'))
        {
            i += 1;
        }
    }
    if n.get(i) == Some(&b'/') {
        return path_command(n, i);
    }
    let len = n.get(i..).map_or(0, |r| {
        r.iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
            .count()
    });
    let end = i + len;
    let word = n.get(i..end).unwrap_or_default();
    let after = n.get(end).copied();
    // `{cat,/etc/passwd}`: in brace expansion a comma ends the word; elsewhere it is part of it.
    let ends = after.is_none_or(|c| ends_word(c) || (brace && c == b','));
    if word.is_empty() || !ends {
        return false;
    }
    let Some((tier, numeric)) = lookup(word) else {
        return false;
    };
    if brace {
        return after == Some(b',');
    }
    let segment = segment(n, end);
    match tier {
        Tier::Strong => true,
        Tier::Medium => blank(segment) || shell_argument(segment),
        Tier::Weak => shell_only || shell_argument(segment) || (numeric && only_a_number(segment)),
        Tier::NetSub => segment
            .split(u8::is_ascii_whitespace)
            .find(|w| !w.is_empty())
            .is_some_and(|w| {
                NET_SUBCOMMANDS
                    .iter()
                    .any(|s| w.eq_ignore_ascii_case(s.as_bytes()))
            }),
    }
}

/// Bytes that may follow a command name in a shell.
fn ends_word(c: u8) -> bool {
    c.is_ascii_whitespace()
        || matches!(
            c,
            b';' | b'|' | b'&' | b'`' | b')' | b'}' | b'<' | b'>' | b'#' | b'$'
        )
}

/// [`COMMANDS`]' names packed by [`key`], in the same (sorted) order.
static KEYS: [u128; COMMANDS.len()] = command_keys();

const fn command_keys() -> [u128; COMMANDS.len()] {
    let mut keys = [0; COMMANDS.len()];
    let mut i = 0;
    while i < COMMANDS.len() {
        keys[i] = key(COMMANDS[i].0.as_bytes());
        i += 1;
    }
    keys
}

/// `name` lowercased and packed big-endian, so keys sort like names; `0` for names over 16 bytes.
const fn key(name: &[u8]) -> u128 {
    if name.len() > 16 {
        return 0;
    }
    let mut k = 0u128;
    let mut i = 0;
    while i < 16 {
        let b = if i < name.len() {
            name[i].to_ascii_lowercase()
        } else {
            0
        };
        k = (k << 8) | b as u128;
        i += 1;
    }
    k
}

/// The command's tier and whether it takes a bare number, for `word` as written (`.exe` allowed).
fn lookup(word: &[u8]) -> Option<(Tier, bool)> {
    let (stem, exe) = match word
        .len()
        .checked_sub(4)
        .and_then(|k| word.split_at_checked(k))
    {
        Some((stem, ext)) if ext.eq_ignore_ascii_case(b".exe") => (stem, true),
        _ => (word, false),
    };
    let k = key(stem);
    if k == 0 {
        return None;
    }
    let at = KEYS.binary_search(&k).ok()?;
    let &(name, tier, windows, numeric) = COMMANDS.get(at)?;
    // Unix shells match names exactly; cmd.exe ignores case and accepts the `.exe` suffix.
    let hit = windows || (!exe && stem == name.as_bytes());
    hit.then_some((tier, numeric))
}

/// A command given by path: a glob that the shell expands to one (`/???/c?t`), or any known
/// command in a `bin` directory (`/bin/sh`, `/usr/bin/id`).
fn path_command(n: &[u8], start: usize) -> bool {
    let len = n.get(start..).map_or(0, |r| {
        r.iter()
            .take_while(|&&c| {
                c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/' | b'?' | b'*')
            })
            .count()
    });
    let path = n.get(start..start + len).unwrap_or_default();
    if path.iter().any(|&c| c == b'?' || c == b'*')
        && path.iter().filter(|&&c| c == b'/').count() >= 2
    {
        return true;
    }
    let Some(slash) = path.iter().rposition(|&c| c == b'/') else {
        return false;
    };
    let (dir, name) = path.split_at(slash);
    dir.ends_with(b"bin") && lookup(name.get(1..).unwrap_or_default()).is_some()
}

/// The command's arguments: up to the next separator.
fn segment(n: &[u8], start: usize) -> &[u8] {
    let rest = n.get(start..).unwrap_or_default();
    let end = rest
        .iter()
        .position(|&c| matches!(c, b';' | b'|' | b'&' | b'\n' | b'\r' | b'`' | b')'))
        .unwrap_or(rest.len());
    let args = rest.get(..end).unwrap_or_default();
    // A shell comment ends the command too.
    match args.iter().position(|&c| c == b'#') {
        Some(p) => args.get(..p).unwrap_or_default(),
        None => args,
    }
}

fn blank(segment: &[u8]) -> bool {
    segment.iter().all(u8::is_ascii_whitespace)
}

/// An argument only a shell user writes: an option, a path, a variable, a redirection.
fn shell_argument(segment: &[u8]) -> bool {
    segment
        .split(u8::is_ascii_whitespace)
        .filter(|w| !w.is_empty())
        .any(|w| match *w {
            [b'-', c, ..] => c.is_ascii_alphanumeric() || c == b'-',
            [b'/' | b'~' | b'$' | b'>' | b'<' | b'{' | b'*', ..] => true,
            [b'.', b'/', ..] | [b'.', b'.', b'/', ..] => true,
            [d, b':', ..] => d.is_ascii_alphabetic(),
            _ => false,
        })
}

/// `sleep 10`: the remainder is a single number.
fn only_a_number(segment: &[u8]) -> bool {
    let t = segment.trim_ascii();
    !t.is_empty() && t.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> bool {
        Cmd::new().detect(s.as_bytes())
    }

    #[test]
    fn separators_followed_by_commands_are_found() {
        for v in [
            "; cat /etc/passwd",
            "a|id|",
            "`id`",
            "$(whoami)",
            "127.0.0.1 && ls",
            "x; sleep 10",
            ";w\"h\"o\"a\"m\"i",
            ";who\\ami",
            "{cat,/etc/passwd}",
            "; /???/c?t /???/p??s??",
            "|/usr/bin/id",
            "& net user",
            "& WHOAMI",
            "| type C:\\Windows\\win.ini",
            "cat${IFS}/etc/passwd",
            "\nid",
        ] {
            assert!(cmd(v), "{v:?}");
        }
    }

    #[test]
    fn prose_with_separators_is_not_an_injection() {
        for v in [
            "Tom & Jerry",
            "Bring your passport; ID required",
            "Work hard; sleep well & dream big!",
            "Ping me later; echo chamber effects",
            "Eat, pray; sleep.",
            "Tea; sleep 8 hours",
            "Home | About | Contact",
            "Price: $5 (incl. tax); delivery",
            "a=1&sh=2&id=3",
            "$(document).ready(init);",
            "Net weight; net 30 days",
        ] {
            assert!(!cmd(v), "{v:?}");
        }
    }

    #[test]
    fn unix_names_are_case_sensitive_and_windows_ones_are_not() {
        assert!(lookup(b"id").is_some());
        assert!(lookup(b"ID").is_none());
        assert!(lookup(b"WhoAmI").is_some());
        assert!(lookup(b"cmd.exe").is_some());
        assert!(lookup(b"bash.exe").is_none());
        assert!(lookup(b".exe").is_none());
        assert!(lookup(b"averyveryverylongword").is_none());
    }

    #[test]
    fn command_table_is_sorted_for_binary_search() {
        assert!(COMMANDS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(KEYS.windows(2).all(|w| w[0] < w[1]));
    }
}
