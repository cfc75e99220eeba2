"""Serve a wheelhouse over HTTP on loopback, inside a network namespace, and run a command.

    unshare --net python -m bench.offline_index WHEELHOUSE -- COMMAND...

Brings ``lo`` up in the (fresh, otherwise empty) namespace, serves WHEELHOUSE's directory
listing at ``http://127.0.0.1:PORT/`` and runs COMMAND with ``PIP_NO_INDEX=1`` and
``PIP_FIND_LINKS`` pointing there; exits with COMMAND's exit code.

Why HTTP and not ``PIP_FIND_LINKS=/folder``: for a wheel from a local path pip logs
``Processing /folder/x.whl``, and SAM's python_pip builder reads that line as a local
*source* package and runs one extra ``pip wheel`` per dependency per function (about
0.6 s each, 10 s per function here): a penalty no user of a real index pays. Over HTTP
pip logs ``Collecting``/``Downloading`` as it does from PyPI, for every tool alike.
"""

from __future__ import annotations

import fcntl
import functools
import os
import socket
import struct
import subprocess
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def loopback_up() -> None:
    """``ip link set lo up``, without needing iproute2."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | _IFF_UP))


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    wheelhouse = Path(argv[0]).resolve()
    loopback_up()
    handler = functools.partial(_QuietHandler, directory=str(wheelhouse))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = dict(os.environ)
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=f"http://127.0.0.1:{server.server_port}/")
    # No server.shutdown(): it waits for serve_forever's next poll (up to half a
    # second), which would be timed with the command. The daemon thread ends with us.
    return subprocess.run(argv[2:], env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
