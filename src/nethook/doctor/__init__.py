"""``nethook doctor``: find the misconfigurations behind lost aliases, before they bite.

One module per family of checks, each a function from an :class:`~.inputs.Inspection`
(the run's options, the files under the root, the live state behind the
:class:`~.live.Live` port) to findings: routes (1), mac (2), policy (3), aliases (4),
dhclient (5), ntpd (6), xinetd (7), hooks (8), selfcheck (9). :mod:`.run` runs them,
prints the report (:mod:`.report`) and applies the fixes (:mod:`.fixes`) asked for.
Importing this package does nothing; the CLI imports :mod:`.run` when it needs it.
"""
