"""The processes reach Temporal over TLS when told to (issue 14: Temporal Cloud, or a cluster
behind TLS): with a client certificate (mutual TLS) or an API key, through the Temporal CLI's
own variables (``runtime.temporal_tls``).

No TLS-serving Temporal runs here, so a real one is made: a dev server behind a TLS terminator
of the test's own (``ssl`` from the standard library) that demands a client certificate signed
by the test's authority, and reads the HTTP/2 headers the client sends (``hpack``) to see the
API key arrive as a bearer token, inside TLS only.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hpack
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from temporalio.api.workflowservice.v1 import ListNamespacesRequest

from runtime.settings import SettingsError, load
from runtime.temporal import connect, temporal_environment

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TLS_VARIABLES = ("TEMPORAL_TLS", "TEMPORAL_TLS_CA", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_KEY",
                 "TEMPORAL_TLS_SERVER_NAME", "TEMPORAL_API_KEY")


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _certificate(name: str, key: ec.EllipticCurvePrivateKey,
                 issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
                 ca: bool = False, dns: str | None = None) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, signing_key = issuer if issuer else (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(dns)]),
                                        critical=False)
    return builder.sign(signing_key, hashes.SHA256())


@dataclass
class Pki:
    """An authority, the server's certificate for ``temporal.test``, a client certificate it
    signed, and one a stranger signed for himself."""

    folder: Path

    def __post_init__(self) -> None:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("drugfree test CA", ca_key, ca=True)
        issuer = (ca.subject, ca_key)
        for name, cert_issuer in (("server", issuer), ("client", issuer), ("stranger", None)):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _certificate(name, key, issuer=cert_issuer,
                                dns="temporal.test" if name == "server" else None)
            self.path(f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
            self.path(f"{name}.key").write_bytes(_pem_key(key))
        self.path("ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def path(self, name: str) -> Path:
        return self.folder / name


@dataclass
class Terminator:
    """TLS in front of a plain Temporal: demands a client certificate of the authority, and
    keeps what each connection's client sent after the handshake."""

    upstream: tuple[str, int]
    sent: list[bytearray] = field(default_factory=list)
    port: int = 0

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    into: bytearray | None) -> None:
        try:
            while chunk := await reader.read(65536):
                if into is not None:
                    into.extend(chunk)
                writer.write(chunk)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        seen = bytearray()
        self.sent.append(seen)
        await asyncio.gather(self._pipe(reader, up_writer, seen),
                             self._pipe(up_reader, writer, None))

    def headers(self) -> list[tuple[str, str]]:
        """Every header the clients sent, decoded from their HTTP/2 HEADERS frames."""
        found: list[tuple[str, str]] = []
        for data in self.sent:
            if not data.startswith(PREFACE):
                continue
            decoder, at, block = hpack.Decoder(), len(PREFACE), b""
            while at + 9 <= len(data):
                length = int.from_bytes(data[at:at + 3], "big")
                kind, flags = data[at + 3], data[at + 4]
                payload = bytes(data[at + 9:at + 9 + length])
                at += 9 + length
                if kind == 0x1:  # HEADERS: padding and priority fields come off first
                    pad = payload[0] if flags & 0x8 else 0
                    payload = payload[(1 if flags & 0x8 else 0) + (5 if flags & 0x20 else 0):]
                    block = payload[:len(payload) - pad]
                elif kind == 0x9:  # CONTINUATION
                    block += payload
                else:
                    continue
                if flags & 0x4:  # END_HEADERS
                    found.extend((str(k), str(v)) for k, v in decoder.decode(block))
        return found


@pytest_asyncio.fixture(loop_scope="session")
async def behind_tls(tmp_path: Path) -> AsyncIterator[tuple[str, Pki, Terminator]]:
    pki = Pki(tmp_path)
    async with temporal_environment("dev") as (client, _):
        host, _, port = client.service_client.config.target_host.rpartition(":")
        terminator = Terminator((host, int(port)))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=pki.path("ca.pem"))
        context.load_cert_chain(pki.path("server.pem"), pki.path("server.key"))
        context.verify_mode = ssl.CERT_REQUIRED
        context.set_alpn_protocols(["h2"])
        server = await asyncio.start_server(terminator._serve, "127.0.0.1", 0, ssl=context)
        terminator.port = server.sockets[0].getsockname()[1]
        try:
            yield f"127.0.0.1:{terminator.port}", pki, terminator
        finally:
            server.close()


@pytest.fixture
def tls_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in TLS_VARIABLES:
        monkeypatch.delenv(name, raising=False)

    def use(**values: str | Path) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, str(value))

    yield use


async def _reachable(address: str) -> bool:
    try:
        client = await asyncio.wait_for(connect(address), 20)
        await client.service_client.check_health()
        return True
    except (RuntimeError, TimeoutError):  # the SDK's "Failed client connect: ..."
        return False


async def test_mutual_tls_with_the_authoritys_client_certificate(behind_tls: Any,
                                                                 tls_env: Any) -> None:
    address, pki, terminator = behind_tls
    tls_env(TEMPORAL_TLS_CA=pki.path("ca.pem"), TEMPORAL_TLS_SERVER_NAME="temporal.test",
            TEMPORAL_TLS_CERT=pki.path("client.pem"), TEMPORAL_TLS_KEY=pki.path("client.key"))
    client = await connect(address)
    # a real call through TLS to the server behind it: the namespace it serves
    namespaces = await client.workflow_service.list_namespaces(ListNamespacesRequest())
    assert "default" in [n.namespace_info.name for n in namespaces.namespaces]
    assert terminator.sent and all(s.startswith(PREFACE) for s in terminator.sent)


async def test_without_the_certificate_or_with_a_strangers_nothing_connects(
        behind_tls: Any, tls_env: Any) -> None:
    address, pki, terminator = behind_tls
    tls_env(TEMPORAL_TLS_CA=pki.path("ca.pem"), TEMPORAL_TLS_SERVER_NAME="temporal.test")
    assert not await _reachable(address)  # TLS, but no client certificate
    tls_env(TEMPORAL_TLS_CERT=pki.path("stranger.pem"), TEMPORAL_TLS_KEY=pki.path("stranger.key"))
    assert not await _reachable(address)
    # the server's name is checked too: the right certificate, the wrong name expected
    tls_env(TEMPORAL_TLS_CERT=pki.path("client.pem"), TEMPORAL_TLS_KEY=pki.path("client.key"),
            TEMPORAL_TLS_SERVER_NAME="elsewhere.test")
    assert not await _reachable(address)
    assert terminator.sent == []  # no request went past a handshake


async def test_an_api_key_travels_as_a_bearer_token_inside_tls(behind_tls: Any,
                                                               tls_env: Any) -> None:
    address, pki, terminator = behind_tls
    tls_env(TEMPORAL_TLS_CA=pki.path("ca.pem"), TEMPORAL_TLS_SERVER_NAME="temporal.test",
            TEMPORAL_TLS_CERT=pki.path("client.pem"), TEMPORAL_TLS_KEY=pki.path("client.key"),
            TEMPORAL_API_KEY="cloud-key-123")
    client = await connect(address)
    await client.service_client.check_health()
    assert ("authorization", "Bearer cloud-key-123") in terminator.headers()


def test_an_api_key_alone_turns_tls_on(tls_env: Any) -> None:
    from runtime.temporal_tls import client_tls

    tls_env(TEMPORAL_API_KEY="k")
    assert client_tls(load()) is not False
    tls_env(TEMPORAL_API_KEY="", TEMPORAL_TLS="false")
    assert client_tls(load()) is False


@pytest.mark.parametrize(("files", "named"), [
    ({"TEMPORAL_TLS_CERT": "client.pem"}, "TEMPORAL_TLS_CERT và TEMPORAL_TLS_KEY"),
    ({"TEMPORAL_TLS_KEY": "client.key"}, "TEMPORAL_TLS_CERT và TEMPORAL_TLS_KEY"),
    ({"TEMPORAL_TLS_CERT": "missing.pem", "TEMPORAL_TLS_KEY": "client.key"},
     "TEMPORAL_TLS_CERT: không đọc được tệp / cannot read the file"),
    ({"TEMPORAL_TLS_CERT": "client.key", "TEMPORAL_TLS_KEY": "client.key"},
     "TEMPORAL_TLS_CERT: không phải chứng chỉ PEM / not a PEM certificate"),
    ({"TEMPORAL_TLS_CERT": "client.pem", "TEMPORAL_TLS_KEY": "client.pem"},
     "TEMPORAL_TLS_KEY: không phải khóa riêng PEM"),
    ({"TEMPORAL_TLS": "true", "TEMPORAL_TLS_CA": "odd.bin"},
     "TEMPORAL_TLS_CA: không phải chứng chỉ PEM"),
])
def test_a_file_that_cannot_serve_stops_the_start_naming_its_variable(
        tmp_path: Path, tls_env: Any, files: dict[str, str], named: str) -> None:
    pki = Pki(tmp_path)
    pki.path("odd.bin").write_bytes(b"\xff\xfe\x00-----BEGIN CERTIFICATE-----\x00")
    tls_env(**{variable: name if variable == "TEMPORAL_TLS" else pki.path(name)
               for variable, name in files.items()})
    with pytest.raises(SettingsError) as refused:
        load()
    message = str(refused.value)
    assert named in message
    assert "BEGIN" not in message and str(tmp_path) not in message  # names, not contents


def test_a_process_refuses_to_start_with_half_a_certificate(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    pki = Pki(tmp_path)
    env = {**os.environ, "TEMPORAL_TLS_CERT": str(pki.path("client.pem")),
           "DRUGFREE_METRICS_PORT": "0"}
    env.pop("TEMPORAL_TLS_KEY", None)
    done = subprocess.run([sys.executable, "worker.py"], env=env, capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 2
    assert "TEMPORAL_TLS_CERT và TEMPORAL_TLS_KEY đi cùng nhau" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
