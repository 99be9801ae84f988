//! Authentication: OpenAPI security requirements evaluated against the request's credentials.
