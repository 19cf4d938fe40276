"""The kernel's socket table of the current network namespace, read from /proc/net.

``/proc/net`` is ``/proc/self/net``: the tables of the reader's own network namespace, so a
check run inside a namespace sees that namespace's sockets. Each row gives the local address
as hex of the kernel's 32-bit words in host byte order (``3200630A:007B`` is 10.99.0.50:123
on a little-endian machine), the state, and the socket's inode, which ``/proc/PID/fd`` links
name as ``socket:[INODE]``.

A listener is a TCP socket in LISTEN state, or an unconnected UDP socket (state 07, which is
how a bound UDP socket shows). An IPv6 socket bound to an IPv4-mapped address
(``::ffff:10.0.0.5``) is reported as the IPv4 address it serves.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, List, Literal, Tuple

from nethook.base.errors import ObserveError
from nethook.model.objects import IPAddress

PROC = Path("/proc")
TCP_LISTEN = 0x0A
UDP_UNCONNECTED = 0x07
# (protocol, file under /proc/net); the IPv6 files are absent when IPv6 is off at boot.
TABLES = (("udp", "udp"), ("udp", "udp6"), ("tcp", "tcp"), ("tcp", "tcp6"))
_STATE = {"tcp": TCP_LISTEN, "udp": UDP_UNCONNECTED}
ByteOrder = Literal["little", "big"]


@dataclass(frozen=True)
class Listener:
    proto: str  # "tcp" or "udp"
    address: IPAddress  # 0.0.0.0 or :: for a wildcard socket
    port: int
    inode: int = 0

    @property
    def key(self) -> Tuple[str, int, IPAddress]:
        return (self.proto, self.port, self.address)

    def describe(self) -> str:
        return f"{self.proto}/{self.port}@{self.address}"


def decode_address(text: str, byteorder: ByteOrder = sys.byteorder) -> IPAddress:
    """``0100007F`` -> 127.0.0.1 (little-endian); 32 hex digits are four IPv6 words."""
    if len(text) not in (8, 32):
        raise ValueError(f"'{text}' is not an address from /proc/net")
    raw = b"".join(int(text[i:i + 8], 16).to_bytes(4, byteorder)
                   for i in range(0, len(text), 8))
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse(text: str, proto: str, byteorder: ByteOrder = sys.byteorder) -> List[Listener]:
    """The listeners in one /proc/net/{tcp,udp}{,6} table (its text, header line first)."""
    found: List[Listener] = []
    for number, line in enumerate(text.splitlines()[1:], start=2):
        fields = line.split()
        try:
            local, state, inode = fields[1], int(fields[3], 16), int(fields[9])
            if state != _STATE[proto]:
                continue
            address_text, _, port_text = local.partition(":")
            found.append(Listener(proto, decode_address(address_text, byteorder),
                                  int(port_text, 16), inode))
        except (IndexError, ValueError) as exc:
            raise ObserveError(f"/proc/net/{proto} line {number}: cannot read {line!r}: "
                               f"{exc}") from None
    return found


def read(proc: Path = PROC) -> Tuple[Listener, ...]:
    """Every listener of this network namespace. A table that cannot be read raises
    ObserveError (never "no listeners"); an absent IPv6 table means IPv6 is off."""
    found: List[Listener] = []
    for proto, name in TABLES:
        path = proc / "net" / name
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            if name.endswith("6"):
                continue
            raise ObserveError(f"cannot read {path}: it does not exist") from None
        except OSError as exc:
            raise ObserveError(f"cannot read {path}: {exc.strerror}") from None
        found.extend(parse(text, proto))
    return tuple(found)


class CannotRead(ObserveError):
    """A daemon's sockets could not be read (another user's /proc/PID/fd without
    CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE): neither "listening" nor "not listening"."""


def socket_inodes(pid: int, proc: Path = PROC) -> FrozenSet[int]:
    """The inodes of the sockets process ``pid`` holds; none once it has ended.

    CannotRead when its descriptors cannot be read: never "it holds no socket".
    """
    fd_dir = proc / str(pid) / "fd"
    try:
        names = os.listdir(fd_dir)
    except (FileNotFoundError, ProcessLookupError):
        return frozenset()
    except OSError as exc:
        raise CannotRead(f"cannot read {fd_dir}: {exc.strerror}") from None
    inodes = set()
    for name in names:
        try:
            target = os.readlink(fd_dir / name)
        except (FileNotFoundError, ProcessLookupError):
            continue  # closed meanwhile
        except OSError as exc:
            raise CannotRead(f"cannot read {fd_dir / name}: {exc.strerror}") from None
        if target.startswith("socket:[") and target.endswith("]"):
            inodes.add(int(target[8:-1]))
    return frozenset(inodes)
