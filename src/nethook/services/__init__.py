"""Services that must listen on the addresses nethook restores: ntpd, chrony, xinetd, units.

Restoring an alias is half the job: a daemon bound to it may have closed its socket when
the address went away (ntpd does, after about 2 s), or failed to bind while it was gone
(xinetd, chronyd with ``bindaddress``). After a hook restored addresses, a detached
``nethook services-check IFACE`` (:mod:`nethook.services.trigger`) reads the kernel's socket
table (:mod:`~nethook.daemons.listeners`), gives each daemon a bounded time to come back on
its own, and only then acts: ntpd's runtime ``:config`` when a control key is configured,
else a restart or reload through the unit manager (:mod:`~nethook.adapters.units`), at most
once per service per rate-limit interval.

Importing this package does nothing; the modules below import what they need.
"""
