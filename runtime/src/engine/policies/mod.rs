//! Identity-free traffic policies, each a small module: hosts, client IP rules, bots, CORS, response
//! headers.

pub mod bots;
pub mod client_ip;
pub mod cors;
pub mod hosts;
pub mod ip;
pub mod response_headers;

pub use bots::BotRules;
pub use client_ip::client_address;
pub use cors::{Cors, PreflightRefusal};
pub use hosts::HostRules;
pub use ip::IpRules;
pub use response_headers::ResponseHardening;
