//! Fetching JSON Web Key Sets from `jwks-uri` or OpenID Connect discovery, and keeping them fresh.
