"""``nethook watch``: a resident process that restores what nethook keeps as soon as it goes.

Hooks only run when a network stack calls them. The watcher also hears the kernel
(rtnetlink: addresses, routes, rules, links) and, when they are on the system bus,
NetworkManager's and systemd-networkd's D-Bus signals. When an object nethook keeps
disappears, or a lease changes, it runs the same restore as the hooks for that interface.

Modules:

* ``client``: what a hook uses to hand its event to the watcher (standard library only);
* ``rtnl``: the kernel's multicast notifications, read until none is pending and
  decoded by the restore's own codec (``adapters.rtnl_decode``);
* ``kept``: the in-memory model of what is kept, per interface;
* ``backoff``: loop protection against another program that keeps deleting an object;
* ``schedule``: when to run (no quiet period), holds during a stack's own transitions,
  merging of triggers;
* ``worker``, ``server``, ``dbus_nm``, ``dbus_networkd``, ``sdnotify``: the adapters;
* ``daemon``: wires them together around one asyncio loop;
* ``status``: what ``nethook status`` says about the watcher.
"""
