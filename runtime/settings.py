"""Every setting of the product in one model (cấu hình): names, types, safe defaults, meanings.

Each process reads its environment through ``Settings`` and validates all of it at start, so a
malformed value (a port of 70000, a half-configured mail relay, a non-numeric cache size) stops
it in one line naming the variable, before it connects to anything. The README's table of
settings is generated from this model (``drugfree settings --markdown``; a test keeps them
equal), and ``drugfree settings`` shows a process's effective values, secrets masked.

The defaults are the safe ones: encryption and identity required, opt-outs off, the operations
port on the loopback interface only.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.validation import describe

Part = Literal["temporal", "database", "encryption", "identity", "api", "notifications",
               "audit", "observability", "worker", "opt-outs", "command line"]


def _env(name: str, part: Part, meaning: str, default: Any = None, **kw: Any) -> Any:
    """A field read from the environment variable ``name`` (exactly), with its README row."""
    if "default_factory" not in kw:
        kw["default"] = default
    return Field(validation_alias=AliasChoices(name), description=meaning,
                 json_schema_extra={"env": name, "part": part}, **kw)


class Settings(BaseSettings):
    """The product's configuration from the environment (field names are the variables'
    names without ``DRUGFREE_``, lower case)."""

    # an empty variable is an unset one (deploy/worker.env.sample lists them empty)
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True,
                                      case_sensitive=True, env_ignore_empty=True)

    # -- Temporal --------------------------------------------------------------------------
    temporal_address: str | None = _env(
        "TEMPORAL_ADDRESS", "temporal", "The workflow service (host:port). Unset: the "
        "process starts a throwaway dev server (trials, the demo).")
    temporal_namespace: str = _env("TEMPORAL_NAMESPACE", "temporal", "Temporal namespace.",
                                   "default")
    # the Temporal CLI's own variables, so one environment serves both (Temporal Cloud: mTLS
    # with a client certificate, or an API key)
    temporal_tls: bool = _env(
        "TEMPORAL_TLS", "temporal", "Connect to Temporal over TLS. On by itself when a client "
        "certificate or an API key is set.", False)
    temporal_tls_ca: str | None = _env(
        "TEMPORAL_TLS_CA", "temporal", "PEM file of the certificate authority the server's "
        "certificate must chain to. Unset: the system's roots.")
    temporal_tls_cert: str | None = _env(
        "TEMPORAL_TLS_CERT", "temporal", "PEM file of the client certificate (mutual TLS, as "
        "Temporal Cloud's certificate authentication), with `TEMPORAL_TLS_KEY`.")
    temporal_tls_key: str | None = _env(
        "TEMPORAL_TLS_KEY", "temporal", "PEM file of the client certificate's private key.")
    temporal_tls_server_name: str | None = _env(
        "TEMPORAL_TLS_SERVER_NAME", "temporal", "The name the server's certificate must carry, "
        "when it is not the address's host.")
    temporal_api_key: SecretStr | None = _env(
        "TEMPORAL_API_KEY", "temporal", "API key (Temporal Cloud), sent as a bearer token, over "
        "TLS only.")
    task_queue: str = _env("DRUGFREE_TASK_QUEUE", "temporal", "Task queue of the workflows "
                           "and activities.", "drugfree", pattern=r"^[A-Za-z0-9._-]{1,100}$")
    local_appends: bool = _env(
        "DRUGFREE_LOCAL_APPENDS", "temporal", "API and `drugfree dev`: the workflows they start "
        "append events (and ask for the admission) by local activities, fewer server round "
        "trips; false: regular activities. Decided per workflow at its start (README, \"Local "
        "appends\").", True)
    # -- database ------------------------------------------------------------------------------
    database_url: SecretStr | None = _env(
        "DATABASE_URL", "database", "The event store. Worker, API and dispatcher: the "
        "application role `drugfree_app` (refused if it can write events directly); "
        "`drugfree db migrate`: the owner. Unset: a throwaway embedded PostgreSQL.")
    app_password: SecretStr | None = _env(
        "DRUGFREE_APP_PASSWORD", "database", "Password of `drugfree_app`, when the application "
        "URL is derived from the owner's (local stacks).")
    # -- encryption ------------------------------------------------------------------------
    payload_keys_file: str | None = _env(
        "DRUGFREE_PAYLOAD_KEYS_FILE", "encryption", "Key file of the payload encryption keys "
        "(AES-256-GCM; `drugfree keys new`, `rotate`). Required (or the next) by every process "
        "that talks to Temporal.")
    payload_key: SecretStr | None = _env(
        "DRUGFREE_PAYLOAD_KEY", "encryption", "One payload key, 64 hex digits (key id "
        "`drugfree-key-1`), instead of a key file.")
    # -- identity and trust ------------------------------------------------------------------
    identity_keys: str | None = _env(
        "DRUGFREE_IDENTITY_KEYS", "identity", "Worker: JWKS file of the keys whose command "
        "proofs it accepts (the front door's public key).")
    identity_jwks_url: str | None = _env(
        "DRUGFREE_IDENTITY_JWKS_URL", "identity", "Worker: a JWKS URL instead of (or beside) "
        "the file.")
    relay_key: str | None = _env(
        "DRUGFREE_RELAY_KEY", "identity", "Worker: PEM file of its Ed25519 key relaying a "
        "campaign's list decisions to its cases (the same on every replica).")
    token_keys: str | None = _env(
        "DRUGFREE_TOKEN_KEYS", "identity", "API, codec server: JWKS file of the keys people's "
        "identity tokens are signed with.")
    token_jwks_url: str | None = _env(
        "DRUGFREE_TOKEN_JWKS_URL", "identity", "API, codec server: a province sign-on's JWKS "
        "URL.")
    token_issuer: str | None = _env("DRUGFREE_TOKEN_ISSUER", "identity", "The `iss` identity "
                                    "tokens must carry, when the sign-on names itself.")
    front_door_key: str | None = _env(
        "DRUGFREE_FRONT_DOOR_KEY", "identity", "API: PEM file of the key that signs each "
        "command's proof (its public half in the workers' identity keys).")
    # -- API and pages -----------------------------------------------------------------------
    ui_secret: SecretStr | None = _env(
        "DRUGFREE_UI_SECRET", "api", "The pages' session/CSRF secret, the same on every API "
        "replica. Unset: random per process (one replica only).")
    max_attachment_bytes: int = _env(
        "DRUGFREE_MAX_ATTACHMENT_BYTES", "api", "Largest attached file, in bytes.", 10 << 20,
        ge=1, le=1 << 30)
    catalog: str | None = _env(
        "DRUGFREE_CATALOG", "api", "Directories of plans, criteria and rule sets (`:`-"
        "separated) beside the shipped ones.")
    # -- notifications -------------------------------------------------------------------------
    smtp_host: str | None = _env("DRUGFREE_SMTP_HOST", "notifications",
                                 "Mail relay; unset: no e-mail channel.")
    smtp_port: int = _env("DRUGFREE_SMTP_PORT", "notifications", "Mail relay port.", 25,
                          ge=1, le=65535)
    smtp_from: str | None = _env("DRUGFREE_SMTP_FROM", "notifications", "Sender address "
                                 "(required with a relay).")
    smtp_to: str | None = _env("DRUGFREE_SMTP_TO", "notifications", "Default recipient "
                               "(required with a relay).")
    smtp_role_to: dict[str, str] = _env(
        "DRUGFREE_SMTP_ROLE_TO", "notifications", "JSON object: role id -> address.",
        default_factory=dict)
    smtp_username: str | None = _env("DRUGFREE_SMTP_USERNAME", "notifications", "Relay login.")
    smtp_password: SecretStr | None = _env("DRUGFREE_SMTP_PASSWORD", "notifications",
                                           "Relay password.")
    smtp_starttls: bool | None = _env("DRUGFREE_SMTP_STARTTLS", "notifications",
                                      "STARTTLS on/off; unset: as the relay offers.")
    webhook_url: str | None = _env("DRUGFREE_WEBHOOK_URL", "notifications",
                                   "Webhook endpoint; unset: no webhook channel.")
    webhook_secret: SecretStr | None = _env(
        "DRUGFREE_WEBHOOK_SECRET", "notifications", "HMAC secret of the webhook's signature "
        "(required with a URL).")
    notify_lang: Literal["vi", "en"] = _env("DRUGFREE_NOTIFY_LANG", "notifications",
                                            "Language of notifications.", "vi")
    notify_max_delay: float = _env(
        "DRUGFREE_NOTIFY_MAX_DELAY", "notifications", "Longest wait (seconds) between two "
        "attempts of a notice whose channel is down (the backoff doubles up to it).", 3600.0,
        ge=1.0, le=86400.0)
    notify_lease: float = _env(
        "DRUGFREE_NOTIFY_LEASE", "notifications", "Seconds a dispatcher holds the notices it "
        "claimed: after a dispatcher dies, its unsent notices go to another after this long "
        "(more than one send's 30 s).", 300.0, gt=30.0, le=86400.0)
    # -- audit -------------------------------------------------------------------------------
    checkpoint_key: str | None = _env(
        "DRUGFREE_CHECKPOINT_KEY", "audit", "PEM file (Ed25519) signing the log's hourly "
        "checkpoints; unset: checkpoints unsigned.")
    checkpoint_vkey: str | None = _env(
        "DRUGFREE_CHECKPOINT_VKEY", "audit", "The verifier key (C2SP vkey) auditors check "
        "checkpoints with.")
    checkpoint_dir: str | None = _env("DRUGFREE_CHECKPOINT_DIR", "audit", "Directory where "
                                      "signed checkpoints are also written (outside PostgreSQL).")
    checkpoint_webhook: str | None = _env("DRUGFREE_CHECKPOINT_WEBHOOK", "audit", "URL each "
                                          "checkpoint is posted to (a witness).")
    log_origin: str | None = _env("DRUGFREE_LOG_ORIGIN", "audit", "The log's origin line in "
                                  "checkpoints; unset: the product's default.")
    # -- observability -----------------------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = _env(
        "DRUGFREE_LOG_LEVEL", "observability", "Log level (JSON lines on stderr).", "INFO")
    core_log: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] = _env(
        "DRUGFREE_CORE_LOG", "observability", "Log level of the Temporal SDK core.", "ERROR")
    metrics_host: str = _env("DRUGFREE_METRICS_HOST", "observability", "Address of the "
                             "operations port (/metrics, /livez, /readyz); 0.0.0.0 in a "
                             "container.", "127.0.0.1")
    metrics_port: int = _env("DRUGFREE_METRICS_PORT", "observability", "The operations "
                             "port; 0: none.", 9464, ge=0, le=65535)
    sdk_metrics_port: int = _env(
        "DRUGFREE_SDK_METRICS_PORT", "observability", "Loopback port where the Temporal SDK "
        "serves its metrics, merged into /metrics; 0: the SDK's metrics off.", 9465,
        ge=0, le=65535)
    otlp_endpoint: str | None = _env(
        "OTEL_EXPORTER_OTLP_ENDPOINT", "observability", "OpenTelemetry collector (OTLP/gRPC); "
        "unset: traces are not exported.")
    otlp_traces_endpoint: str | None = _env(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "observability", "The collector for traces only "
        "(instead of the endpoint above).")
    traces_exporter: str | None = _env(
        "OTEL_TRACES_EXPORTER", "observability", "`console`: print spans to stdout (debugging); "
        "otherwise unused.")
    # -- worker --------------------------------------------------------------------------------
    workflow_cache: int | None = _env(
        "DRUGFREE_WORKFLOW_CACHE", "worker", "Workflows kept in a worker's memory; 0: sticky "
        "execution off. Unset: the SDK's default (1,000).", ge=0, le=100_000)
    workflow_sandbox: Literal["strict", "off"] = _env(
        "DRUGFREE_WORKFLOW_SANDBOX", "worker", "`strict`: workflow code runs in Temporal's "
        "sandbox, re-imported for every run, so a clock read or random number in it fails "
        "the task (the test suite runs so). `off`: without it, about a fifth less worker CPU "
        "per case; determinism is guarded by the suite, the recorded histories and "
        "`drugfree audit replay-code` before a deploy.", "off")
    worker_dispatch: bool = _env(
        "DRUGFREE_WORKER_DISPATCH", "worker", "The worker also delivers notifications and "
        "updates the read model; false when `drugfree dispatcher` runs apart.", True)
    build_id: str | None = _env(
        "DRUGFREE_BUILD_ID", "worker", "The worker's build (its image tag). Set: the worker "
        "joins the Worker Deployment `DRUGFREE_DEPLOYMENT_NAME` as this version and takes "
        "tasks once an operator makes the version current or ramping (deploy/README, \"Deploying "
        "workflow changes safely\"). Unset: an unversioned worker (local stacks, tests).",
        pattern=r"^[A-Za-z0-9._+-]{1,100}$")
    deployment_name: str = _env(
        "DRUGFREE_DEPLOYMENT_NAME", "worker", "The Worker Deployment the versioned workers "
        "join.", "drugfree", pattern=r"^[A-Za-z0-9_-]{1,100}$")
    # -- explicit opt-outs (never in production) ---------------------------------------------
    insecure_no_identity: bool = _env(
        "DRUGFREE_INSECURE_NO_IDENTITY", "opt-outs", "Run without verifying identity "
        "(logged; trials only).", False)
    insecure_plaintext: bool = _env(
        "DRUGFREE_INSECURE_PLAINTEXT", "opt-outs", "Store payloads in clear in Temporal when "
        "no key is set (logged; tests only).", False)
    rehearsal_clocks: bool = _env(
        "DRUGFREE_REHEARSAL_CLOCKS", "opt-outs", "Worker accepts cases on a shifted or "
        "compressed calendar (demo, tests, benchmarks).", False)
    # -- the command line ----------------------------------------------------------------------
    api: str | None = _env("DRUGFREE_API", "command line", "The API the `drugfree` commands "
                           "talk to.")
    token: SecretStr | None = _env("DRUGFREE_TOKEN", "command line", "The identity token "
                                   "the `drugfree` commands send.")
    signing_key: str | None = _env("DRUGFREE_SIGNING_KEY", "command line", "`drugfree auth "
                                   "issue`: PEM file of the sign-on key that signs tokens.")

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        # A half-configured channel is refused at start-up, not at the first notice.
        if self.smtp_host and not (self.smtp_from and self.smtp_to):
            raise ValueError("DRUGFREE_SMTP_HOST needs DRUGFREE_SMTP_FROM and DRUGFREE_SMTP_TO")
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("DRUGFREE_WEBHOOK_URL needs DRUGFREE_WEBHOOK_SECRET")
        if self.metrics_port and self.metrics_port == self.sdk_metrics_port:
            raise ValueError("DRUGFREE_METRICS_PORT and DRUGFREE_SDK_METRICS_PORT must differ")
        from runtime.temporal_tls import check_files

        check_files(self)  # a client certificate that cannot be used stops the start here
        return self


class SettingsError(ValueError):
    """The environment does not make valid settings; the message names each variable."""


def load() -> Settings:
    """The process's settings from its environment, now (tests change the environment)."""
    try:
        return Settings()
    except ValidationError as exc:
        # names the variables, not the values
        raise SettingsError(f"cấu hình không hợp lệ / invalid settings: {describe(exc)}"
                            ) from None


def env_name(info: FieldInfo) -> str:
    extra = info.json_schema_extra
    assert isinstance(extra, dict)
    return str(extra["env"])


def rows() -> list[tuple[str, str, str, str]]:
    """(variable, part, default, meaning) for every setting, in the model's order."""
    out = []
    for info in Settings.model_fields.values():
        extra = info.json_schema_extra
        assert isinstance(extra, dict)
        default = info.get_default(call_default_factory=True)
        shown = "" if default is None else str(default).lower() if isinstance(default, bool) \
            else str(default)
        out.append((str(extra["env"]), str(extra["part"]), shown, info.description or ""))
    return out


def markdown_table() -> str:
    lines = ["| variable | part | default | meaning |", "|---|---|---|---|"]
    lines += [f"| `{env}` | {part} | {f'`{d}`' if d else '(unset)'} | {meaning} |"
              for env, part, d, meaning in rows()]
    return "\n".join(lines) + "\n"


def effective(settings: Settings) -> list[tuple[str, str]]:
    """(variable, value) of every setting that is set, secrets masked."""
    out = []
    for name, info in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None or name not in settings.model_fields_set:
            continue
        shown = "***" if isinstance(value, SecretStr) else str(value)
        out.append((env_name(info), shown))
    return out
