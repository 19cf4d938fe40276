"""The engine: one desired-state assembly, the pure planner, the one applier, ownership,
snapshots, the lease rule, the journal and the run lock, and the use case every entry
point ends in."""
