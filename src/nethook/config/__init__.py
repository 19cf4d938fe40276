"""nethook's own configuration: YAML with file:line:key errors, its schema and values,
the routing table names of iproute2 and the ``services:`` settings. Pure parsing."""
