"""Run by nethook's interpreter in the benchmark's namespace: time the phases of a run.

Prints one JSON object. The phases are the ones a hook run goes through, each in this
fresh process and timed with ``perf_counter``: nethook's modules with PyYAML, the netlink
adapter's import, reading the configuration, observing ``eth0``. Then one address dump,
received once and decoded twice: by ``nethook.adapters.rtnl_decode`` (as the adapter
does) and, where pyroute2 is installed, by its ``ifaddrmsg`` (what the adapter used to
do). Environment: NETHOOK_* and PYTHONPATH as the wrapper sets.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import time
from typing import Any, Dict, List, Optional, Tuple


def _address_dump(codec: Any) -> List[Tuple[bytes, Any]]:
    """The (datagram, frame) of every RTM_NEWADDR of one dump of the namespace."""
    replies: List[Tuple[bytes, Any]] = []
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        sock.bind((0, 0))
        sock.send(codec.address_dump(1))
        while True:
            data = sock.recv(1 << 18)
            for frame in codec.frames(data):
                if frame.kind in (codec.NLMSG_DONE, codec.NLMSG_ERROR):
                    return replies
                if frame.kind == codec.RTM_NEWADDR:
                    replies.append((data, frame))
    finally:
        sock.close()


def _stdlib_decode(replies: List[Tuple[bytes, Any]]) -> List[Tuple[Any, str]]:
    from nethook.adapters import rtnl_decode

    found = []
    for data, frame in replies:
        index = rtnl_decode.address_index(data, frame)[0]
        decoded = rtnl_decode.address(data, frame, {index: "x"})
        if decoded is not None:
            found.append((decoded[0].interface, decoded[0].label or ""))
    return found


def _pyroute2_class() -> Any:
    """pyroute2's ``ifaddrmsg``, if installed (nethook itself never imports it)."""
    try:
        from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
    except ImportError:
        return None
    return ifaddrmsg


def _pyroute2_decode(ifaddrmsg: Any, replies: List[Tuple[bytes, Any]]
                     ) -> Optional[List[Tuple[Any, str]]]:
    if ifaddrmsg is None:
        return None
    found = []
    for data, frame in replies:
        msg = ifaddrmsg(data, offset=frame.offset, length=frame.length)
        msg.decode()
        local = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
        interface = ipaddress.ip_interface(f"{local}/{msg['prefixlen']}")
        if interface.network != ipaddress.ip_network("fe80::/64"):
            label = msg.get_attr("IFA_LABEL") or ""
            found.append((interface, "" if label == "x" else label))
    return found


def main() -> Dict[str, Any]:
    clock = time.perf_counter
    started = clock()
    from nethook.adapters import rtnl_codec
    from nethook.base.context import RunContext
    from nethook.engine import reconcile
    from nethook.engine.desired import load_config

    imported = clock()
    from nethook.adapters import netlink as adapter_module

    adapter = clock()
    config = load_config(RunContext.from_options(os.environ))
    loaded = clock()
    netlink = adapter_module.open_netlink()
    try:
        observed = reconcile.observe_scope(netlink, config.desired)
    finally:
        netlink.close()
    observed_at = clock()
    replies = _address_dump(rtnl_codec)
    dumped = clock()
    by_stdlib = _stdlib_decode(replies)
    stdlib_at = clock()
    ifaddrmsg = _pyroute2_class()  # its import is not part of the decoding
    pyroute2_from = clock()
    by_pyroute2 = _pyroute2_decode(ifaddrmsg, replies)
    pyroute2_at = clock()
    if by_pyroute2 is not None and sorted(map(str, by_stdlib)) != sorted(map(str, by_pyroute2)):
        raise SystemExit("the two decoders disagree")

    def ms(a: float, b: float) -> float:
        return round((b - a) * 1000, 3)

    return {"nethook_and_yaml_import_ms": ms(started, imported),
            "adapter_import_ms": ms(imported, adapter),
            "load_config_ms": ms(adapter, loaded), "objects": len(config.desired.objects()),
            "observe_ms": ms(loaded, observed_at),
            "addresses_observed": len(observed.addresses),
            "address_dump_receive_ms": ms(observed_at, dumped), "addresses_dumped": len(replies),
            "address_decode_pyroute2_ms": None if by_pyroute2 is None
            else ms(pyroute2_from, pyroute2_at),
            "address_decode_stdlib_ms": ms(dumped, stdlib_at)}


if __name__ == "__main__":
    print(json.dumps(main()))
