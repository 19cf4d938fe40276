"""The environments and command lines with which the network stacks call the shims.

The dhclient variables are those isc dhclient 4.4 exports to Debian's dhclient-script
(as captured from it), for the benchmark's addresses; hooks see
only these and dhclient's PATH. The shims are sourced (``. FILE``) the way
dhclient-script sources them (RHEL's then calls a function), NetworkManager's is executed
with ``IFACE ACTION``, ifupdown's and networkd-dispatcher's with their environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional

from bench.sandbox import GATEWAY, HOOK_PATH, IFNAME, NETMASK, PRIMARY, tool

# dhclient's PID as the script sees it; any number does.
DHCLIENT_PID = "4242"


def _lease(prefix: str, address: str) -> Dict[str, str]:
    return {
        f"{prefix}_ip_address": address, f"{prefix}_subnet_mask": NETMASK,
        f"{prefix}_network_number": "10.88.0.0", f"{prefix}_broadcast_address": "10.88.255.255",
        f"{prefix}_routers": GATEWAY, f"{prefix}_dhcp_lease_time": "120",
        f"{prefix}_dhcp_renewal_time": "10", f"{prefix}_dhcp_rebinding_time": "20",
        f"{prefix}_dhcp_server_identifier": GATEWAY, f"{prefix}_dhcp_message_type": "5",
        f"{prefix}_next_server": GATEWAY, f"{prefix}_expiry": "1795249533",
    }


def dhclient_env(reason: str, *, new: Optional[str] = None,
                 old: Optional[str] = None) -> Dict[str, str]:
    """What dhclient-script and so its hooks see for ``reason``."""
    env = {"PATH": HOOK_PATH, "reason": reason, "interface": IFNAME, "pid": DHCLIENT_PID,
           "dad_wait_time": "0"}
    if new is not None:
        env.update(_lease("new", new))
        env.update({f"requested_{name}": "1" for name in
                    ("subnet_mask", "broadcast_address", "routers", "interface_mtu")})
    if old is not None:
        env.update(_lease("old", old))
    return env


def bound_env() -> Dict[str, str]:
    """BOUND: the lease (the primary) is configured, everything else is gone."""
    return dhclient_env("BOUND", new=PRIMARY)


def renew_env() -> Dict[str, str]:
    """RENEW of the same address: dhclient-script changed nothing."""
    return dhclient_env("RENEW", new=PRIMARY, old=PRIMARY)


def preinit_env() -> Dict[str, str]:
    return dhclient_env("PREINIT")


def sourced(shim: Path) -> List[str]:
    """``sh`` sourcing ``shim`` as dhclient-script does (``. $script``)."""
    return [tool("sh"), "-c", '. "$1"', "sh", str(shim)]


def rhel_call(shim: Path, function: str) -> List[str]:
    """RHEL's dhclient-script (bash) sourcing the shim and calling one of its functions,
    as it does for every ``*.sh`` in /etc/dhcp/dhclient.d (and NetworkManager's
    11-dhclient dispatcher script does too)."""
    return [tool("bash"), "-c", '. "$1"; "$2"', "bash", str(shim), function]


def rhel_nm_env() -> Dict[str, str]:
    """NetworkManager's 11-dhclient calling the shim's ``nethook_config``: not for
    nethook (its own dispatcher script covers NetworkManager)."""
    return {"PATH": HOOK_PATH, "NM_DISPATCHER_ACTION": "dhcp4-change", "interface": IFNAME}


def ifupdown_env(mode: str) -> Dict[str, str]:
    """What ifupdown exports to the if-up.d and if-down.d scripts run-parts executes."""
    return {"PATH": HOOK_PATH, "IFACE": IFNAME, "LOGICAL": IFNAME, "ADDRFAM": "inet",
            "METHOD": "dhcp", "MODE": mode, "PHASE": "post-up" if mode == "start"
            else "post-down", "VERBOSITY": "0"}


def networkd_env(state: str) -> Dict[str, str]:
    """What networkd-dispatcher exports to its scripts (the ones nethook reads)."""
    return {"PATH": HOOK_PATH, "IFACE": IFNAME, "STATE": state,
            "AdministrativeState": "configured", "OperationalState": state}


def nm_dispatch(shim: Path, action: str, iface: str = "none") -> List[str]:
    """nm-dispatcher's call: the script executed with the interface and the action."""
    return [str(shim), iface, action]


def nm_env(action: str) -> Dict[str, str]:
    return {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "NM_DISPATCHER_ACTION": action}
