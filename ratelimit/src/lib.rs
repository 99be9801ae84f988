//! Rate limiting for specgate: GCRA limits, in process or shared across replicas through Redis.
#![forbid(unsafe_code)]
