//! Injection detection for specgate: SQL injection, XSS, path traversal and command injection in
//! decoded request values.
#![forbid(unsafe_code)]
