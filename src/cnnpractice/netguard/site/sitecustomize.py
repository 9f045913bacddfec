"""Loopback-only network guard for every Python process started with this folder first on
PYTHONPATH (:func:`cnnpractice.netguard.environment` puts it there).

Python imports ``sitecustomize`` at start-up, before any user code: this one replaces the
socket functions that open connections or look up names, so a connection to anything but
loopback, or a lookup of any name but localhost, raises ``OSError`` with :data:`MESSAGE`
and is appended to the file named by ``$CNNPRACTICE_NETGUARD_LOG`` (when set), one line per
attempt: ``<pid> <what>``. A process that catches the error and carries on (an ``auto``
source falling back to something else) still leaves its line there for the caller to check.

Standard library only, and nothing imported beyond ``socket``/``ipaddress``: it runs in
every process, Snakemake's jobs included.
"""

import ipaddress
import os
import socket

MESSAGE = "cnnpractice.netguard: network access is refused (loopback only)"
LOG_VARIABLE = "CNNPRACTICE_NETGUARD_LOG"
_INET = (socket.AF_INET, socket.AF_INET6)

_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex
_sendto = socket.socket.sendto
_create_connection = socket.create_connection
_getaddrinfo = socket.getaddrinfo
_gethostbyname = socket.gethostbyname
_gethostbyname_ex = socket.gethostbyname_ex


def _loopback(host) -> bool:
    if host in (None, "", "localhost", b"localhost") or str(host).endswith(".localhost"):
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse(what):
    log = os.environ.get(LOG_VARIABLE)
    if log:
        try:
            with open(log, "a") as fh:
                fh.write(f"{os.getpid()} {what!r}\n")
        except OSError:
            pass  # an unwritable log must not hide the refusal itself
    raise OSError(f"{MESSAGE}: {what!r}")


def connect(self, address, *args):
    if self.family in _INET and not _loopback(address[0]):
        _refuse(address)
    return _connect(self, address, *args)


def connect_ex(self, address, *args):
    if self.family in _INET and not _loopback(address[0]):
        _refuse(address)
    return _connect_ex(self, address, *args)


def sendto(self, data, *args):
    address = args[-1]
    if self.family in _INET and isinstance(address, tuple) and not _loopback(address[0]):
        _refuse(address)
    return _sendto(self, data, *args)


def create_connection(address, *args, **kwargs):
    if not _loopback(address[0]):
        _refuse(address)
    return _create_connection(address, *args, **kwargs)


def getaddrinfo(host, *args, **kwargs):
    if not _loopback(host):
        _refuse(host)
    return _getaddrinfo(host, *args, **kwargs)


def gethostbyname(host):
    if not _loopback(host):
        _refuse(host)
    return _gethostbyname(host)


def gethostbyname_ex(host):
    if not _loopback(host):
        _refuse(host)
    return _gethostbyname_ex(host)


socket.socket.connect = connect
socket.socket.connect_ex = connect_ex
socket.socket.sendto = sendto
socket.create_connection = create_connection
socket.getaddrinfo = getaddrinfo
socket.gethostbyname = gethostbyname
socket.gethostbyname_ex = gethostbyname_ex
