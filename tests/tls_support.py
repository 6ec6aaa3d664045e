"""TLS stand-ins on 127.0.0.1, shared by the fault tests and the client's transport and error tests:
a self-signed certificate, and a server that breaks its TLS stream after the request went out."""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from typing import Any


def self_signed_localhost(directory: Any) -> tuple[str, str]:
    """A certificate and key for 127.0.0.1 (``cryptography`` comes with Airflow), written to
    ``directory``: the paths of ``cert.pem`` and ``key.pem``."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


class TLSServer:
    """A real TLS server on 127.0.0.1 that reads the request, then writes a record this TLS
    session never made (the stream breaks after the request went out, before any answer)."""

    def __init__(self, cert: str, key: str) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.server.settimeout(10)
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.connections = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw = self.server.accept()[0]
            except OSError:
                return
            self.connections += 1
            try:
                with raw, self.context.wrap_socket(raw, server_side=True) as tls:
                    tls.settimeout(5)
                    data = b""
                    while b"\r\n\r\n" not in data or not data.endswith(b"}"):
                        data += tls.recv(65536)
                    self.received.append(data)
                    os.write(tls.fileno(), b"\x17\x03\x03\x00\x20" + b"\x00" * 32)  # a forged record
                    time.sleep(0.5)
            except OSError:
                continue  # a client that refused the handshake (an untrusted certificate)

    def close(self) -> None:
        self.server.close()
        self.thread.join(10)
