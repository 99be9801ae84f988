//! A `redis-server` of one test, on a free loopback port, killed on drop.

pub use specgate_testkit::RedisServer;
