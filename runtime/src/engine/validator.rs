//! A plan schema compiled once into a `jsonschema` validator.

use jsonschema::json::{Json, SerdeJson};
use serde_json::Value;
use specgate_plan::{Plan, PlanError};

/// Validates instances of representation `F`: `serde_json::Value` (parameters) by default, or a
/// request body read in place ([`super::document::DocumentJson`]).
pub struct SchemaValidator<F: Json = SerdeJson> {
    inner: jsonschema::Validator<F>,
}

impl<F: Json> std::fmt::Debug for SchemaValidator<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchemaValidator")
    }
}

pub(crate) enum Error {
    Plan(PlanError),
    Schema(String),
}

/// OpenAPI's `byte` format: base64 (RFC 4648 §4, standard alphabet, padded).
fn is_base64(text: &str) -> bool {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .is_ok()
}

impl<F: Json> SchemaValidator<F> {
    /// Bundles `schema` with the shared schemas it reaches and compiles it (draft 2020-12).
    pub(crate) fn new(plan: &Plan, schema: &Value, validate_formats: bool) -> Result<Self, Error> {
        let document = plan.bundle(schema).map_err(Error::Plan)?;
        let inner = jsonschema::options_for::<F>()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(validate_formats)
            // Formats the validator does not know (`password`, `binary`, vendor ones) are annotations
            // at run time; `specgate lint` reports them.
            .should_ignore_unknown_formats(true)
            .with_format("byte", is_base64)
            .build(&document)
            .map_err(|e| Error::Schema(e.to_string()))?;
        Ok(Self { inner })
    }

    /// The fast yes/no check.
    pub fn is_valid(&self, value: F::Node<'_>) -> bool {
        self.inner.is_valid(value)
    }

    /// Each failure as (JSON pointer into the instance, reason). Reasons name the rule broken, never
    /// the submitted value or schema internals, so they may be shown to clients in verbose mode.
    pub fn failures<'i>(&'i self, value: F::Node<'i>) -> Vec<(String, String)> {
        self.inner
            .iter_errors(value)
            .take(20)
            .map(|e| {
                (
                    e.instance_path().to_string(),
                    super::denial::reason(e.kind()),
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid(schema: Value, value: Value, formats: bool) -> bool {
        let Ok(validator) =
            SchemaValidator::<SerdeJson>::new(&crate::engine::empty_plan(), &schema, formats)
        else {
            panic!("compiles: {schema}")
        };
        validator.is_valid(&value)
    }

    #[test]
    fn request_formats_are_validated_unless_turned_off() {
        let cases = [
            ("email", "ada@example.com", "not an email"),
            ("uuid", "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "3f2504e0"),
            ("date", "2024-02-29", "2023-02-29"),
            ("date-time", "2024-01-01T10:00:00Z", "2024-01-01 10:00"),
            ("time", "10:00:00Z", "25:00:00Z"),
            ("ipv4", "192.0.2.1", "192.0.2.300"),
            ("ipv6", "2001:db8::1", "2001:db8:::1"),
            ("hostname", "api.example.com", "-bad-.example.com"),
            ("uri", "https://example.com/a", "not a uri"),
            ("byte", "aGVsbG8=", "hello!"),
        ];
        for (format, good, bad) in cases {
            let schema = json!({"type": "string", "format": format});
            assert!(valid(schema.clone(), json!(good), true), "{format}: {good}");
            assert!(!valid(schema.clone(), json!(bad), true), "{format}: {bad}");
            assert!(valid(schema, json!(bad), false), "{format}: formats off");
        }
        // Unknown formats are annotations.
        assert!(valid(
            json!({"type": "string", "format": "password"}),
            json!("x"),
            true
        ));
        assert!(valid(
            json!({"type": "string", "format": "x-vendor"}),
            json!("x"),
            true
        ));
    }
}
