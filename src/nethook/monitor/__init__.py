"""What monitoring reads: ``nethook check`` (a Nagios/Icinga plugin) and ``nethook metrics``
(Prometheus), both from the facts ``status`` shows (:mod:`nethook.monitor.facts`)."""
