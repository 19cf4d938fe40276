"""nethook: keep hand-made and distro-declared network state alive across DHCP events."""

__version__ = "0.1.0"
