"""Run a SIPVicious tool (svcrack, svwar, svmap) from a chosen loopback source address.

    python3 srcbind.py SOURCE_IP SOCKET_TIMEOUT_CAP /usr/bin/svcrack ARGS...

sipvicious 0.3.3 (Debian) accepts -b/--bindingip in svcrack and svwar but never passes it on:
their sockets bind to 0.0.0.0, so packets to 127.0.0.1 leave from 127.0.0.1, the proxy's own
address. Here a bind to the wildcard address is turned into a bind to SOURCE_IP; nothing else of
the tool changes. Socket timeouts are capped at SOCKET_TIMEOUT_CAP seconds: svcrack waits a fixed
10 s for stray replies after its last guess, which only makes the test slower.
"""
import os
import runpy
import socket
import sys

src, cap, tool = sys.argv[1], float(sys.argv[2]), os.path.realpath(sys.argv[3])

_bind = socket.socket.bind
_settimeout = socket.socket.settimeout


def bind(self, addr):
    if addr[0] in ('', '0.0.0.0'):
        addr = (src,) + tuple(addr[1:])
    return _bind(self, addr)


def settimeout(self, t):
    return _settimeout(self, t if t is None else min(t, cap))


socket.socket.bind = bind
socket.socket.settimeout = settimeout
# the entry script finds its package metadata next to itself (/usr/share/sipvicious)
sys.path.insert(0, os.path.dirname(tool))
sys.argv = [tool] + sys.argv[4:]
runpy.run_path(tool, run_name='__main__')
