//! Test-only helpers shared by specgate's crates (a dev-dependency, never shipped): certificates
//! made at test time, a temporary directory, and a `redis-server` of one test.
#![forbid(unsafe_code)]

pub mod pki;
pub mod redis;

pub use pki::{Ca, Leaf, TempDir};
pub use redis::RedisServer;
