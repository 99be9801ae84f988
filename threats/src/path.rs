//! Path traversal and local file inclusion: `..` segments, NUL bytes, sensitive system files and
//! stream wrappers.
//!
//! Runs on the URL-decoded, look-alike-folded value (so `%252e%252e%252f`, `%c0%ae` and `．．／` are
//! already `../`), with `\` read as `/` and case folded. A `..` only counts as a whole path segment
//! next to a separator: `v1.2..v1.4`, `wait...what.txt` and `report.v2.pdf` are fine, and so are
//! relative and absolute paths that do not climb (`docs/guide.md`, `/home/alice/photo.jpg`).

use regex::bytes::Regex;

/// Compiled path patterns.
#[derive(Debug, Clone)]
pub(crate) struct Path {
    /// Sensitive system files and directories.
    files: Regex,
    /// PHP stream wrappers and `file:` URLs.
    wrappers: Regex,
}

impl Path {
    pub(crate) fn new() -> Self {
        // Each branch starts with a literal so the regex engine can skip ahead between candidates.
        let compile = |pattern: &str| {
            Regex::new(pattern).unwrap_or_else(|e| panic!("built-in path pattern: {e}"))
        };
        let files = compile(concat!(
            r"(?-u)(?:^|/)(?:",
            r"etc/+(?:passwd|shadow|gshadow|group|hosts|issue|sudoers|crontab|master\.passwd)(?:$|[^a-z0-9_.-])",
            r"|proc/+(?:self|thread-self|[0-9]+)/",
            r"|proc/+(?:version|cmdline|environ|mounts)(?:$|/)",
            r"|(?:windows|winnt)/+(?:win\.ini|system\.ini|system32|repair|panther|debug)(?:$|[^a-z0-9])",
            r"|(?:boot|win|system)\.ini(?:$|[^a-z0-9])",
            r"|(?:web|meta)-inf/",
            r"|\.ssh/|id_(?:rsa|dsa|ecdsa|ed25519)(?:$|\.pub)",
            r"|\.ht(?:passwd|access)(?:$|[^a-z0-9])",
            r"|\.env$|\.git/|\.aws/credentials",
            r"|inetpub/|var/log/|var/run/secrets/",
            r"|\.(?:bash_history|zsh_history|mysql_history|netrc|pgpass)(?:$|[^a-z0-9])",
            r")",
        ));
        // `\b`: `php://` but not `s3php://`; a look-around keeps the literals for the prefilter.
        let wrappers = compile(
            r"(?-u)\b(?:php|phar|zip|expect|glob|data|compress\.zlib|compress\.bzip2)://|\bfile:/",
        );
        Self { files, wrappers }
    }

    /// Whether `value` (URL-decoded already) reaches outside the directory it is meant for.
    pub(crate) fn detect(&self, value: &[u8]) -> bool {
        // A NUL cuts the name short in C-based file APIs: `shell.php\0.jpg` passes an extension check.
        if value.contains(&0) {
            return true;
        }
        let p: Vec<u8> = value
            .iter()
            .map(|&b| match b {
                b'\\' => b'/',
                _ => b.to_ascii_lowercase(),
            })
            .collect();
        if climbs(&p) || self.wrappers.is_match(&p) {
            return true;
        }
        if p.starts_with(b"./") || memchr::memmem::find(&p, b"/./").is_some() || p.ends_with(b"/.")
        {
            self.files.is_match(&without_dot_segments(&p))
        } else {
            self.files.is_match(&p)
        }
    }
}

/// `p` without `.` segments: `/etc/./passwd` is `/etc/passwd` to the file system.
fn without_dot_segments(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(p.len());
    for (i, seg) in p.split(|&b| b == b'/').enumerate() {
        if seg == b"." {
            continue;
        }
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(seg);
    }
    out
}

/// A `..` path segment (`..`, `....` left by a naive `../` filter, `.. ` that Windows trims, or
/// Tomcat's `..;`) in a value that has at least one separator.
fn climbs(p: &[u8]) -> bool {
    p.contains(&b'/')
        && p.split(|&b| b == b'/').any(|seg| {
            seg.starts_with(b"..")
                && (seg.iter().all(|&b| b == b'.' || b == b' ') || seg.get(2) == Some(&b';'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn climbing_segments_are_found() {
        let p = Path::new();
        for v in [
            "../x",
            "a/..",
            "..\\..\\win.ini",
            "....//etc",
            "..;/admin",
            "x/.. /y",
        ] {
            assert!(p.detect(v.as_bytes()), "{v}");
        }
        for v in [
            "v1.2..v1.4",
            "wait...what.txt",
            "./config.yaml",
            "docs/guide.md",
            "...",
        ] {
            assert!(!p.detect(v.as_bytes()), "{v}");
        }
    }

    #[test]
    fn sensitive_files_wrappers_and_nul_are_found() {
        let p = Path::new();
        for v in [
            "/etc/passwd",
            "C:\\Windows\\win.ini",
            "/proc/self/environ",
            "php://filter/resource=x",
            "file:///c:/boot.ini",
            "a.pdf\0.php",
            "/.htpasswd",
        ] {
            assert!(p.detect(v.as_bytes()), "{v}");
        }
        for v in [
            "/etc/ssl/certs/ca.pem",
            ".env.example",
            ".gitignore",
            "/home/alice/photo.jpg",
            "hosts file",
            "s3://bucket/key",
        ] {
            assert!(!p.detect(v.as_bytes()), "{v}");
        }
    }
}
