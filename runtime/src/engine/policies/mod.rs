//! Identity-free traffic policies, each a small module: client IP rules, bots, CORS.
