//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// OpenAPI-driven API security: one spec drives linting, compiled policy plans and the sidecar.
#[derive(Debug, Parser)]
#[command(name = "specgate", version, about)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile a spec into a plan (JSON). Exit 0 on success, 2 when the spec has errors.
    Compile {
        /// The root file of the spec (YAML or JSON, OpenAPI 3.0, 3.1 or 3.2).
        spec: PathBuf,
        /// Write the plan here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Lint specs: files, folders (every OpenAPI document in them) and globs. Exit 0 when nothing at or
    /// above --fail-on was found, 1 when something was, 2 when a spec or the configuration is invalid.
    Lint(LintArgs),
    /// List every lint rule, or print the documentation of one (by code or name).
    Rules {
        /// A rule code (SG101) or name (open-request-object).
        rule: Option<String>,
    },
    /// Run the sidecar: a reverse proxy beside a service that lets through only what the spec allows.
    /// Every flag can also be given as an environment variable SPECGATE_<FLAG>.
    Run(Box<RunArgs>),
    /// Print a plan's routes and the policies that guard them.
    Inspect {
        /// A plan written by `specgate compile`, or a spec (compiled on the fly).
        plan: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Spec files, folders or globs (default: the current folder).
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Text, env = "SPECGATE_LINT_FORMAT")]
    pub format: Format,
    /// The lowest severity that makes the exit code 1 (default: the config's `fail-on`, else error).
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// A `.specgate.yaml` to use instead of the nearest one above each spec.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Accept the findings recorded in this baseline; report only new ones.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record every current finding in this baseline file (and exit 0).
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-like, for people.
    Text,
    /// Stable JSON: {"version": 1, "findings": [...]}.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other tools.
    Sarif,
    /// GitHub Actions workflow annotations.
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Error,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The spec to enforce (compiled at start).
    #[arg(
        long,
        env = "SPECGATE_SPEC",
        value_name = "FILE",
        required_unless_present = "plan",
        conflicts_with = "plan"
    )]
    pub spec: Option<PathBuf>,
    /// A plan written by `specgate compile`.
    #[arg(long, env = "SPECGATE_PLAN", value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// The service's base URL (http://host:port[/prefix]), or `echo` for the built-in upstream that
    /// answers with a description of what it received.
    #[arg(long, env = "SPECGATE_UPSTREAM", value_name = "URL|echo")]
    pub upstream: String,
    /// Where to listen for clients.
    #[arg(
        long,
        env = "SPECGATE_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: std::net::SocketAddr,
    /// Reload the spec or plan when its file changes (it is also reloaded on SIGHUP). A new plan that
    /// fails to load leaves the running one in force.
    #[arg(long, env = "SPECGATE_WATCH")]
    pub watch: bool,
    /// Where to serve /healthz, /readyz and /metrics (not served when absent).
    #[arg(long, env = "SPECGATE_ADMIN", value_name = "ADDR")]
    pub admin: Option<std::net::SocketAddr>,
    /// Serve every operation under this path prefix instead of the path part of the spec's `servers`
    /// (for an ingress that rewrites the prefix); `/` serves them at the root.
    #[arg(long, env = "SPECGATE_BASE_PATH", value_name = "PATH")]
    pub base_path: Option<String>,
    /// Terminate TLS with this certificate chain (PEM); reloaded on SIGHUP.
    #[arg(
        long,
        env = "SPECGATE_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        env = "SPECGATE_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Verify client certificates against these CA certificates (PEM), for `mutualTLS` schemes.
    #[arg(
        long,
        env = "SPECGATE_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub client_ca: Option<PathBuf>,
    /// Share rate-limit budgets across replicas through this Redis (redis://host:port[/db]).
    #[arg(long, env = "SPECGATE_REDIS", value_name = "URL")]
    pub redis: Option<String>,
    /// While Redis is unreachable: `open` limits in process, `closed` answers 503.
    #[arg(long, env = "SPECGATE_RATE_LIMIT_FALLBACK", value_enum, default_value_t = Fallback::Open)]
    pub rate_limit_fallback: Fallback,
    /// Time Redis has to answer a rate-limit check before the fallback applies.
    #[arg(long, env = "SPECGATE_REDIS_TIMEOUT", default_value = "50ms")]
    pub redis_timeout: specgate_plan::units::Duration,
    /// Prefix of every rate-limit key in Redis.
    #[arg(long, env = "SPECGATE_REDIS_PREFIX", default_value = "specgate:rl:")]
    pub redis_prefix: String,
    /// A proxy whose X-Forwarded-For is believed (CIDR; repeatable, or comma-separated in the
    /// environment variable).
    #[arg(
        long,
        env = "SPECGATE_TRUSTED_PROXY",
        value_name = "CIDR",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<ipnet::IpNet>,
    #[arg(long, env = "SPECGATE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// Time a client has to send a request's head.
    #[arg(long, env = "SPECGATE_HEADER_READ_TIMEOUT", default_value = "10s")]
    pub header_read_timeout: specgate_plan::units::Duration,
    /// Time a client has to send a request's body.
    #[arg(long, env = "SPECGATE_BODY_READ_TIMEOUT", default_value = "30s")]
    pub body_read_timeout: specgate_plan::units::Duration,
    /// Time allowed to connect to the upstream.
    #[arg(long, env = "SPECGATE_CONNECT_TIMEOUT", default_value = "5s")]
    pub connect_timeout: specgate_plan::units::Duration,
    /// Time the upstream has to start answering.
    #[arg(long, env = "SPECGATE_UPSTREAM_TIMEOUT", default_value = "30s")]
    pub upstream_timeout: specgate_plan::units::Duration,
    /// Time a write to a client may wait for it to read; a client that stops reading its answer
    /// is disconnected after this.
    #[arg(long, env = "SPECGATE_SEND_TIMEOUT", default_value = "60s")]
    pub send_timeout: specgate_plan::units::Duration,
    /// Time in-flight requests have to finish after SIGTERM or Ctrl-C.
    #[arg(long, env = "SPECGATE_SHUTDOWN_GRACE", default_value = "10s")]
    pub shutdown_grace: specgate_plan::units::Duration,
    /// Client connections served at once; more wait in the listen queue until one closes.
    #[arg(long, env = "SPECGATE_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Threads that serve requests (default: the CPUs the process may run on). With one, the
    /// sidecar runs on a single-threaded runtime, which costs a third less CPU per request.
    #[arg(long, env = "SPECGATE_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One JSON object per request.
    Json,
    /// One readable line per request.
    Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Fallback {
    /// Keep serving, limiting in process.
    Open,
    /// Refuse with 503 until Redis answers again.
    Closed,
}
