"""Network stand-ins that keep every packet on this machine, shared by the fault and secrets tests."""

from __future__ import annotations

import socket
from typing import Any


class Ports:
    """Ports on 127.0.0.1: ``closed`` (connection refused) and ``unreachable`` (a full listen
    queue, so a connect is never answered: an unreachable host without a packet leaving
    this machine). Each is made when first asked for."""

    def __init__(self) -> None:
        self._sockets: list[socket.socket] = []
        self._ports: dict[str, int] = {}

    def __getitem__(self, name: str) -> int:
        if name not in self._ports:
            self._ports[name] = self._closed() if name == "closed" else self._unreachable()
        return self._ports[name]

    def _closed(self) -> int:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    def _unreachable(self) -> int:
        server = socket.socket()
        self._sockets.append(server)
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = int(server.getsockname()[1])
        for _ in range(64):
            filler = socket.socket()
            filler.settimeout(0.2)
            try:
                filler.connect(("127.0.0.1", port))
            except OSError:
                filler.close()
                return port
            self._sockets.append(filler)
        raise AssertionError("could not fill the listen queue of the stand-in for an unreachable host")

    def close(self) -> None:
        for sock in self._sockets:
            sock.close()


def refuse_invalid_names(monkeypatch: Any) -> list[str]:
    """Make ``.invalid`` host names fail to resolve here, without a DNS query leaving this
    machine; returns the list of such names looked up."""
    looked_up: list[str] = []
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".invalid"):
            looked_up.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return looked_up
