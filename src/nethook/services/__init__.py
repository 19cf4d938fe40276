"""Services that must listen on the addresses nethook keeps: ntpd, chrony, xinetd, units.

Restoring an alias is half the job: a daemon bound to it may have closed its socket when
the address went away (ntpd does, after about 2 s), or failed to bind while it was gone
(xinetd). After every run, :func:`nethook.services.trigger.after_run` decides cheaply
whether a check is needed (addresses were restored, or a watched daemon is deaf on one
that is present) and starts a detached ``nethook services-check IFACE``
(:mod:`nethook.engine.services_check`). The check reads the socket table
(:mod:`~nethook.daemons.listeners`), counting only the sockets of each daemon's main
process, gives each daemon a bounded time to come back on its own, and only then acts:
ntpd's runtime ``:config`` when a control key is configured, else a restart or reload
through the unit manager (:mod:`~nethook.adapters.units`), at most once per service per
rate-limit interval. A daemon whose sockets cannot be read is "could not read", never
"listening" or "not listening". ``nethook status`` and ``nethook doctor`` give the same
verdicts (:mod:`~nethook.services.status`).

Importing this package does nothing; the modules below import what they need.
"""
