//! The decision engine: a plan turned into executable form once, at load.

pub mod auth;
pub mod check;
pub mod context;
pub mod denial;
pub mod document;
mod multipart;
pub mod params;
pub mod policies;
mod router;
mod servers;
mod threats;
mod validator;

use specgate_plan::{HttpMethod, Operation, Plan, PlanError};

pub use check::{Admitted, Refusal, Verdict};
pub use context::{ClientCert, Connection};
pub use denial::{Denial, FieldError};
pub use router::{RouteMatch, Router};
pub use validator::SchemaValidator;

/// Why a plan could not be made executable.
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    Plan(PlanError),
    /// A schema that the validator refuses to compile.
    Schema {
        operation: String,
        place: String,
        message: String,
    },
    /// A secret the plan names cannot be read, or is malformed.
    Secrets(String),
    /// A policy that cannot be compiled (a bot pattern, say).
    Policy {
        operation: String,
        message: String,
    },
    /// Two path templates that the router cannot tell apart.
    Route {
        path: String,
        message: String,
    },
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plan(e) => e.fmt(f),
            Self::Secrets(message) => f.write_str(message),
            Self::Schema {
                operation,
                place,
                message,
            } => write!(
                f,
                "operation `{operation}`, {place}: invalid schema: {message}"
            ),
            Self::Route { path, message } => write!(f, "path `{path}`: {message}"),
            Self::Policy { operation, message } => {
                write!(f, "operation `{operation}`: {message}")
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// The secrets of an engine loaded without any: nothing is set, no file is readable.
#[derive(Debug, Clone, Copy)]
pub struct NoSecrets;

impl auth::SecretSource for NoSecrets {
    fn env(&self, _name: &str) -> Option<String> {
        None
    }
    fn file(&self, path: &str) -> Result<String, String> {
        Err(format!(
            "`{path}` is not read: the engine was loaded without secrets"
        ))
    }
}

/// One operation, ready to check requests against.
#[derive(Debug)]
pub struct CompiledOperation {
    pub operation: Operation,
    /// One validator per parameter with a schema, in the plan's parameter order.
    pub parameters: Vec<Option<SchemaValidator>>,
    /// The shape of each parameter's value, for decoding its style (computed once, at load).
    pub shapes: Vec<params::Shape>,
    /// Validators per request media type, in the plan's order.
    pub bodies: Vec<(String, Option<SchemaValidator<document::DocumentJson>>)>,
    pub guards: Guards,
    /// Query parameters that carry a credential of the operation's security schemes (an `apiKey` in
    /// the query, a `query:NAME` token source): not parameters, so never "unknown".
    pub credential_query_names: Vec<String>,
    /// Per parameter: whether its decoded value is scanned for injections (not when its schema
    /// pins it, an enum or a uuid say).
    pub scan_parameters: Vec<bool>,
}

/// The query parameter names that carry credentials for the schemes an operation's security names.
fn credential_query_names(plan: &Plan, op: &Operation) -> Vec<String> {
    use specgate_plan::scheme::{ApiKeyLocation, SchemeKind, TokenSource, Verification};
    let mut names: Vec<String> = op
        .security
        .iter()
        .flat_map(|alternative| alternative.keys())
        .filter_map(|name| plan.security_schemes.get(name))
        .flat_map(|scheme| {
            let mut names = Vec::new();
            if let SchemeKind::ApiKey {
                location: ApiKeyLocation::Query,
                name,
            } = &scheme.kind
            {
                names.push(name.clone());
            }
            if let Some(Verification::Jwt(jwt)) = &scheme.verify {
                for source in &jwt.token_sources {
                    if let TokenSource::Query(name) = source {
                        names.push(name.clone());
                    }
                }
            }
            names
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Bot rules compiled once per distinct bot policy (operations usually share the document's).
#[derive(Debug, Default)]
struct BotRulesCache(
    Vec<(
        specgate_plan::policy::BotPolicy,
        std::sync::Arc<policies::BotRules>,
    )>,
);

impl BotRulesCache {
    fn get(
        &mut self,
        policy: &specgate_plan::policy::BotPolicy,
    ) -> Result<std::sync::Arc<policies::BotRules>, String> {
        if let Some((_, rules)) = self.0.iter().find(|(p, _)| p == policy) {
            return Ok(rules.clone());
        }
        let rules = std::sync::Arc::new(policies::BotRules::new(policy)?);
        self.0.push((policy.clone(), rules.clone()));
        Ok(rules)
    }
}

/// An operation's traffic policies, compiled once.
#[derive(Debug)]
pub struct Guards {
    pub hosts: policies::HostRules,
    pub ip: policies::IpRules,
    /// Shared by every operation with the same bot policy: the built-in list is one large regex.
    pub bots: std::sync::Arc<policies::BotRules>,
    /// Present when the policy configures CORS.
    pub cors: Option<policies::Cors>,
    pub response_headers: policies::ResponseHardening,
    /// The injection kinds refused and logged.
    pub threats: threats::ThreatRules,
    /// Every rate limit, with what it counts by.
    pub rate_limits: Vec<(specgate_ratelimit::LimitSpec, specgate_plan::units::RateKey)>,
}

impl Guards {
    /// `declared` are the methods of the operation's path (CORS's default methods).
    fn new(
        policy: &specgate_plan::Policy,
        declared: &[HttpMethod],
        bots: &mut BotRulesCache,
    ) -> Result<Self, String> {
        Ok(Self {
            hosts: policies::HostRules::new(policy.hosts.as_ref())?,
            ip: policies::IpRules::new(&policy.ip),
            bots: bots.get(&policy.bots)?,
            cors: policy
                .cors
                .as_ref()
                .map(|cors| policies::Cors::new(cors, declared)),
            response_headers: policies::ResponseHardening::new(&policy.response_headers)?,
            threats: threats::ThreatRules::new(&policy.threats),
            rate_limits: policy
                .rate_limits
                .iter()
                .map(|limit| {
                    specgate_ratelimit::LimitSpec::new(
                        limit.display_name(),
                        limit.limit,
                        limit.window.get(),
                        limit.burst,
                    )
                    .map(|spec| (spec, limit.key.clone()))
                    .map_err(|e| format!("rate limit `{}`: {e}", limit.display_name()))
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

/// A plan in executable form.
#[derive(Debug)]
pub struct Engine {
    plan: Plan,
    router: Router,
    operations: Vec<CompiledOperation>,
    /// The guards of undeclared routes (the document's defaults).
    default_guards: Guards,
    auth: auth::Authenticator,
    detector: specgate_threats::Detector,
    /// Where each operation's paths start (the path part of its `servers`).
    bases: servers::BasePaths,
}

impl Engine {
    /// Builds the route table and compiles every schema validator of the plan, without secrets:
    /// schemes that need one (`secret-env`, `keys-env`, `keys-file`) refuse every request.
    pub fn load(plan: &Plan) -> Result<Self, LoadError> {
        Self::load_with(plan, &NoSecrets)
    }

    /// As [`Engine::load`], reading the secrets the plan names through `secrets`.
    pub fn load_with(plan: &Plan, secrets: &dyn auth::SecretSource) -> Result<Self, LoadError> {
        let router = Router::new(
            plan.operations
                .iter()
                .enumerate()
                .map(|(i, op)| (op.path.as_str(), op.method, i)),
        )?;
        let mut operations = Vec::with_capacity(plan.operations.len());
        let mut bots = BotRulesCache::default();
        for op in &plan.operations {
            fn compile<F: jsonschema::json::Json>(
                plan: &Plan,
                op: &Operation,
                schema: &serde_json::Value,
                place: String,
            ) -> Result<SchemaValidator<F>, LoadError> {
                let formats = op.policy.request.validate_formats;
                SchemaValidator::new(plan, schema, formats).map_err(|e| match e {
                    validator::Error::Plan(e) => LoadError::Plan(e),
                    validator::Error::Schema(message) => LoadError::Schema {
                        operation: op.id.clone(),
                        place,
                        message,
                    },
                })
            }
            let mut parameters = Vec::with_capacity(op.parameters.len());
            for p in &op.parameters {
                let validator = match &p.schema {
                    Some(schema) => Some(compile(
                        plan,
                        op,
                        schema,
                        format!("parameter `{}`", p.name),
                    )?),
                    None => None,
                };
                parameters.push(validator);
            }
            let mut bodies = Vec::new();
            if let Some(body) = &op.request_body {
                for (media, content) in &body.content {
                    let validator = match &content.schema {
                        Some(schema) => Some(compile(
                            plan,
                            op,
                            schema,
                            format!("request body `{media}`"),
                        )?),
                        None => None,
                    };
                    bodies.push((media.clone(), validator));
                }
            }
            let declared: Vec<HttpMethod> = plan
                .operations
                .iter()
                .filter(|other| other.path == op.path)
                .map(|other| other.method)
                .collect();
            let guards = Guards::new(&op.policy, &declared, &mut bots).map_err(|message| {
                LoadError::Policy {
                    operation: op.id.clone(),
                    message,
                }
            })?;
            let shapes = op
                .parameters
                .iter()
                .map(|p| params::Shape::of(plan, p.schema.as_ref()))
                .collect();
            let scan_parameters = op
                .parameters
                .iter()
                .map(|p| !threats::pins_value(plan, p.schema.as_ref()))
                .collect();
            let credential_query_names = credential_query_names(plan, op);
            operations.push(CompiledOperation {
                operation: op.clone(),
                parameters,
                shapes,
                bodies,
                guards,
                credential_query_names,
                scan_parameters,
            });
        }
        let default_guards =
            Guards::new(&plan.defaults, &HttpMethod::ALL, &mut bots).map_err(|message| {
                LoadError::Policy {
                    operation: "(document defaults)".into(),
                    message,
                }
            })?;
        let auth = auth::Authenticator::new(&plan.security_schemes, secrets)
            .map_err(LoadError::Secrets)?;
        Ok(Self {
            plan: plan.clone(),
            router,
            operations,
            default_guards,
            auth,
            detector: specgate_threats::Detector::new(),
            bases: servers::BasePaths::new(
                plan.operations
                    .iter()
                    .map(|op| servers::base_paths(&op.servers))
                    .collect(),
            ),
        })
    }

    /// The guards of requests that match no operation (the document's defaults).
    pub fn default_guards(&self) -> &Guards {
        &self.default_guards
    }

    /// The security schemes, ready to authenticate (and to hand their key slots to a fetcher).
    pub fn authenticator(&self) -> &auth::Authenticator {
        &self.auth
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn operations(&self) -> &[CompiledOperation] {
        &self.operations
    }

    /// Serves every operation under `base` instead of its servers' base paths (`--base-path`, for
    /// deployments behind an ingress that rewrites the prefix). `""` or `/` serves them at the root.
    pub fn set_base_path(&mut self, base: &str) {
        let base = servers::base_path(base);
        self.bases = servers::BasePaths::new(vec![vec![base]; self.operations.len()]);
    }

    /// The operation for a method and a request path (not yet percent-decoded): the path must start
    /// with one of the operation's base paths, and what follows must match its template.
    pub fn route<'p>(&self, method: HttpMethod, path: &'p str) -> RouteMatch<'_, 'p> {
        let mut fallback = RouteMatch::NotFound;
        for (i, base) in self.bases.bases.iter().enumerate() {
            let Some(rest) = servers::strip(path, base) else {
                continue;
            };
            match self.router.find(method, rest) {
                RouteMatch::Found { operation, params } => {
                    if self.bases.of_operation[operation].contains(&i) {
                        return RouteMatch::Found { operation, params };
                    }
                }
                RouteMatch::MethodNotAllowed { allowed } => {
                    if matches!(fallback, RouteMatch::NotFound) {
                        fallback = RouteMatch::MethodNotAllowed { allowed };
                    }
                }
                RouteMatch::NotFound => {}
            }
        }
        fallback
    }
}

/// A plan with no operation, for unit tests of what needs one.
#[cfg(test)]
pub(crate) fn empty_plan() -> Plan {
    serde_json::from_value(serde_json::json!({
        "format-version": specgate_plan::FORMAT_VERSION,
        "source": {"file": "x", "sha256": "0", "openapi": "3.1.0", "title": "t", "version": "1"},
        "defaults": {},
        "security-schemes": {},
        "operations": [],
        "schemas": {},
    }))
    .expect("an empty plan")
}
