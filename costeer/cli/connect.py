"""Options of the commands that connect to a server as a client: TLS trust and the access token."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..server.access import TOKEN_ENV

__all__ = ["add_connection_options", "connection_options"]


def add_connection_options(parser: argparse.ArgumentParser) -> None:
    """``--ca-file``, ``--insecure`` (wss) and ``--token`` (a server started with ``--token``)."""
    group = parser.add_argument_group("connecting (wss, tokens)")
    group.add_argument("--ca-file", type=Path, metavar="PEM", help="for a wss:// server, trust this certificate too (a self-signed one: the server's --ssl CERT, or ~/.cache/costeer/tls/costeer-self-signed-cert.pem on its machine for --ssl-auto)")
    group.add_argument("--insecure", action="store_true", help="for a wss:// server, accept any certificate (still encrypted, but anyone on the way could pose as the server: for trying things out)")
    group.add_argument("--token", metavar="TOKEN", help=f"the server's access token (default: ${TOKEN_ENV}); a viewer token cannot steer")


def connection_options(args: argparse.Namespace) -> dict[str, Any]:
    """``ssl`` and ``token`` for ``NanoverSession.connect``, from the options (``TlsError`` for a bad CA file)."""
    from ..server.tls import client_context

    secure = args.ca_file is not None or args.insecure
    return {
        "ssl": client_context(args.ca_file, verify=not args.insecure) if secure else None,
        "token": args.token if args.token is not None else (os.environ.get(TOKEN_ENV) or None),
    }
