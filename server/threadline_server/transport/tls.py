"""TLS and mutual TLS for both listeners, from PEM files, reloaded on SIGHUP.

One load reads the certificate chain, the key and (for mutual TLS) the client
CAs once, checks them with OpenSSL (the key fits the certificate, the CAs
parse), and gives both listeners the same bytes:

- gRPC: ``grpc.dynamic_ssl_server_credentials``. gRPC asks a fetcher for a
  new configuration before each handshake; after a reload the fetcher hands
  the new one out once, and gRPC keeps it.
- HTTP: one ``ssl.SSLContext`` the listener keeps; its SNI callback, which
  OpenSSL calls in every handshake (with or without a server name), points the
  connection at the context of the latest load.

Either way only new handshakes see a reload: open connections go on with the
certificate they began with. A load that fails keeps the old certificate;
at start-up it stops the server with the reason.
"""

from __future__ import annotations

import hashlib
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc


class TlsError(Exception):
    """A certificate, key or CA file that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class TlsFiles:
    """Where the PEM files are: the chain and key, and the client CAs for mutual TLS."""

    cert: str
    key: str
    client_ca: str = ""

    @property
    def mutual(self) -> bool:
        """Whether clients must present a certificate signed by one of client_ca's CAs."""
        return bool(self.client_ca)


@dataclass(frozen=True)
class _Material:
    """One load of the files: their bytes, and the HTTP context built from them."""

    chain: bytes
    key: bytes
    client_ca: bytes
    context: ssl.SSLContext
    fingerprint: str

    def grpc_configuration(self) -> grpc.ServerCertificateConfiguration:
        return grpc.ssl_server_certificate_configuration(
            [(self.key, self.chain)], root_certificates=self.client_ca or None
        )


# OpenSSL's reasons for refusing a chain and key, said for people.
_REASONS = {
    "KEY_VALUES_MISMATCH": "the key does not belong to the certificate",
    "PEM_LIB": "one of them is not a PEM certificate chain or key",
}


def _refuse_password() -> bytes:
    raise TlsError("the key is encrypted: give an unencrypted key file")


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise TlsError(f"cannot read the {what} {path}: {error.strerror or error}") from None


def _load(files: TlsFiles) -> _Material:
    """Read and check the files once; raise TlsError saying which file is wrong and why."""
    chain = _read(files.cert, "certificate file")
    key = _read(files.key, "key file")
    client_ca = _read(files.client_ca, "client CA file") if files.mutual else b""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    try:
        context.load_cert_chain(files.cert, files.key, password=_refuse_password)
    except ssl.SSLError as error:
        reason = _REASONS.get(error.reason or "PEM_LIB", str(error.reason))
        raise TlsError(f"cannot serve {files.cert} with the key {files.key}: {reason}") from None
    if files.mutual:
        try:
            context.load_verify_locations(cadata=client_ca.decode("ascii"))
        except (ssl.SSLError, UnicodeDecodeError, ValueError) as error:
            raise TlsError(f"{files.client_ca} holds no PEM CA certificate ({error})") from None
        context.verify_mode = ssl.CERT_REQUIRED
    # OpenSSL read the files by name: if one was replaced in between, the
    # bytes gRPC gets might not be those just checked.
    if _read(files.cert, "certificate file") != chain or _read(files.key, "key file") != key:
        raise TlsError(f"{files.cert} or {files.key} changed while being read: try again")
    return _Material(chain, key, client_ca, context, _fingerprint(chain))


def _fingerprint(chain: bytes) -> str:
    """SHA-256 of the leaf certificate, as ``openssl x509 -fingerprint -sha256`` prints it."""
    text = chain.decode("ascii", errors="replace")
    end = text.find(ssl.PEM_FOOTER)
    leaf = ssl.PEM_cert_to_DER_cert(text[: end + len(ssl.PEM_FOOTER)])
    return hashlib.sha256(leaf).hexdigest().upper()


class ServerTls:
    """The certificate both listeners serve, and its reload."""

    def __init__(self, files: TlsFiles) -> None:
        self.files = files
        self._material = _load(files)
        self._pending: grpc.ServerCertificateConfiguration | None = None
        # The fetcher runs on gRPC's own threads.
        self._lock = threading.Lock()
        self._http: ssl.SSLContext | None = None

    @property
    def fingerprint(self) -> str:
        """The SHA-256 fingerprint of the certificate now served."""
        return self._material.fingerprint

    def grpc_credentials(self) -> grpc.ServerCredentials:
        """Credentials for the gRPC port that follow every reload."""
        return grpc.dynamic_ssl_server_credentials(
            self._material.grpc_configuration(),
            # grpc-stubs says the fetcher returns a configuration; gRPC's own
            # documentation has it return None for "no change".
            self._fetch,  # type: ignore[arg-type]
            require_client_authentication=self.files.mutual,
        )

    def http_context(self) -> ssl.SSLContext:
        """Return the HTTP listener's context; each handshake switches to the latest load."""
        if self._http is None:
            self._http = self._material.context
            self._http.sni_callback = self._switch
        return self._http

    def reload(self) -> None:
        """Load the files again; on TlsError nothing changes."""
        material = _load(self.files)
        with self._lock:
            self._material = material
            self._pending = material.grpc_configuration()

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def _switch(self, connection: ssl.SSLObject, _name: str | None, _context: object) -> None:
        connection.context = self._material.context
