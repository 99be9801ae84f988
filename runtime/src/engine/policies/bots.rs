//! `bots` rules: User-Agent patterns and the built-in list of scanners and attack tools, as one matcher.

use regex::{Regex, RegexBuilder};
use specgate_plan::policy::BotPolicy;
use specgate_plan::units::UaPattern;

/// The scanners and attack tools refused when `bots.builtin` is on (the default).
///
/// Each entry is a regex fragment matched case-insensitively anywhere in the User-Agent. Modelled on the
/// OWASP Core Rule Set's scanner list (rule 913100): tools whose only use against someone else's API is
/// reconnaissance or attack, identified by a name they announce by default. To maintain it:
/// - add a tool whose User-Agent names it (by default, or in the versions and modes seen in attacks), with
///   that string in the `SCANNERS` test list (or `NAMED` when the tool normally hides behind a browser's
///   string); a test fails for an entry that no sample matches;
/// - write the name as a literal; add `\b` or surrounding punctuation when the name is a common word or
///   part of other products (`hydra` alone would also catch Ory Hydra, hence `(hydra)`);
/// - never add HTTP client libraries (curl, python-requests, Go-http-client, okhttp…) or search crawlers:
///   they are how legitimate callers and indexers reach an API. Left out on purpose: `httpx`, which is
///   both ProjectDiscovery's prober (that sends a browser User-Agent) and Python's `python-httpx` client.
pub const BUILTIN_SCANNERS: &[&str] = &[
    // Vulnerability and port scanners.
    "nikto",
    r"\bnmap\b",
    "masscan",
    "zgrab",
    "nuclei",
    "jaeles",
    "openvas",
    "nessus",
    "acunetix",
    "netsparker",
    "webinspect",
    "w3af",
    "skipfish",
    "arachni",
    "wapiti",
    "n-stealth",
    "nsauditor",
    "grendel-scan",
    "webshag",
    "cgichk",
    r"\bparos/",
    "whatweb",
    "burp ?collaborator",
    // CMS scanners.
    "wpscan",
    "joomscan",
    "droopescan",
    // Injection tools.
    "sqlmap",
    "sqlninja",
    r"\bhavij\b",
    "bsqlbf",
    "sql power injector",
    "commix",
    "xsstrike",
    "dalfox",
    "dotdotpwn",
    // Content discovery and fuzzers.
    "dirbuster",
    r"\bdirb\b",
    "dirsearch",
    "gobuster",
    "feroxbuster",
    "wfuzz",
    r"\bffuf\b",
    "fuzz faster u fool",
    // Password brute-forcers.
    r"\(hydra\)",
    r"\bbrutus\b",
    // Signatures of mass-exploitation bots.
    "zmeu",
    "morfeus",
    "toata dragostea",
    "jorgee",
];

/// An operation's `bots` policy, compiled into a single case-insensitive matcher.
#[derive(Debug, Clone)]
pub struct BotRules {
    /// `None` when there is nothing to match.
    matcher: Option<Regex>,
}

impl BotRules {
    /// Compiles the policy's patterns together with, when `builtin`, [`BUILTIN_SCANNERS`].
    pub fn new(policy: &BotPolicy) -> Result<Self, String> {
        let builtin = if policy.builtin {
            BUILTIN_SCANNERS
        } else {
            &[]
        };
        let user = policy.deny.iter().map(|p| match p {
            UaPattern::Substring(s) => regex::escape(s),
            UaPattern::Regex(r) => r.clone(),
        });
        let alternatives: Vec<String> = builtin
            .iter()
            .map(|f| (*f).to_owned())
            .chain(user)
            .map(|f| format!("(?:{f})"))
            .collect();
        if alternatives.is_empty() {
            return Ok(Self { matcher: None });
        }
        let matcher = RegexBuilder::new(&alternatives.join("|"))
            .case_insensitive(true)
            .size_limit(16 << 20)
            .build()
            .map_err(|e| {
                // regex draws a caret diagram over several lines; its last line is the reason.
                let text = e.to_string();
                let reason = text.lines().last().unwrap_or_default().to_owned();
                format!("bots.deny: the User-Agent patterns do not compile together: {reason}")
            })?;
        Ok(Self {
            matcher: Some(matcher),
        })
    }

    /// Whether the User-Agent names a denied client. A request without one is not a bot: many
    /// legitimate callers send none, and a scanner can omit it as easily.
    pub fn is_bot(&self, user_agent: Option<&str>) -> bool {
        match (&self.matcher, user_agent) {
            (Some(m), Some(ua)) => m.is_match(ua),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real User-Agents that scanners and attack tools send by default (some versions of them).
    const SCANNERS: &[&str] = &[
        "sqlmap/1.7.2#stable (https://sqlmap.org)",
        "sqlmap/1.0-dev-nongit-20190527 (http://sqlmap.org)",
        "Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:Port Check)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/74.0.3729.169 Safari/537.36 (Nikto/2.5.0) (Evasions:None) (Test:000001)",
        "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
        "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
        "Mozilla/5.0 zgrab/0.x",
        "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
        "Mozilla/5.0 [en] (X11, U; OpenVAS-VT 9.0.3)",
        "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 5.1; Trident/4.0; w3af.org)",
        "Arachni/v1.5.1",
        "Paros/3.2.13",
        "WhatWeb/0.5.5",
        "WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)",
        "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1; SV1; .NET CLR 2.0.50727) Havij",
        "commix/v3.9-stable (https://commixproject.com)",
        "DirBuster-1.0-RC1 (http://www.owasp.org/index.php/Category:OWASP_DirBuster_Project)",
        "gobuster/3.6",
        "feroxbuster/2.10.1",
        "Wfuzz/3.1.0",
        "Fuzz Faster U Fool v2.1.0-dev",
        "Mozilla/4.0 (Hydra)",
        "Mozilla/3.0 (Compatible);Brutus/AET",
        "ZmEu",
        "Morfeus Fucking Scanner",
        "Toata dragostea mea pentru diavola",
        "Mozilla/5.0 Jorgee",
    ];

    /// Tools that usually send a browser's User-Agent and are caught only when they name themselves
    /// (older versions, some modes, or a configuration that announces the tool); written in that form.
    const NAMED: &[&str] = &[
        "Jaeles/0.17 (github.com/jaeles-project/jaeles)",
        "Nessus SOAP",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) acunetix_wvs_security_test",
        "Mozilla/5.0 (compatible; Netsparker)",
        "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1) HP WebInspect",
        "Mozilla/5.0 SF/2.10b (skipfish)",
        "Wapiti/3.1.8",
        "Mozilla/4.0 (compatible; MSIE 5.01; Windows NT 5.0; N-Stealth)",
        "Nsauditor/3.2.0.1",
        "grendel-scan/1.0",
        "webshag/1.10",
        "cgichk 3.6",
        "Mozilla/5.0 (compatible; Burp Collaborator)",
        "Mozilla/5.0 (OWASP JoomScan)",
        "droopescan/1.45.1",
        "sqlninja/0.2.999",
        "bsqlbf 2.7",
        "SQL Power Injector 1.2",
        "XSStrike/3.1.5",
        "Dalfox/2.9.2",
        "DotDotPwn v3.0",
        "dirb/2.22",
        "dirsearch/0.4.3",
        "ffuf/2.1.0",
    ];

    /// User-Agents of ordinary HTTP clients, browsers and search crawlers: never refused by default.
    const ORDINARY: &[&str] = &[
        "curl/8.5.0",
        "python-requests/2.31.0",
        "python-httpx/0.27.0",
        "Python-urllib/3.11",
        "Python/3.12 aiohttp/3.9.5",
        "Go-http-client/1.1",
        "Go-http-client/2.0",
        "okhttp/4.12.0",
        "reqwest/0.12.4",
        "axios/1.6.7",
        "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
        "node",
        "undici",
        "Java/17.0.2",
        "Java-http-client/21.0.1",
        "Apache-HttpClient/4.5.14 (Java/17.0.9)",
        "PostmanRuntime/7.36.1",
        "insomnia/2023.5.8",
        "Wget/1.21.4",
        "libwww-perl/6.72",
        "Ruby",
        "Faraday v2.9.0",
        "Dart/3.2 (dart:io)",
        "grpc-go/1.60.1",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:121.0) Gecko/20100101 Firefox/121.0",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.144 Mobile Safari/537.36",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/120.0.6099.224 Safari/537.36",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Twitterbot/1.0",
        "Ory Hydra",
        "",
    ];

    fn policy(deny: &[&str], builtin: bool) -> BotPolicy {
        BotPolicy {
            deny: deny.iter().map(|p| p.parse().unwrap()).collect(),
            builtin,
        }
    }

    #[test]
    fn the_builtin_list_refuses_scanners() {
        let rules = BotRules::new(&BotPolicy::default()).unwrap();
        for ua in SCANNERS.iter().chain(NAMED) {
            assert!(rules.is_bot(Some(ua)), "not caught: {ua}");
        }
    }

    #[test]
    fn the_builtin_list_admits_clients_browsers_and_crawlers() {
        let rules = BotRules::new(&BotPolicy::default()).unwrap();
        for ua in ORDINARY {
            assert!(!rules.is_bot(Some(ua)), "wrongly refused: {ua}");
        }
    }

    #[test]
    fn every_builtin_entry_is_matched_by_a_sample() {
        for entry in BUILTIN_SCANNERS {
            let one = RegexBuilder::new(entry)
                .case_insensitive(true)
                .build()
                .unwrap();
            assert!(
                SCANNERS.iter().chain(NAMED).any(|ua| one.is_match(ua)),
                "add a real User-Agent for `{entry}` to SCANNERS"
            );
        }
    }

    #[test]
    fn a_missing_user_agent_is_not_a_bot() {
        let rules = BotRules::new(&policy(&["/.*/"], true)).unwrap();
        assert!(!rules.is_bot(None));
        assert!(rules.is_bot(Some("")));
    }

    #[test]
    fn builtin_off_refuses_only_user_patterns() {
        let rules = BotRules::new(&policy(&["BadClient"], false)).unwrap();
        assert!(!rules.is_bot(Some("sqlmap/1.7.2#stable (https://sqlmap.org)")));
        assert!(rules.is_bot(Some("my-badclient/1.0")));
        let none = BotRules::new(&policy(&[], false)).unwrap();
        assert!(!none.is_bot(Some("sqlmap/1.7.2")));
    }

    #[test]
    fn user_substrings_are_literal_and_case_insensitive() {
        let rules = BotRules::new(&policy(&["python-requests/2.", "a+b (x)"], false)).unwrap();
        assert!(rules.is_bot(Some("PYTHON-REQUESTS/2.31.0")));
        assert!(!rules.is_bot(Some("python-requests/3x0")));
        assert!(!rules.is_bot(Some("python-requestsX2.31")));
        assert!(rules.is_bot(Some("tool A+B (X) 1.0")));
        assert!(!rules.is_bot(Some("aab x")));
    }

    #[test]
    fn user_regexes_are_case_insensitive_and_keep_their_anchors() {
        let rules = BotRules::new(&policy(&["/^curl\\//", "/bot$/"], true)).unwrap();
        assert!(rules.is_bot(Some("Curl/8.5.0")));
        assert!(!rules.is_bot(Some("x curl/8.5.0")));
        assert!(rules.is_bot(Some("MyBot")));
        assert!(!rules.is_bot(Some("bot/1.0")));
        // The built-in list still applies alongside.
        assert!(rules.is_bot(Some("sqlmap/1.7.2#stable (https://sqlmap.org)")));
    }

    #[test]
    fn an_alternation_in_a_user_regex_stays_inside_its_pattern() {
        let rules = BotRules::new(&policy(&["/^a|b$/", "zzz"], false)).unwrap();
        assert!(rules.is_bot(Some("a...")));
        assert!(rules.is_bot(Some("...b")));
        assert!(!rules.is_bot(Some("xax")));
        assert!(rules.is_bot(Some("xzzzx")));
    }
}
