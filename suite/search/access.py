"""Who may talk to the chief: a shared token on every call, TLS off loopback, a bounded wait.

keras-tuner serves its oracle with ``add_insecure_port`` and dials it with
``insecure_channel``: anyone who reaches the port could pull trials, report
made-up results or stall the study. Here the chief's server rejects every call
that does not carry the study's token (``SUITE_TOKEN``, compared in constant
time) with UNAUTHENTICATED, listens beyond loopback only with a token, and
speaks TLS when given a certificate; a worker's channel carries the token, checks
the chief's certificate against the CA it is given, and waits a bounded time
for an answer, so a worker whose chief is gone stops instead of hanging for
keras-tuner's hour.
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import grpc

from suite.ground.errors import SuiteError

TOKEN_ENV = "SUITE_TOKEN"
HEADER = "x-suite-token"  # gRPC metadata keys are lower case
WAIT_ENV = "SUITE_CHIEF_WAIT_S"
WAIT_S = 60.0  # how long a worker waits for the chief's answer before it gives up


@dataclass(frozen=True)
class Access:
    """The chief's credentials (``cert``/``key``: serve TLS) or a worker's (``ca``: trust this for the chief)."""

    token: str | None = None
    cert: Path | None = None
    key: Path | None = None
    ca: Path | None = None

    @property
    def tls(self) -> bool:
        return self.cert is not None or self.ca is not None


def token(token_file: str | None) -> str | None:
    """The shared token: the file's first line if given, else ``SUITE_TOKEN``, else none."""
    if token_file:
        try:
            text = Path(token_file).read_text().strip()
        except OSError as e:
            raise SuiteError(f"--token-file {token_file}: cannot read it ({e.strerror})") from None
        if not text:
            raise SuiteError(f"--token-file {token_file}: the file is empty")
        return text.splitlines()[0].strip()
    return os.environ.get(TOKEN_ENV) or None


def new_token() -> str:
    """A random token for the workers a chief starts itself."""
    return secrets.token_urlsafe(32)


def readable(option: str, path: str | None) -> Path | None:
    if path is None:
        return None
    if not Path(path).is_file():
        raise SuiteError(f"{option} {path}: no such file")
    return Path(path)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_listen(host: str, listen: str, access: Access) -> None:
    """Off loopback the chief needs a token: refuse before anything is served."""
    if not is_loopback(host) and not access.token:
        raise SuiteError(
            f"--listen {listen}: serving beyond loopback needs a token, or anyone who reaches the port could "
            f"pull trials or report results; set {TOKEN_ENV} (or --token-file) for the chief and its workers"
        )


def wait_s() -> float:
    try:
        return float(os.environ.get(WAIT_ENV, WAIT_S))
    except ValueError:
        raise SuiteError(f"{WAIT_ENV}={os.environ[WAIT_ENV]!r}: expected seconds, e.g. 60") from None


# --------------------------------------------------------------------------
# The chief's side
# --------------------------------------------------------------------------


def interceptors(access: Access) -> list:
    """The server's interceptors: with a token, every call must carry it."""
    return [_RequireToken(access.token)] if access.token else []


def add_port(server, address: str, access: Access) -> int:
    """Bind ``address``, with TLS if the chief has a certificate; the port bound, 0 if none."""
    if access.cert is None:
        return server.add_insecure_port(address)
    if access.key is None:
        raise SuiteError("--tls-cert needs --tls-key (the certificate's private key)")
    credentials = grpc.ssl_server_credentials([(access.key.read_bytes(), access.cert.read_bytes())])
    return server.add_secure_port(address, credentials)


def _aborting_handler(message: str):
    def abort(request, context):
        context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    return grpc.unary_unary_rpc_method_handler(abort)


class _RequireToken(grpc.ServerInterceptor):
    """Answer UNAUTHENTICATED to a call without the token (the oracle's calls are all unary)."""

    def __init__(self, expected: str):
        self._expected = expected.encode()
        self._refuse = _aborting_handler(f"missing or wrong {TOKEN_ENV}")

    def intercept_service(self, continuation, handler_call_details):
        sent = dict(handler_call_details.invocation_metadata or ()).get(HEADER, "")
        if hmac.compare_digest(str(sent).encode(), self._expected):
            return continuation(handler_call_details)
        return self._refuse


# --------------------------------------------------------------------------
# A worker's side
# --------------------------------------------------------------------------


def channel(address: str, access: Access):
    """A channel to the chief: TLS if given a CA, the token on every call, every call bounded by ``wait_s()``."""
    if access.ca is not None:
        raw = grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=access.ca.read_bytes()))
    else:
        raw = grpc.insecure_channel(address)
    return grpc.intercept_channel(raw, _Calls(access.token, wait_s()))


class _Details(collections.namedtuple("_Details", "method timeout metadata credentials wait_for_ready compression"),
               grpc.ClientCallDetails):
    pass


class _Calls(grpc.UnaryUnaryClientInterceptor):
    """Adds the token to a call's metadata and caps its timeout (keras-tuner asks for an hour)."""

    def __init__(self, token: str | None, wait: float):
        self._token, self._wait = token, wait

    def intercept_unary_unary(self, continuation, details, request):
        metadata = list(details.metadata or [])
        if self._token:
            metadata.append((HEADER, self._token))
        timeout = self._wait if details.timeout is None else min(details.timeout, self._wait)
        bounded = _Details(details.method, timeout, metadata, details.credentials, details.wait_for_ready, details.compression)
        return continuation(bounded, request)


def refused(error, chief: str) -> SuiteError:
    """A worker's one line for a gRPC error from the chief."""
    code = error.code() if hasattr(error, "code") else None
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return SuiteError(f"the chief at {chief} refused this worker: its {TOKEN_ENV} differs from the chief's (or is missing)")
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return SuiteError(
            f"the chief at {chief} did not answer within {wait_s():g} s (it stopped, or the address or TLS settings "
            "differ); what this worker finished is recorded: restart the chief, then the workers, to resume"
        )
    detail = error.details() if hasattr(error, "details") else str(error)
    return SuiteError(f"the chief at {chief} failed a call: {code.name if code else ''} {detail}".strip())
