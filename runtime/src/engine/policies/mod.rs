//! Identity-free traffic policies, each a small module: client IP rules, bots, CORS.

pub mod bots;
pub mod client_ip;
pub mod cors;
pub mod ip;

pub use bots::BotRules;
pub use client_ip::client_address;
pub use cors::{Cors, PreflightRefusal};
pub use ip::IpRules;
