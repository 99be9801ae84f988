//! A loaded spec to a plan: every operation with its parameters, bodies, security and effective policy.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};
use specgate_plan::policy::{FromServers, HostPattern, Hosts};
use specgate_plan::scheme::{ApiKeyLocation, Jwt, Mtls, SchemeKind, Verification};
use specgate_plan::{
    Encoding, HttpMethod, MediaType, Operation, Origin, Parameter, ParameterLocation, Plan, Policy,
    RequestBody, SecurityScheme, Server, Source, Style,
};

use crate::diagnostic::{Diagnostic, Location, did_you_mean};
use crate::load::{Dialect, Node, Spec};
use crate::normalize::SchemaCompiler;
use crate::policy::{deserialize_at, effective, read_level};

/// Stop collecting after this many errors: the first ones are what a person fixes first.
const MAX_ERRORS: usize = 50;

/// A compiled plan and the warnings met on the way.
#[derive(Debug)]
pub struct Compiled {
    pub plan: Plan,
    pub warnings: Vec<Diagnostic>,
}

/// Compiles a loaded spec. On failure, returns every error found (up to a bound), in document order.
pub fn compile(spec: &Spec) -> Result<Compiled, Vec<Diagnostic>> {
    compile_with(spec, true)
}

/// Compiles everything but the schemas (left `None`, and `Plan::schemas` empty): what the linter needs
/// from a plan (operations, effective security and policies), at a fraction of the cost.
pub fn compile_policies(spec: &Spec) -> Result<Compiled, Vec<Diagnostic>> {
    compile_with(spec, false)
}

fn compile_with(spec: &Spec, with_schemas: bool) -> Result<Compiled, Vec<Diagnostic>> {
    let mut cx = Context {
        spec,
        schemas: SchemaCompiler::new(spec),
        with_schemas,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let plan = cx.plan();
    let schemas = cx.schemas.finish();
    let mut errors = cx.errors;
    match (plan, schemas) {
        (Some(mut plan), Ok(schemas)) if errors.is_empty() => {
            plan.schemas = schemas;
            Ok(Compiled {
                plan,
                warnings: cx.warnings,
            })
        }
        (_, schemas) => {
            if let Err(e) = schemas {
                errors.push(e);
            }
            errors.truncate(MAX_ERRORS);
            Err(errors)
        }
    }
}

struct Context<'s> {
    spec: &'s Spec,
    schemas: SchemaCompiler<'s>,
    with_schemas: bool,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

/// The `x-security` objects that apply to an operation, outermost first.
struct Levels {
    document: Option<Value>,
    path: Option<Value>,
    /// The effective policy of the levels above the operation, when it could be computed: reused as
    /// is by every operation with no `x-security` of its own.
    inherited: Option<Policy>,
}

impl<'s> Context<'s> {
    /// Records an error and gives `None`, so compilation can go on and report more.
    fn check<T>(&mut self, result: Result<T, Diagnostic>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                if self.errors.len() < MAX_ERRORS {
                    self.errors.push(e);
                }
                None
            }
        }
    }

    fn schema(&mut self, node: &Node<'s>) -> Option<Value> {
        if !self.with_schemas {
            return None;
        }
        let converted = self.schemas.convert(node);
        self.check(converted)
    }

    fn plan(&mut self) -> Option<Plan> {
        let root = self.spec.root();
        let info = root.child("info");
        let text = |key: &str| {
            info.value()
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let source = Source {
            file: root.file.portable_path().to_owned(),
            sha256: String::new(),
            openapi: self.spec.openapi.clone(),
            title: text("title"),
            version: text("version"),
        };
        let document_policy = self.check(read_level(&root.child("x-security"))).flatten();
        let security_schemes = self.security_schemes(&root);
        let document_security = match root.value().get("security") {
            Some(_) => self.check(requirements(&root.child("security"), &security_schemes)),
            None => Some(Vec::new()),
        };
        let document_servers = self.servers(&root);
        let defaults = match &document_policy {
            Some(level) => self.check(effective(&[level], &root.child("x-security"))),
            None => Some(Policy::default()),
        };
        let levels = Levels {
            document: document_policy,
            path: None,
            inherited: defaults.clone(),
        };
        let operations = self.operations(
            &root,
            &levels,
            &security_schemes,
            document_security.as_deref().unwrap_or_default(),
            &document_servers,
        );
        let defaults = defaults.and_then(|mut p| {
            let derived = self.derive_hosts(&mut p, &document_servers, &root.child("x-security"));
            self.check(derived).map(|()| p)
        })?;
        let mut source = source;
        // The linter needs no identity for the plan it reads policies from.
        if self.with_schemas {
            source.sha256 = self.source_hash();
        }
        Some(Plan {
            format_version: specgate_plan::FORMAT_VERSION,
            source,
            defaults,
            security_schemes,
            operations,
            schemas: BTreeMap::new(),
        })
    }

    fn source_hash(&self) -> String {
        let mut files = self.spec.files();
        files.sort_by(|a, b| a.portable_path().cmp(b.portable_path()));
        let mut hasher = Sha256::new();
        for file in files {
            hasher.update(file.portable_path().as_bytes());
            hasher.update([0]);
            hasher.update(file.text.as_bytes());
            hasher.update([0]);
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn operations(
        &mut self,
        root: &Node<'s>,
        levels: &Levels,
        schemes: &BTreeMap<String, SecurityScheme>,
        default_security: &[BTreeMap<String, Vec<String>>],
        servers: &[Server],
    ) -> Vec<Operation> {
        let paths = root.child("paths");
        let mut operations = Vec::new();
        match paths.value() {
            Value::Object(map) => {
                for path in map.keys() {
                    if path.starts_with("x-") {
                        continue;
                    }
                    let item = paths.child(path);
                    if !path.starts_with('/') {
                        self.check::<()>(Err(Diagnostic::error(
                            "invalid-path",
                            item.key_location(),
                            format!("path `{path}` does not start with `/`"),
                        )));
                        continue;
                    }
                    self.path_item(
                        path,
                        &item,
                        levels,
                        schemes,
                        default_security,
                        servers,
                        &mut operations,
                    );
                }
            }
            Value::Null if self.spec.dialect == Dialect::V31 => {}
            Value::Null => {
                self.check::<()>(Err(Diagnostic::error("missing-paths", root.location(), "the document has no `paths`")
                    .with_hint("OpenAPI 3.0 requires `paths`; write `paths: {}` for a document with no operations")));
            }
            other => {
                let found = if other.is_array() {
                    "a list"
                } else {
                    "not a mapping"
                };
                self.check::<()>(Err(Diagnostic::error(
                    "invalid-value",
                    paths.location(),
                    format!("`paths` must map path templates to path items, but is {found}"),
                )));
            }
        }
        operations.sort_by(|a, b| (&a.path, a.method).cmp(&(&b.path, b.method)));
        operations
    }

    #[allow(clippy::too_many_arguments)]
    fn path_item(
        &mut self,
        path: &str,
        item: &Node<'s>,
        levels: &Levels,
        schemes: &BTreeMap<String, SecurityScheme>,
        default_security: &[BTreeMap<String, Vec<String>>],
        document_servers: &[Server],
        out: &mut Vec<Operation>,
    ) {
        let Some(item) = self.check(self.spec.deref(item)) else {
            return;
        };
        if !item.value().is_object() {
            self.check::<()>(Err(Diagnostic::error(
                "invalid-value",
                item.location(),
                "a path item must be a mapping",
            )));
            return;
        }
        let path_policy = self.check(read_level(&item.child("x-security"))).flatten();
        let inherited = match &path_policy {
            None => levels.inherited.clone(),
            Some(level) => {
                let stack: Vec<&Value> = levels
                    .document
                    .iter()
                    .chain(std::iter::once(level))
                    .collect();
                effective(&stack, &item.child("x-security")).ok()
            }
        };
        let levels = Levels {
            document: levels.document.clone(),
            path: path_policy,
            inherited,
        };
        let path_servers = self.servers(&item);
        let servers = if path_servers.is_empty() {
            document_servers.to_vec()
        } else {
            path_servers
        };
        let shared_parameters = self.parameters(&item.child("parameters"));
        for method in HttpMethod::ALL {
            if method == HttpMethod::Query && self.spec.dialect == Dialect::V30 {
                continue;
            }
            let key = method.openapi_key();
            if item.value().get(key).is_none() {
                continue;
            }
            let op = item.child(key);
            if let Some(operation) = self.operation(
                path,
                method,
                &op,
                &levels,
                schemes,
                default_security,
                &servers,
                &shared_parameters,
            ) {
                out.push(operation);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn operation(
        &mut self,
        path: &str,
        method: HttpMethod,
        op: &Node<'s>,
        levels: &Levels,
        schemes: &BTreeMap<String, SecurityScheme>,
        default_security: &[BTreeMap<String, Vec<String>>],
        servers: &[Server],
        shared: &[Parameter],
    ) -> Option<Operation> {
        let value = op.value();
        if !value.is_object() {
            return self.check(Err(Diagnostic::error(
                "invalid-value",
                op.location(),
                "an operation must be a mapping",
            )));
        }
        let id = match value.get("operationId") {
            Some(Value::String(id)) => id.clone(),
            Some(_) => {
                return self.check(Err(Diagnostic::error(
                    "invalid-value",
                    op.child("operationId").location(),
                    "`operationId` must be text",
                )));
            }
            None => format!("{} {path}", method.as_str()),
        };
        let mut parameters = shared.to_vec();
        for parameter in self.parameters(&op.child("parameters")) {
            match parameters
                .iter_mut()
                .find(|p| p.name == parameter.name && p.location == parameter.location)
            {
                Some(slot) => *slot = parameter,
                None => parameters.push(parameter),
            }
        }
        let request_body = match value.get("requestBody") {
            Some(_) => self.request_body(&op.child("requestBody")),
            None => None,
        };
        let security = match value.get("security") {
            Some(_) => self.check(requirements(&op.child("security"), schemes))?,
            None => default_security.to_vec(),
        };
        let op_servers = self.servers(op);
        let servers = if op_servers.is_empty() {
            servers.to_vec()
        } else {
            op_servers
        };
        let op_policy = self.check(read_level(&op.child("x-security")))?;
        let mut stack: Vec<&Value> = Vec::new();
        stack.extend(levels.document.as_ref());
        stack.extend(levels.path.as_ref());
        stack.extend(op_policy.as_ref());
        let policy_at = if op_policy.is_some() {
            op.child("x-security")
        } else {
            op.clone()
        };
        let mut policy = match (&op_policy, &levels.inherited) {
            (None, Some(inherited)) => inherited.clone(),
            _ => self.check(effective(&stack, &policy_at))?,
        };
        self.check(self.derive_hosts(&mut policy, &servers, &policy_at))?;
        let location = op.key_location();
        let location = Location {
            file: op.file.portable_path().to_owned(),
            ..location
        };
        Some(Operation {
            id,
            method,
            path: path.to_owned(),
            servers,
            parameters,
            request_body,
            security,
            policy,
            origin: origin(location),
        })
    }

    fn parameters(&mut self, list: &Node<'s>) -> Vec<Parameter> {
        let mut out = Vec::new();
        match list.value() {
            Value::Null => {}
            Value::Array(items) => {
                for i in 0..items.len() {
                    if let Some(Some(p)) = self
                        .check(self.spec.deref(&list.child(&i.to_string())))
                        .map(|node| self.parameter(&node))
                    {
                        out.push(p);
                    }
                }
            }
            _ => {
                self.check::<()>(Err(Diagnostic::error(
                    "invalid-value",
                    list.location(),
                    "`parameters` must be a list",
                )));
            }
        }
        out
    }

    fn parameter(&mut self, node: &Node<'s>) -> Option<Parameter> {
        let value = node.value();
        let Some(name) = value.get("name").and_then(Value::as_str) else {
            return self.check(Err(Diagnostic::error(
                "invalid-parameter",
                node.location(),
                "a parameter needs a `name`",
            )));
        };
        let location = match value.get("in").and_then(Value::as_str) {
            Some("path") => ParameterLocation::Path,
            Some("query") => ParameterLocation::Query,
            Some("header") => ParameterLocation::Header,
            Some("cookie") => ParameterLocation::Cookie,
            other => {
                let mut d = Diagnostic::error(
                    "invalid-parameter",
                    node.child("in").location(),
                    format!(
                        "parameter `{name}` has `in: {}`",
                        other.unwrap_or("(missing)")
                    ),
                );
                d = d.with_hint(
                    other
                        .and_then(|o| did_you_mean(o, ["path", "query", "header", "cookie"]))
                        .unwrap_or_else(|| "write path, query, header or cookie".into()),
                );
                return self.check(Err(d));
            }
        };
        // OpenAPI: these header parameters are described elsewhere and SHALL be ignored.
        if location == ParameterLocation::Header
            && ["accept", "content-type", "authorization"]
                .contains(&name.to_ascii_lowercase().as_str())
        {
            return None;
        }
        let style = match value.get("style") {
            None => Style::default_for(location),
            Some(style) => {
                let allowed: &[(&str, Style)] = match location {
                    ParameterLocation::Path => &[
                        ("matrix", Style::Matrix),
                        ("label", Style::Label),
                        ("simple", Style::Simple),
                    ],
                    ParameterLocation::Query => &[
                        ("form", Style::Form),
                        ("spaceDelimited", Style::SpaceDelimited),
                        ("pipeDelimited", Style::PipeDelimited),
                        ("deepObject", Style::DeepObject),
                    ],
                    ParameterLocation::Header => &[("simple", Style::Simple)],
                    ParameterLocation::Cookie => &[("form", Style::Form)],
                };
                let found = style
                    .as_str()
                    .and_then(|s| allowed.iter().find(|(n, _)| *n == s));
                match found {
                    Some((_, style)) => *style,
                    None => {
                        let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
                        return self.check(Err(Diagnostic::error(
                            "invalid-parameter",
                            node.child("style").location(),
                            format!(
                                "style `{}` is not allowed for a {} parameter",
                                style.as_str().unwrap_or("?"),
                                value["in"].as_str().unwrap_or_default()
                            ),
                        )
                        .with_hint(format!("use one of: {}", names.join(", ")))));
                    }
                }
            }
        };
        let explode = value
            .get("explode")
            .and_then(Value::as_bool)
            .unwrap_or(style == Style::Form);
        let required = value
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if location == ParameterLocation::Path && !required {
            self.warnings.push(Diagnostic::warning("path-parameter-optional", node.location(), format!("path parameter `{name}` is not marked `required: true`; it is required all the same")));
        }
        let (schema, content_type) = if value.get("schema").is_some() {
            (self.schema(&node.child("schema")), None)
        } else if let Some(Value::Object(content)) = value.get("content") {
            let Some(media) = content.keys().next() else {
                return self.check(Err(Diagnostic::error(
                    "invalid-parameter",
                    node.child("content").location(),
                    "`content` must name one media type",
                )));
            };
            let media_node = node.child("content").child(media);
            let schema = match media_node.value().get("schema") {
                Some(_) => self.schema(&media_node.child("schema")),
                None => None,
            };
            (schema, Some(media.clone()))
        } else {
            (None, None)
        };
        Some(Parameter {
            name: name.to_owned(),
            location,
            style,
            explode,
            required: required || location == ParameterLocation::Path,
            allow_reserved: value
                .get("allowReserved")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            allow_empty_value: value
                .get("allowEmptyValue")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            content_type,
            schema,
        })
    }

    fn request_body(&mut self, node: &Node<'s>) -> Option<RequestBody> {
        let node = self.check(self.spec.deref(node))?;
        let value = node.value();
        let required = value
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut content = BTreeMap::new();
        let content_node = node.child("content");
        if let Some(Value::Object(media_types)) = value.get("content") {
            for (media, media_value) in media_types {
                let media_node = content_node.child(media);
                let schema = match media_value.get("schema") {
                    Some(_) => self.schema(&media_node.child("schema")),
                    None => None,
                };
                let mut encoding = BTreeMap::new();
                if let Some(Value::Object(encodings)) = media_value.get("encoding") {
                    for (property, e) in encodings {
                        let style = match e.get("style").and_then(Value::as_str) {
                            Some("form") => Some(Style::Form),
                            Some("spaceDelimited") => Some(Style::SpaceDelimited),
                            Some("pipeDelimited") => Some(Style::PipeDelimited),
                            Some("deepObject") => Some(Style::DeepObject),
                            Some(other) => {
                                self.check::<()>(Err(Diagnostic::error("invalid-value", media_node.child("encoding").child(property).child("style").location(), format!("encoding style `{other}` is not one of form, spaceDelimited, pipeDelimited, deepObject"))));
                                None
                            }
                            None => None,
                        };
                        encoding.insert(
                            property.clone(),
                            Encoding {
                                content_type: e
                                    .get("contentType")
                                    .and_then(Value::as_str)
                                    .map(str::to_owned),
                                style,
                                explode: e.get("explode").and_then(Value::as_bool),
                                allow_reserved: e
                                    .get("allowReserved")
                                    .and_then(Value::as_bool)
                                    .unwrap_or(false),
                            },
                        );
                    }
                }
                content.insert(media.to_ascii_lowercase(), MediaType { schema, encoding });
            }
        } else {
            self.check::<()>(Err(Diagnostic::error(
                "invalid-value",
                node.location(),
                "a request body needs `content`",
            )));
        }
        Some(RequestBody { required, content })
    }

    fn servers(&mut self, node: &Node<'s>) -> Vec<Server> {
        let mut out = Vec::new();
        let Some(Value::Array(servers)) = node.value().get("servers") else {
            return out;
        };
        for server in servers {
            let Some(url) = server.get("url").and_then(Value::as_str) else {
                continue;
            };
            let mut variables = BTreeMap::new();
            if let Some(Value::Object(vars)) = server.get("variables") {
                for (name, var) in vars {
                    let default = var
                        .get("default")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let mut values: Vec<String> = default.iter().cloned().collect();
                    for v in var
                        .get("enum")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !values.iter().any(|x| x == v) {
                            values.push(v.to_owned());
                        }
                    }
                    variables.insert(name.clone(), values);
                }
            }
            out.push(Server {
                url: url.to_owned(),
                variables,
            });
        }
        out
    }

    /// Replaces `hosts: from-servers` with the hosts the servers name.
    fn derive_hosts(
        &self,
        policy: &mut Policy,
        servers: &[Server],
        at: &Node<'s>,
    ) -> Result<(), Diagnostic> {
        if policy.hosts != Some(Hosts::Derived(FromServers::FromServers)) {
            return Ok(());
        }
        let mut hosts: Vec<HostPattern> = Vec::new();
        for server in servers {
            for url in expand_server(server) {
                let Some(authority) = url
                    .split_once("://")
                    .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
                else {
                    continue;
                };
                if let Ok(host) = HostPattern::try_from(authority.to_owned())
                    && !hosts.contains(&host)
                {
                    hosts.push(host);
                }
            }
        }
        if hosts.is_empty() {
            return Err(Diagnostic::error("invalid-value", at.location(), "`hosts: from-servers`, but no server URL names a host")
                .with_hint("declare absolute `servers` URLs such as https://api.example.com, or list the hosts"));
        }
        hosts.sort();
        policy.hosts = Some(Hosts::List(hosts));
        Ok(())
    }

    fn security_schemes(&mut self, root: &Node<'s>) -> BTreeMap<String, SecurityScheme> {
        let mut out = BTreeMap::new();
        let schemes = root.child("components").child("securitySchemes");
        let names: Vec<String> = schemes
            .value()
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        for name in &names {
            let Some(node) = self.check(self.spec.deref(&schemes.child(name))) else {
                continue;
            };
            if let Some(scheme) = self.check(security_scheme(&node)) {
                out.insert(name.clone(), scheme);
            }
        }
        out
    }
}

fn origin(location: Location) -> Origin {
    Origin {
        file: location.file,
        line: location.line,
        column: location.column,
        pointer: location.pointer,
    }
}

/// Every URL a server stands for, its variables expanded from their values.
pub fn expand_server(server: &Server) -> Vec<String> {
    let mut urls = vec![server.url.clone()];
    for (name, values) in &server.variables {
        let placeholder = format!("{{{name}}}");
        urls = urls
            .into_iter()
            .flat_map(|url| {
                if url.contains(&placeholder) {
                    values
                        .iter()
                        .map(|v| url.replace(&placeholder, v))
                        .collect()
                } else {
                    vec![url]
                }
            })
            .collect();
    }
    urls
}

/// Reads a list of security requirements, checking that every scheme it names exists.
fn requirements(
    node: &Node,
    schemes: &BTreeMap<String, SecurityScheme>,
) -> Result<Vec<BTreeMap<String, Vec<String>>>, Diagnostic> {
    let Value::Array(list) = node.value() else {
        return Err(Diagnostic::error(
            "invalid-value",
            node.location(),
            "`security` must be a list of requirements",
        ));
    };
    let mut out = Vec::new();
    for (i, requirement) in list.iter().enumerate() {
        let at = node.child(&i.to_string());
        let Value::Object(map) = requirement else {
            return Err(Diagnostic::error(
                "invalid-value",
                at.location(),
                "a security requirement must map scheme names to scope lists",
            ));
        };
        let mut alternative = BTreeMap::new();
        for (scheme, scopes) in map {
            if !schemes.contains_key(scheme) {
                let mut d = Diagnostic::error(
                    "unknown-scheme",
                    at.child(scheme).key_location(),
                    format!(
                        "security scheme `{scheme}` is not declared in components.securitySchemes"
                    ),
                );
                if let Some(hint) = did_you_mean(scheme, schemes.keys().map(String::as_str)) {
                    d = d.with_hint(hint);
                }
                return Err(d);
            }
            let Some(scopes) = scopes.as_array().and_then(|s| {
                s.iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            }) else {
                return Err(Diagnostic::error(
                    "invalid-value",
                    at.child(scheme).location(),
                    "scopes must be a list of text",
                ));
            };
            alternative.insert(scheme.clone(), scopes);
        }
        out.push(alternative);
    }
    Ok(out)
}

fn security_scheme(node: &Node) -> Result<SecurityScheme, Diagnostic> {
    let value = node.value();
    let text = |key: &str| value.get(key).and_then(Value::as_str);
    let x = node.child("x-security");
    let has_x = value.get("x-security").is_some();
    // OpenAPI 3.0 has no mutualTLS type: a scheme whose x-security holds `mtls` stands for it.
    if value
        .get("x-security")
        .and_then(|x| x.get("mtls"))
        .is_some()
    {
        if let Some(other) = x
            .value()
            .as_object()
            .and_then(|m| m.keys().find(|k| *k != "mtls"))
        {
            return Err(Diagnostic::error(
                "unknown-key",
                x.child(other).key_location(),
                format!("unknown key `{other}` beside `mtls` in x-security"),
            ));
        }
        let verify: Mtls = deserialize_at(&x.child("mtls"), "x-security.mtls")?;
        return Ok(SecurityScheme {
            kind: SchemeKind::MutualTls,
            verify: Some(Verification::Mtls(verify)),
        });
    }
    let kind = match text("type") {
        Some("http") => SchemeKind::Http {
            scheme: text("scheme").unwrap_or_default().to_ascii_lowercase(),
        },
        Some("apiKey") => {
            let location = match text("in") {
                Some("header") => ApiKeyLocation::Header,
                Some("query") => ApiKeyLocation::Query,
                Some("cookie") => ApiKeyLocation::Cookie,
                other => {
                    return Err(Diagnostic::error(
                        "invalid-scheme",
                        node.child("in").location(),
                        format!(
                            "an apiKey scheme needs `in: header`, `query` or `cookie`, not `{}`",
                            other.unwrap_or("(missing)")
                        ),
                    ));
                }
            };
            let Some(name) = text("name") else {
                return Err(Diagnostic::error(
                    "invalid-scheme",
                    node.location(),
                    "an apiKey scheme needs a `name`",
                ));
            };
            SchemeKind::ApiKey {
                location,
                name: name.to_owned(),
            }
        }
        Some("oauth2") => SchemeKind::Oauth2,
        Some("openIdConnect") => {
            let Some(url) = text("openIdConnectUrl") else {
                return Err(Diagnostic::error(
                    "invalid-scheme",
                    node.location(),
                    "an openIdConnect scheme needs `openIdConnectUrl`",
                ));
            };
            SchemeKind::OpenIdConnect {
                url: url.to_owned(),
            }
        }
        Some("mutualTLS") => SchemeKind::MutualTls,
        other => {
            let known = ["http", "apiKey", "oauth2", "openIdConnect", "mutualTLS"];
            let hint = other
                .and_then(|o| did_you_mean(o, known))
                .unwrap_or_else(|| format!("use one of: {}", known.join(", ")));
            return Err(Diagnostic::error(
                "invalid-scheme",
                node.child("type").location(),
                format!(
                    "security scheme type `{}` is not known",
                    other.unwrap_or("(missing)")
                ),
            )
            .with_hint(hint));
        }
    };
    if let Some(Value::Object(settings)) = value.get("x-security")
        && settings.contains_key("discovery-url")
    {
        return Err(Diagnostic::error(
            "unknown-key",
            x.child("discovery-url").key_location(),
            "unknown key `discovery-url` in x-security",
        )
        .with_hint("discovery is configured by an openIdConnect scheme's `openIdConnectUrl`"));
    }
    let verify = match &kind {
        SchemeKind::Http { scheme } if scheme == "bearer" => has_x
            .then(|| {
                deserialize_at::<Jwt>(&x, "a bearer scheme's x-security")
                    .map(|j| Verification::Jwt(Box::new(j)))
            })
            .transpose()?,
        SchemeKind::Oauth2 => has_x
            .then(|| {
                deserialize_at::<Jwt>(&x, "an oauth2 scheme's x-security")
                    .map(|j| Verification::Jwt(Box::new(j)))
            })
            .transpose()?,
        SchemeKind::OpenIdConnect { url } => {
            let mut jwt = if has_x {
                deserialize_at::<Jwt>(&x, "an openIdConnect scheme's x-security")?
            } else {
                Jwt::default()
            };
            jwt.discovery_url = Some(url.clone());
            Some(Verification::Jwt(Box::new(jwt)))
        }
        SchemeKind::ApiKey { .. } => has_x
            .then(|| deserialize_at(&x, "an apiKey scheme's x-security").map(Verification::ApiKey))
            .transpose()?,
        SchemeKind::MutualTls => Some(Verification::Mtls(if has_x {
            deserialize_at(&x, "a mutualTLS scheme's x-security")?
        } else {
            Mtls::default()
        })),
        SchemeKind::Http { scheme } => {
            if has_x {
                return Err(Diagnostic::error("unsupported-scheme", x.key_location(), format!("specgate cannot verify http `{scheme}` credentials, so this x-security has no effect"))
                    .with_hint("use a bearer (JWT), apiKey, oauth2, openIdConnect or mutualTLS scheme"));
            }
            None
        }
    };
    let verify = match verify {
        Some(Verification::Jwt(jwt)) => Some(Verification::Jwt(Box::new(check_jwt(*jwt, &x)?))),
        Some(Verification::ApiKey(keys)) => {
            if keys.keys_env.is_some() && keys.keys_file.is_some() {
                return Err(Diagnostic::error(
                    "invalid-value",
                    x.location(),
                    "give `keys-env` or `keys-file`, not both",
                ));
            }
            if keys.keys_env.is_none() && keys.keys_file.is_none() {
                return Err(Diagnostic::error(
                    "missing-key",
                    x.location(),
                    "an apiKey scheme's x-security needs `keys-env` or `keys-file`",
                ));
            }
            // Read by the sidecar relative to the root spec (or plan) file: rebase paths from other files.
            let mut keys = keys;
            if let Some(file) = keys.keys_file.take() {
                let folder = std::path::Path::new(node.file.portable_path())
                    .parent()
                    .unwrap_or(std::path::Path::new(""));
                keys.keys_file = Some(
                    crate::load::normalize(&folder.join(file))
                        .to_string_lossy()
                        .into_owned(),
                );
            }
            Some(Verification::ApiKey(keys))
        }
        other => other,
    };
    Ok(SecurityScheme { kind, verify })
}

/// Key sources and algorithms must agree; a JWKS file is embedded, and must hold public keys only.
fn check_jwt(mut jwt: Jwt, x: &Node) -> Result<Jwt, Diagnostic> {
    let sources = [
        jwt.jwks_uri.is_some(),
        jwt.jwks_file.is_some(),
        jwt.jwks.is_some(),
        jwt.secret_env.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count();
    if sources > 1 {
        return Err(Diagnostic::error(
            "invalid-value",
            x.location(),
            "give one key source: `jwks-uri`, `jwks-file`, `jwks` or `secret-env`",
        ));
    }
    let hmac = jwt.algorithms.iter().filter(|a| a.is_hmac()).count();
    if jwt.algorithms.is_empty() {
        return Err(Diagnostic::error(
            "invalid-value",
            x.child("algorithms").location(),
            "`algorithms` must list at least one algorithm",
        ));
    }
    if jwt.secret_env.is_some() && hmac != jwt.algorithms.len() {
        return Err(Diagnostic::error("invalid-value", x.child("algorithms").location(), "`secret-env` verifies HMAC tokens only: list HS256, HS384 or HS512 in `algorithms`")
            .with_hint("HMAC algorithms are never verified with a public key, and public-key algorithms need a JWKS"));
    }
    if jwt.secret_env.is_none() && hmac > 0 {
        return Err(Diagnostic::error("invalid-value", x.child("algorithms").location(), "HMAC algorithms (HS*) need `secret-env`")
            .with_hint("an HMAC algorithm is never verified with a public key; use RS256, ES256 or EdDSA with a JWKS"));
    }
    if jwt.token_sources.is_empty() {
        return Err(Diagnostic::error(
            "invalid-value",
            x.child("token-sources").location(),
            "`token-sources` is empty, so no token could ever be read",
        )
        .with_hint("write `[header]` for `Authorization: Bearer`"));
    }
    if let Some((claim, _)) = jwt.claims.iter().find(|(_, accepted)| accepted.is_empty()) {
        return Err(Diagnostic::error(
            "invalid-value",
            x.child("claims").child(claim).location(),
            format!("claim `{claim}` lists no accepted value, so every token would be refused"),
        ));
    }
    if let Some(file) = jwt.jwks_file.take() {
        let at = x.child("jwks-file");
        let base = x.file.path.parent().unwrap_or(std::path::Path::new(""));
        let text = std::fs::read_to_string(base.join(&file)).map_err(|e| {
            Diagnostic::error(
                "io",
                at.location(),
                format!("cannot read JWKS file `{file}`: {e}"),
            )
        })?;
        let keys: Value = serde_json::from_str(&text).map_err(|e| {
            Diagnostic::error(
                "invalid-jwks",
                at.location(),
                format!("`{file}` is not JSON: {e}"),
            )
        })?;
        jwt.jwks = Some(check_jwks(keys, &at, &file)?);
    } else if let Some(keys) = jwt.jwks.take() {
        jwt.jwks = Some(check_jwks(keys, &x.child("jwks"), "the inline JWKS")?);
    }
    Ok(jwt)
}

fn check_jwks(keys: Value, at: &Node, name: &str) -> Result<Value, Diagnostic> {
    let Some(list) = keys.get("keys").and_then(Value::as_array) else {
        return Err(Diagnostic::error(
            "invalid-jwks",
            at.location(),
            format!("{name} is not a JWK Set (no `keys` list)"),
        ));
    };
    for key in list {
        if let Some(private) = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
            .iter()
            .find(|m| key.get(**m).is_some())
        {
            return Err(Diagnostic::error("private-key", at.location(), format!("{name} holds private key material (`{private}`); a plan never carries secrets"))
                .with_hint("publish only the public keys (for RSA: kty, kid, n, e); HMAC secrets go in `secret-env`"));
        }
    }
    Ok(keys)
}
