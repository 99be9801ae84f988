//! The request check, in the order the policies run (cheap, identity-free checks first):
//!
//! 1. [`Engine::check_head`]: route (404/405), client IP (403), bots (403), CORS preflight (answered
//!    here, never forwarded), `deny` (403), then authentication (401/403);
//! 2. rate limits: the sidecar asks its store for the limits [`Admitted::rate_limits`] names (429);
//! 3. [`Engine::check_parameters`]: every parameter against its schema (400), then threats (403);
//! 4. [`Engine::check_body`]: the body the sidecar has read within [`Admitted::body_limit`]: media
//!    type (415), schema (400), then threats (403).
//!
//! None of them does I/O. A check in monitor mode (`mode: monitor`, or `monitor` for one part of
//! `request.validate`) records its violation in [`Admitted::monitored`] and lets the request through.

use std::borrow::Cow;

use http::request::Parts;
use jsonschema::json::Json;
use serde_json::Value;
use specgate_plan::policy::{AcceptOrReject, Check, Mode, UnknownRoutes};
use specgate_plan::{HttpMethod, ParameterLocation, Policy};

use super::auth::Identity;
use super::context::Connection;
use super::denial::{Denial, FieldError};
use super::document::Document;
use super::multipart::Fields;
use super::params::{self, Shape};
use super::policies::{Cors, ResponseHardening};
use super::router::RouteMatch;
use super::threats::Findings;
use super::{CompiledOperation, Engine, Guards, SchemaValidator};

/// What the head of a request was admitted as.
#[derive(Debug)]
pub struct Admitted<'e, 'r> {
    /// The matched operation, or `None` for an undeclared route forwarded by `unknown-routes: allow`.
    pub operation: Option<&'e CompiledOperation>,
    /// The policy in force (the operation's, or the document's defaults).
    pub policy: &'e Policy,
    /// The compiled policies in force.
    pub guards: &'e Guards,
    /// Violations let through because their check is in monitor mode (to log and count).
    pub monitored: Vec<Denial>,
    /// Who passed authentication (`None` for public operations and anonymous alternatives).
    pub identity: Option<Identity>,
    /// The raw path parameter values by name, for [`Engine::check_parameters`] (owned when the
    /// path was normalized before routing).
    path_params: PathParams<'e, 'r>,
}

impl<'e> Admitted<'e, '_> {
    /// The most body bytes the request may carry.
    pub fn body_limit(&self) -> u64 {
        self.policy.request.max_body.0
    }

    /// The rate limits to count this request against, each with its counting key. A limit counts by
    /// the authenticated credential, the client IP, the operation, or a header's value; a request
    /// without a credential (or without the header) counts under its client IP. Limits with the same
    /// name and numbers share one budget wherever they apply (a document-level limit is one budget
    /// across the operations that inherit it).
    pub fn rate_limits(
        &self,
        head: &Parts,
        connection: &Connection,
    ) -> Vec<(specgate_ratelimit::LimitSpec, String)> {
        use specgate_plan::units::RateKey;
        let ip = || format!("ip:{}", connection.client_ip);
        self.guards
            .rate_limits
            .iter()
            .map(|(spec, key)| {
                let key = match key {
                    RateKey::Credential => match &self.identity {
                        Some(identity) => format!("credential:{}", identity.credential),
                        None => ip(),
                    },
                    RateKey::Ip => ip(),
                    RateKey::Operation => format!(
                        "operation:{}",
                        self.operation.map_or("", |o| o.operation.id.as_str())
                    ),
                    RateKey::Header(name) => {
                        match head.headers.get(name.as_str()).map(|v| v.as_bytes()) {
                            Some(value) if !value.is_empty() => {
                                format!("header:{}:{}", name.as_str(), bounded_key(value))
                            }
                            _ => ip(),
                        }
                    }
                };
                (spec.clone(), key)
            })
            .collect()
    }

    /// A violation found outside the engine (a rate limit): refused, or recorded in monitor mode.
    pub fn enforce(&mut self, denial: Denial) -> Result<(), Refusal<'e>> {
        apply(
            Check::Enforce,
            self.policy.mode,
            denial,
            &mut self.monitored,
        )
        .map_err(|d| self.refuse(d))
    }

    /// A refusal under this admission's policy.
    pub fn refuse(&self, denial: Denial) -> Refusal<'e> {
        Refusal {
            denial,
            policy: self.policy,
            cors: self.guards.cors.as_ref(),
            response_headers: &self.guards.response_headers,
            refresh_keys: None,
        }
    }
}

/// A refused request: why, and under which policy to answer (verbosity, response headers, CORS).
#[derive(Debug)]
pub struct Refusal<'e> {
    pub denial: Denial,
    pub policy: &'e Policy,
    /// CORS headers go on refusals too, so that browsers can read them.
    pub cors: Option<&'e Cors>,
    /// The response headers of the policy in force.
    pub response_headers: &'e ResponseHardening,
    /// The security scheme whose fetched keys lack the token's `kid` (or are stale): the sidecar may
    /// refresh them and check the request once more.
    pub refresh_keys: Option<String>,
}

/// What the head decides.
#[derive(Debug)]
pub enum Verdict<'e, 'r> {
    /// Go on: rate limits, parameters, body, then the upstream.
    Admitted(Admitted<'e, 'r>),
    /// A CORS preflight from an allowed origin: answer 204 with these headers, do not forward.
    Preflight(Vec<(http::HeaderName, http::HeaderValue)>),
}

/// A check's outcome under its mode: refuse, or let through and remember.
fn apply(
    check: Check,
    mode: Mode,
    denial: Denial,
    monitored: &mut Vec<Denial>,
) -> Result<(), Denial> {
    match (check, mode) {
        (Check::Off, _) => Ok(()),
        (Check::Monitor, _) | (Check::Enforce, Mode::Monitor) => {
            monitored.push(denial);
            Ok(())
        }
        (Check::Enforce, Mode::Enforce) => Err(denial),
    }
}

impl Engine {
    /// Checks what the head of a request decides, before any rate limit is counted: route, client IP,
    /// bots, CORS preflight, `deny` and credentials.
    pub fn check_head<'e, 'r>(
        &'e self,
        head: &'r Parts,
        connection: &Connection,
        now: std::time::SystemTime,
    ) -> Result<Verdict<'e, 'r>, Refusal<'e>> {
        let path = head.uri.path();
        // An upstream that resolves `.` and `..` would serve another route than the one checked here;
        // with two Host headers, or a target naming another authority than Host, the upstream could
        // pick another host than the one checked (RFC 9112 §3.2: such a request is a 400).
        if has_dot_segment(path) || !one_authority(head) || connection_names_content_fields(head) {
            return Err(self.refuse_unrouted(Denial::BadRequest));
        }
        let Some(method) = method_of(&head.method) else {
            return self.unknown_route(
                head,
                connection,
                Denial::MethodNotAllowed {
                    allowed: Vec::new(),
                },
            );
        };
        // Routed as an upstream that decodes `%61` to `a` would route it (RFC 3986 §6.2.2.2).
        let normalized = super::router::normalize(path);
        if let Some(verdict) = self.preflight(head, &normalized) {
            return verdict;
        }
        let routed = match &normalized {
            // Nothing to normalize (nearly always): parameter values borrow the request's path.
            Cow::Borrowed(_) => found(self.route(method, path), Cow::Borrowed),
            Cow::Owned(normal) => {
                found(self.route(method, normal), |raw| Cow::Owned(raw.to_owned()))
            }
        };
        let (index, path_params) = match routed {
            Ok(found) => found,
            Err(denial) => return self.unknown_route(head, connection, denial),
        };
        let compiled = &self.operations()[index];
        let mut admitted = Admitted {
            operation: Some(compiled),
            policy: &compiled.operation.policy,
            guards: &compiled.guards,
            monitored: Vec::new(),
            identity: None,
            path_params,
        };
        self.edge_checks(&mut admitted, head, connection)?;
        let policy = admitted.policy;
        if policy.deny {
            apply(
                Check::Enforce,
                policy.mode,
                Denial::Denied,
                &mut admitted.monitored,
            )
            .map_err(|d| admitted.refuse(d))?;
        }
        let now_unix_secs = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        match self.auth.authenticate(
            &compiled.operation.security,
            head,
            connection,
            now_unix_secs,
        ) {
            Ok(identity) => admitted.identity = identity,
            Err(failure) => {
                let denial = if failure.status == http::StatusCode::FORBIDDEN {
                    Denial::InsufficientScope {
                        challenge: failure.www_authenticate,
                        detail: failure.reason,
                    }
                } else {
                    Denial::Unauthenticated {
                        challenge: failure.www_authenticate,
                        detail: failure.reason,
                    }
                };
                if let Err(denial) =
                    apply(Check::Enforce, policy.mode, denial, &mut admitted.monitored)
                {
                    let mut refusal = admitted.refuse(denial);
                    refusal.refresh_keys = failure.refresh_keys;
                    return Err(refusal);
                }
            }
        }
        Ok(Verdict::Admitted(admitted))
    }

    /// Hosts, client IP and bot rules: identity-free and cheap, so they run before anything else.
    fn edge_checks<'e>(
        &'e self,
        admitted: &mut Admitted<'e, '_>,
        head: &Parts,
        connection: &Connection,
    ) -> Result<(), Refusal<'e>> {
        let mode = admitted.policy.mode;
        let authority = head
            .headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| head.uri.authority().map(|a| a.as_str()));
        if !admitted.guards.hosts.allows(authority) {
            apply(
                Check::Enforce,
                mode,
                Denial::MisdirectedRequest,
                &mut admitted.monitored,
            )
            .map_err(|d| admitted.refuse(d))?;
        }
        if !admitted.guards.ip.allows(connection.client_ip) {
            apply(
                Check::Enforce,
                mode,
                Denial::IpDenied,
                &mut admitted.monitored,
            )
            .map_err(|d| admitted.refuse(d))?;
        }
        let user_agent = head
            .headers
            .get(http::header::USER_AGENT)
            .map(|v| v.to_str().unwrap_or("\u{fffd}"));
        if admitted.guards.bots.is_bot(user_agent) {
            apply(
                Check::Enforce,
                mode,
                Denial::BotDenied,
                &mut admitted.monitored,
            )
            .map_err(|d| admitted.refuse(d))?;
        }
        Ok(())
    }

    /// A CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) for an operation
    /// with CORS configured: answered here. `None` when the request is not such a preflight.
    fn preflight<'e, 'r>(
        &'e self,
        head: &Parts,
        path: &str,
    ) -> Option<Result<Verdict<'e, 'r>, Refusal<'e>>> {
        if head.method != http::Method::OPTIONS {
            return None;
        }
        let origin = head.headers.get(http::header::ORIGIN)?.to_str().ok()?;
        let requested = head
            .headers
            .get(http::header::ACCESS_CONTROL_REQUEST_METHOD)?
            .to_str()
            .ok()?;
        let request_headers = head
            .headers
            .get(http::header::ACCESS_CONTROL_REQUEST_HEADERS)
            .and_then(|v| v.to_str().ok());
        let cors = match HttpMethod::ALL
            .into_iter()
            .find(|m| m.as_str() == requested)
            .map(|m| self.route(m, path))
        {
            Some(RouteMatch::Found { operation, .. }) => {
                let compiled = &self.operations()[operation];
                compiled
                    .guards
                    .cors
                    .as_ref()
                    .map(|c| (c, &compiled.operation.policy, &compiled.guards))
            }
            // A path that exists, asked for a method it does not have (or one nobody declares): the
            // real request would be refused, so the preflight is too, where CORS is configured.
            Some(RouteMatch::MethodNotAllowed { .. }) | None => {
                let defaults = &self.plan().defaults;
                return defaults.cors.as_ref().map(|_| {
                    Err(Refusal {
                        denial: Denial::CorsRefused,
                        policy: defaults,
                        cors: None,
                        response_headers: &self.default_guards.response_headers,
                        refresh_keys: None,
                    })
                });
            }
            Some(RouteMatch::NotFound) => None,
        }?;
        let (cors, policy, guards) = cors;
        Some(match cors.preflight(origin, requested, request_headers) {
            Ok(headers) => Ok(Verdict::Preflight(headers)),
            // A refused preflight gets no CORS headers: the browser then blocks the real request.
            Err(_) => Err(Refusal {
                denial: Denial::CorsRefused,
                policy,
                cors: None,
                response_headers: &guards.response_headers,
                refresh_keys: None,
            }),
        })
    }

    /// Checks every parameter: decoded by its style, validated against its schema.
    pub fn check_parameters<'e>(
        &'e self,
        admitted: &mut Admitted<'e, '_>,
        head: &Parts,
    ) -> Result<(), Refusal<'e>> {
        let Some(compiled) = admitted.operation else {
            return Ok(());
        };
        let policy = admitted.policy;
        let mut findings = Findings::default();
        let errors = self.parameter_errors(compiled, &admitted.path_params, head, &mut findings);
        if !errors.is_empty() {
            apply(
                policy.request.validate.parameters,
                policy.mode,
                Denial::InvalidParameters { errors },
                &mut admitted.monitored,
            )
            .map_err(|d| admitted.refuse(d))?;
        }
        self.threat_outcome(admitted, findings)
    }

    /// A refusal for a blocked injection kind; a logged kind is only recorded.
    fn threat_outcome<'e>(
        &self,
        admitted: &mut Admitted<'e, '_>,
        findings: Findings,
    ) -> Result<(), Refusal<'e>> {
        if let Some(kind) = findings.log {
            admitted.monitored.push(Denial::Threat { kind });
        }
        match findings.block {
            Some(kind) => admitted.enforce(Denial::Threat { kind }),
            None => Ok(()),
        }
    }

    /// A refusal before any route is known: under the document's defaults.
    fn refuse_unrouted(&self, denial: Denial) -> Refusal<'_> {
        Refusal {
            denial,
            policy: &self.plan().defaults,
            cors: self.default_guards.cors.as_ref(),
            response_headers: &self.default_guards.response_headers,
            refresh_keys: None,
        }
    }

    fn unknown_route<'e, 'r>(
        &'e self,
        head: &Parts,
        connection: &Connection,
        denial: Denial,
    ) -> Result<Verdict<'e, 'r>, Refusal<'e>> {
        let defaults = &self.plan().defaults;
        match defaults.unknown_routes {
            UnknownRoutes::Allow => {
                let mut admitted = Admitted {
                    operation: None,
                    policy: defaults,
                    guards: &self.default_guards,
                    monitored: Vec::new(),
                    identity: None,
                    path_params: Vec::new(),
                };
                self.edge_checks(&mut admitted, head, connection)?;
                Ok(Verdict::Admitted(admitted))
            }
            UnknownRoutes::Reject => Err(self.refuse_unrouted(denial)),
        }
    }

    /// Every parameter problem of a request (empty when all are valid).
    fn parameter_errors(
        &self,
        compiled: &CompiledOperation,
        raw_path: &[(&str, Cow<'_, str>)],
        head: &Parts,
        findings: &mut Findings,
    ) -> Vec<FieldError> {
        let op = &compiled.operation;
        let rules = &compiled.guards.threats;
        let mut errors = Vec::new();
        let error = |p: &specgate_plan::Parameter, pointer: String, reason: String| FieldError {
            location: location_name(p.location),
            name: p.name.clone(),
            pointer,
            reason,
        };
        let shapes = &compiled.shapes;
        // Query parameters are decoded together: exploded objects take their keys from the whole query.
        let query_params: Vec<(usize, &specgate_plan::Parameter)> = op
            .parameters
            .iter()
            .enumerate()
            .filter(|(_, p)| p.location == ParameterLocation::Query)
            .collect();
        let query_input: Vec<(&specgate_plan::Parameter, &Shape)> = query_params
            .iter()
            .map(|(i, p)| (*p, &shapes[*i]))
            .collect();
        let decoded = params::decode_query(&query_input, head.uri.query().unwrap_or(""));
        if op.policy.request.unknown_query_params == AcceptOrReject::Reject {
            for name in decoded
                .unknown
                .iter()
                .filter(|name| !compiled.credential_query_names.contains(name))
            {
                errors.push(FieldError {
                    location: "query",
                    name: name.clone(),
                    pointer: String::new(),
                    reason: "is not a parameter of this operation".into(),
                });
            }
        }
        let mut query_values = decoded.values.into_iter();
        let cookies: Vec<&str> = head
            .headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        for (i, p) in op.parameters.iter().enumerate() {
            let shape = &shapes[i];
            let value = match p.location {
                ParameterLocation::Path => raw_path
                    .iter()
                    .find(|(name, _)| *name == p.name)
                    .map(|(_, raw)| params::decode_path(p, shape, raw)),
                ParameterLocation::Query => query_values.next().flatten(),
                ParameterLocation::Header => {
                    let values: Vec<&str> = head
                        .headers
                        .get_all(p.name.as_str())
                        .iter()
                        .filter_map(|v| v.to_str().ok())
                        .collect();
                    (!values.is_empty()).then(|| params::decode_header(p, shape, &values))
                }
                ParameterLocation::Cookie => params::decode_cookie(p, shape, &cookies),
            };
            let value = match value {
                None if p.required => {
                    errors.push(error(p, String::new(), "is required".into()));
                    continue;
                }
                None => continue,
                Some(Err(params::ParamError::Repeated)) => {
                    errors.push(error(p, String::new(), "is given more than once".into()));
                    continue;
                }
                Some(Err(params::ParamError::Malformed(why))) => {
                    errors.push(error(p, String::new(), format!("is malformed: {why}")));
                    continue;
                }
                Some(Ok(value)) => value,
            };
            // A parameter described by `content` holds a serialized document, parsed by its media type.
            let value = match &p.content_type {
                Some(media) if is_json(media) => match value.as_str().map(|s| {
                    specgate_plan::json::parse_bounded(
                        s.as_bytes(),
                        op.policy.request.max_json_depth,
                        true,
                    )
                }) {
                    Some(Ok(parsed)) => parsed,
                    _ => {
                        errors.push(error(p, String::new(), "is not valid JSON".into()));
                        continue;
                    }
                },
                _ => value,
            };
            if let Some(validator) = &compiled.parameters[i] {
                collect(validator, &value, &mut errors, |pointer, why| {
                    error(p, pointer, why)
                });
            }
            if compiled.scan_parameters[i] && !rules.is_off() {
                findings.scan(&self.detector, rules, &value);
            }
        }
        errors
    }

    /// Checks a body read within [`Admitted::body_limit`]. `content_type` is the request's header.
    pub fn check_body<'e>(
        &'e self,
        admitted: &mut Admitted<'e, '_>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<(), Refusal<'e>> {
        let value = self
            .body_denial(admitted, content_type, body)
            .map_err(|d| admitted.refuse(d))?;
        let rules = &admitted.guards.threats;
        let mut findings = Findings::default();
        match value {
            _ if rules.is_off() => {}
            Some(Decoded::Json(document)) => findings.scan(&self.detector, rules, &document),
            Some(Decoded::Other(value)) => findings.scan(&self.detector, rules, &value),
            Some(Decoded::Multipart(fields)) => {
                findings.scan(&self.detector, rules, &fields.object);
                for name in &fields.file_names {
                    findings.scan_str(&self.detector, rules, name);
                }
            }
            None => {}
        }
        self.threat_outcome(admitted, findings)
    }

    /// The body decoded (for the threat scan) when its media type has a decoding, or why it is refused.
    fn body_denial<'b>(
        &self,
        admitted: &mut Admitted<'_, '_>,
        content_type: Option<&str>,
        body: &'b [u8],
    ) -> Result<Option<Decoded<'b>>, Denial> {
        let Some(compiled) = admitted.operation else {
            return Ok(None);
        };
        let policy = admitted.policy;
        let check = policy.request.validate.body;
        // Nothing to decode the body for: neither validated nor scanned.
        if check == Check::Off && admitted.guards.threats.is_off() {
            return Ok(None);
        }
        let Some(request_body) = &compiled.operation.request_body else {
            return Ok(None);
        };
        if body.is_empty() {
            if request_body.required {
                return apply(
                    check,
                    policy.mode,
                    Denial::MissingBody,
                    &mut admitted.monitored,
                )
                .map(|()| None);
            }
            return Ok(None);
        }
        let media = content_type.map(media_type).unwrap_or_default();
        let Some(position) =
            best_media_match(compiled.bodies.iter().map(|(m, _)| m.as_str()), &media)
        else {
            return apply(
                check,
                policy.mode,
                Denial::UnsupportedMediaType,
                &mut admitted.monitored,
            )
            .map(|()| None);
        };
        let (declared, validator) = &compiled.bodies[position];
        let Some(validator) = validator else {
            return Ok(None);
        };
        let value = if is_json(&media) || is_json(declared) {
            let reject_duplicates = policy.request.duplicate_json_keys == AcceptOrReject::Reject;
            match Document::parse(body, policy.request.max_json_depth, reject_duplicates) {
                Ok(document) => Decoded::Json(document),
                Err(e) => {
                    let why = e.to_string();
                    let reason = if why.starts_with("duplicate key") {
                        "has a repeated key"
                    } else if why.starts_with("nesting deeper") {
                        "nests too deeply"
                    } else {
                        "is not valid JSON"
                    };
                    return undecodable(check, policy.mode, reason, &mut admitted.monitored);
                }
            }
        } else if media == "application/x-www-form-urlencoded" {
            Decoded::Other(self.form_value(compiled, position, body))
        } else if media == "multipart/form-data" {
            // File contents (HTML, scripts, archives) are neither validated nor scanned: their names
            // and the other fields are.
            let content = compiled
                .operation
                .request_body
                .as_ref()
                .and_then(|b| b.content.get(declared));
            let (schema, encoding) = match content {
                Some(c) => (c.schema.as_ref(), &c.encoding),
                None => return Ok(None),
            };
            match super::multipart::fields(
                self.plan(),
                schema,
                encoding,
                content_type.unwrap_or_default(),
                bytes::Bytes::copy_from_slice(body),
                policy.request.max_json_depth,
            ) {
                Ok(fields) => Decoded::Multipart(fields),
                Err(why) => {
                    return undecodable(check, policy.mode, why, &mut admitted.monitored);
                }
            }
        } else {
            // Other media types (binary, text…) are size-checked only.
            return Ok(None);
        };
        if check == Check::Off {
            // Decoded for the threat scan only.
            return Ok(Some(value));
        }
        let mut errors = Vec::new();
        let field = |pointer, why| FieldError {
            location: "body",
            name: String::new(),
            pointer,
            reason: why,
        };
        match &value {
            Decoded::Json(document) => collect(validator, document, &mut errors, field),
            Decoded::Other(value) | Decoded::Multipart(Fields { object: value, .. }) => {
                collect(validator, &Document::from_value(value), &mut errors, field);
            }
        }
        let value = Some(value);
        if errors.is_empty() {
            return Ok(value);
        }
        apply(
            check,
            policy.mode,
            Denial::InvalidBody { errors },
            &mut admitted.monitored,
        )
        .map(|()| value)
    }

    /// A form body as an object, each property decoded by its schema's shape and its `encoding`.
    fn form_value(&self, compiled: &CompiledOperation, position: usize, body: &[u8]) -> Value {
        let op = &compiled.operation;
        let (media, _) = &compiled.bodies[position];
        let Some(content) = op.request_body.as_ref().and_then(|b| b.content.get(media)) else {
            return Value::Null;
        };
        let text = String::from_utf8_lossy(body);
        let object_shape = Shape::of(self.plan(), content.schema.as_ref());
        let properties: Vec<(String, Shape)> = match &object_shape {
            Shape::Object { properties, .. } => properties
                .keys()
                .map(|name| {
                    (
                        name.clone(),
                        Shape::of(
                            self.plan(),
                            property_schema(self.plan(), content.schema.as_ref(), name, 0),
                        ),
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        let as_parameters: Vec<specgate_plan::Parameter> = properties
            .iter()
            .map(|(name, _)| {
                let encoding = content.encoding.get(name);
                let style = encoding
                    .and_then(|e| e.style)
                    .unwrap_or(specgate_plan::Style::Form);
                specgate_plan::Parameter {
                    name: name.clone(),
                    location: ParameterLocation::Query,
                    style,
                    explode: encoding
                        .and_then(|e| e.explode)
                        .unwrap_or(style == specgate_plan::Style::Form),
                    required: false,
                    allow_reserved: false,
                    allow_empty_value: true,
                    content_type: None,
                    schema: None,
                }
            })
            .collect();
        let input: Vec<(&specgate_plan::Parameter, &Shape)> = as_parameters
            .iter()
            .zip(properties.iter().map(|(_, s)| s))
            .collect();
        let decoded = params::decode_query(&input, &text);
        let mut object = serde_json::Map::new();
        for ((name, _), value) in properties.iter().zip(decoded.values) {
            if let Some(Ok(value)) = value {
                object.insert(name.clone(), value);
            } else if let Some(Err(_)) = value {
                // A malformed or repeated field stays a string the schema will refuse.
                object.insert(name.clone(), Value::Null);
            }
        }
        for name in decoded.unknown {
            object.insert(name, Value::String(String::new()));
        }
        Value::Object(object)
    }
}

/// A body that cannot be decoded by its media type (`reason` says why, never with its content).
fn undecodable(
    check: Check,
    mode: Mode,
    reason: &str,
    monitored: &mut Vec<Denial>,
) -> Result<Option<Decoded<'static>>, Denial> {
    let errors = vec![FieldError {
        location: "body",
        name: String::new(),
        pointer: String::new(),
        reason: reason.into(),
    }];
    apply(check, mode, Denial::InvalidBody { errors }, monitored).map(|()| None)
}

fn collect<'i, F: Json>(
    validator: &'i SchemaValidator<F>,
    value: F::Node<'i>,
    errors: &mut Vec<FieldError>,
    make: impl Fn(String, String) -> FieldError,
) {
    if validator.is_valid(value.clone()) {
        return;
    }
    for (pointer, why) in validator.failures(value) {
        errors.push(make(pointer, why));
    }
}

/// The schema of property `name` of an object schema, following `$ref`s and `allOf` branches.
pub(crate) fn property_schema<'p>(
    plan: &'p specgate_plan::Plan,
    schema: Option<&'p Value>,
    name: &str,
    depth: usize,
) -> Option<&'p Value> {
    let schema = schema?;
    if depth > 16 {
        return None;
    }
    if let Some(found) = schema.get("properties").and_then(|p| p.get(name)) {
        return Some(found);
    }
    if let Some(id) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix(specgate_plan::DEFS_PREFIX))
        && let Some(found) = property_schema(
            plan,
            plan.schemas.get(&specgate_plan::unescape_pointer(id)),
            name,
            depth + 1,
        )
    {
        return Some(found);
    }
    schema
        .get("allOf")?
        .as_array()?
        .iter()
        .find_map(|branch| property_schema(plan, Some(branch), name, depth + 1))
}

/// A client-chosen value as part of a rate-limit key: as it is when short, else its SHA-256, so that
/// long header values cannot inflate the limiter's memory.
fn bounded_key(value: &[u8]) -> String {
    use sha2::Digest;
    const LONGEST: usize = 64;
    if value.len() <= LONGEST {
        return String::from_utf8_lossy(value).into_owned();
    }
    let digest = sha2::Sha256::digest(value);
    let mut hex = String::with_capacity(2 * digest.len() + 7);
    hex.push_str("sha256:");
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

fn location_name(location: ParameterLocation) -> &'static str {
    match location {
        ParameterLocation::Path => "path",
        ParameterLocation::Query => "query",
        ParameterLocation::Header => "header",
        ParameterLocation::Cookie => "cookie",
    }
}

fn method_of(method: &http::Method) -> Option<HttpMethod> {
    HttpMethod::ALL
        .into_iter()
        .find(|m| m.as_str() == method.as_str())
}

/// Whether the request names one authority: at most one Host header, and when the target has an
/// authority too (HTTP/1.1's absolute form, HTTP/2's `:authority`), the same one. RFC 9112 §3.2.2
/// has a server ignore Host for an absolute-form target, and an upstream that reads Host would then
/// serve another host than the one checked; RFC 9113 §8.3.1 calls such an HTTP/2 request malformed.
fn one_authority(head: &Parts) -> bool {
    let mut hosts = head.headers.get_all(http::header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return false;
    }
    match (head.uri.authority(), host) {
        (Some(target), Some(host)) => host
            .as_bytes()
            .eq_ignore_ascii_case(target.as_str().as_bytes()),
        _ => true,
    }
}

/// Whether the `Connection` header names a field the body's meaning or the request's target rests
/// on. A proxy removes the fields `Connection` names, so the upstream would get the checked body
/// without its media type (or target without its host): another reading than the one validated.
/// RFC 9110 §7.6.1 forbids senders to name such end-to-end fields; such a request is a 400.
fn connection_names_content_fields(head: &Parts) -> bool {
    const KEPT: [&str; 4] = ["content-type", "content-encoding", "content-length", "host"];
    head.headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|name| {
            KEPT.iter()
                .any(|kept| name.trim().eq_ignore_ascii_case(kept))
        })
}

/// Raw path parameter values by name.
type PathParams<'n, 'v> = Vec<(&'n str, Cow<'v, str>)>;

/// A found route's operation and raw parameter values (each made by `value`), or the refusal of a
/// route not found.
fn found<'n, 'p, 'v>(
    routed: RouteMatch<'n, 'p>,
    value: impl Fn(&'p str) -> Cow<'v, str>,
) -> Result<(usize, PathParams<'n, 'v>), Denial> {
    match routed {
        RouteMatch::Found { operation, params } => Ok((
            operation,
            params
                .into_iter()
                .map(|(name, raw)| (name, value(raw)))
                .collect(),
        )),
        RouteMatch::MethodNotAllowed { allowed } => Err(Denial::MethodNotAllowed { allowed }),
        RouteMatch::NotFound => Err(Denial::NotFound),
    }
}

/// Whether a path has a `.` or `..` segment, written plainly or percent-encoded.
fn has_dot_segment(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    })
}

/// The media type of a Content-Type value: lower case, without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A request body decoded by its media type.
enum Decoded<'b> {
    /// JSON, read in place.
    Json(Document<'b>),
    /// A form body, as an object of its fields.
    Other(Value),
    /// A multipart body.
    Multipart(Fields),
}

/// JSON, or a `+json` structured syntax suffix.
fn is_json(media: &str) -> bool {
    media == "application/json" || media.ends_with("+json")
}

/// The declared media type (or range) that best fits `media`: exact, then patterns (`application/*`,
/// `application/*+json`), the ones with fewer wildcards first, then `*/*`.
pub fn best_media_match<'a>(declared: impl Iterator<Item = &'a str>, media: &str) -> Option<usize> {
    if media.is_empty() {
        return None;
    }
    let (kind, subtype) = media.split_once('/').unwrap_or((media, ""));
    declared
        .enumerate()
        .filter_map(|(i, d)| {
            let d = d.split(';').next().unwrap_or("").trim();
            let (dk, ds) = d.split_once('/').unwrap_or((d, ""));
            let fits = glob(dk, kind) && glob(ds, subtype);
            fits.then(|| (d.matches('*').count(), i))
        })
        .min()
        .map(|(_, i)| i)
}

/// A media-type part against a pattern where `*` stands for any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern.eq_ignore_ascii_case(text),
        Some((before, after)) => {
            text.len() >= before.len() + after.len()
                && text[..before.len()].eq_ignore_ascii_case(before)
                && text[text.len() - after.len()..].eq_ignore_ascii_case(after)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_one_authority_or_is_refused() {
        let head = |target: &str, hosts: &[&str]| {
            let mut request = http::Request::builder().uri(target);
            for host in hosts {
                request = request.header(http::header::HOST, *host);
            }
            request.body(()).unwrap().into_parts().0
        };
        assert!(one_authority(&head("/pets", &["api.example.com"])));
        assert!(one_authority(&head("/pets", &[])));
        assert!(one_authority(&head("http://api.example.com/pets", &[])));
        assert!(one_authority(&head(
            "http://API.example.com:8080/pets",
            &["api.example.com:8080"]
        )));
        assert!(!one_authority(&head(
            "/pets",
            &["api.example.com", "evil.example"]
        )));
        assert!(!one_authority(&head(
            "http://evil.example/pets",
            &["api.example.com"]
        )));
        assert!(!one_authority(&head(
            "http://api.example.com:8443/pets",
            &["api.example.com"]
        )));
    }

    #[test]
    fn connection_may_not_name_the_fields_a_body_is_read_by() {
        let head = |connection: &str| {
            http::Request::builder()
                .uri("/pets")
                .header(http::header::CONNECTION, connection)
                .body(())
                .unwrap()
                .into_parts()
                .0
        };
        for fine in [
            "keep-alive",
            "close",
            "Upgrade, HTTP2-Settings",
            "x-hop, TE",
        ] {
            assert!(!connection_names_content_fields(&head(fine)), "{fine}");
        }
        for refused in [
            "Content-Type",
            "keep-alive, content-length",
            " HOST ",
            "x, Content-Encoding",
        ] {
            assert!(connection_names_content_fields(&head(refused)), "{refused}");
        }
    }

    #[test]
    fn dot_segments_are_found_however_written() {
        for path in ["/a/../b", "/a/./b", "/a/%2e%2e/b", "/a/.%2E", "/.."] {
            assert!(has_dot_segment(path), "{path}");
        }
        for path in ["/a/..b/c", "/a/b.", "/files/report.tar.gz", "/"] {
            assert!(!has_dot_segment(path), "{path}");
        }
    }

    #[test]
    fn media_types_match_exact_then_patterns() {
        let declared = [
            "application/json",
            "application/*+json",
            "*/*",
            "application/*",
        ];
        assert_eq!(
            best_media_match(declared.iter().copied(), "application/json"),
            Some(0)
        );
        assert_eq!(
            best_media_match(declared.iter().copied(), "application/merge-patch+json"),
            Some(1)
        );
        assert_eq!(
            best_media_match(declared.iter().copied(), "application/xml"),
            Some(3)
        );
        assert_eq!(
            best_media_match(declared.iter().copied(), "text/plain"),
            Some(2)
        );
        assert_eq!(
            best_media_match(["application/json"].into_iter(), "text/plain"),
            None
        );
        assert_eq!(best_media_match(["application/json"].into_iter(), ""), None);
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            "application/json"
        );
    }
}
