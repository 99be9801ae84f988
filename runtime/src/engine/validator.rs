//! A plan schema compiled once into a `jsonschema` validator.

use serde_json::Value;
use specgate_plan::{Plan, PlanError};

pub struct SchemaValidator {
    inner: jsonschema::Validator,
}

impl std::fmt::Debug for SchemaValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SchemaValidator")
    }
}

pub(crate) enum Error {
    Plan(PlanError),
    Schema(String),
}

impl SchemaValidator {
    /// Bundles `schema` with the shared schemas it reaches and compiles it (draft 2020-12).
    pub(crate) fn new(plan: &Plan, schema: &Value, validate_formats: bool) -> Result<Self, Error> {
        let document = plan.bundle(schema).map_err(Error::Plan)?;
        let inner = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(validate_formats)
            .build(&document)
            .map_err(|e| Error::Schema(e.to_string()))?;
        Ok(Self { inner })
    }

    /// The fast yes/no check.
    pub fn is_valid(&self, value: &Value) -> bool {
        self.inner.is_valid(value)
    }

    /// Each failure as (JSON pointer into the instance, reason). Reasons name the rule broken, never
    /// the submitted value or schema internals, so they may be shown to clients in verbose mode.
    pub fn failures(&self, value: &Value) -> Vec<(String, String)> {
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
