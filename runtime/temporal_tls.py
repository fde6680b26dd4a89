"""How the processes reach a Temporal service that wants TLS (kết nối bảo mật tới Temporal): a
self-hosted cluster behind TLS, or Temporal Cloud with a client certificate (mutual TLS) or an
API key. The settings are the Temporal CLI's own variables (``TEMPORAL_TLS_CERT``, ...).

Every file is read and parsed when the settings are validated, so a missing file, a key
without its certificate or a file that is not PEM stops the process at start in one line
naming the variable, never the file's content.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from temporalio.service import TLSConfig

if TYPE_CHECKING:
    from runtime.settings import Settings


def _read(variable: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as err:
        raise ValueError(f"{variable}: không đọc được tệp / cannot read the file "
                         f"({err.strerror or type(err).__name__})") from None


def _certificates(variable: str, path: str) -> bytes:
    data = _read(variable, path)
    try:
        x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError(f"{variable}: không phải chứng chỉ PEM / not a PEM certificate"
                         ) from None
    return data


def _private_key(variable: str, path: str) -> bytes:
    data = _read(variable, path)
    try:
        load_pem_private_key(data, password=None)
    except (ValueError, TypeError):  # TypeError: a key that wants a password
        raise ValueError(f"{variable}: không phải khóa riêng PEM không mật khẩu / not an "
                         f"unencrypted PEM private key") from None
    return data


def check_files(cfg: Settings) -> None:
    """Refuse half a client certificate, and any file that cannot serve (ValueError)."""
    if bool(cfg.temporal_tls_cert) != bool(cfg.temporal_tls_key):
        raise ValueError("TEMPORAL_TLS_CERT và TEMPORAL_TLS_KEY đi cùng nhau / "
                         "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together")
    client_tls(cfg)


def uses_tls(cfg: Settings) -> bool:
    # an API key is a bearer secret: it never travels in clear
    return bool(cfg.temporal_tls or cfg.temporal_tls_cert or cfg.temporal_api_key)


def client_tls(cfg: Settings) -> TLSConfig | bool:
    """The ``tls`` argument of ``Client.connect``: False for a plain connection."""
    if not uses_tls(cfg):
        return False
    return TLSConfig(
        server_root_ca_cert=(_certificates("TEMPORAL_TLS_CA", cfg.temporal_tls_ca)
                             if cfg.temporal_tls_ca else None),
        client_cert=(_certificates("TEMPORAL_TLS_CERT", cfg.temporal_tls_cert)
                     if cfg.temporal_tls_cert else None),
        client_private_key=(_private_key("TEMPORAL_TLS_KEY", cfg.temporal_tls_key)
                            if cfg.temporal_tls_key else None),
        domain=cfg.temporal_tls_server_name)
