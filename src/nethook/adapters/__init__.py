"""Adapters: the real implementations of the ports in ``nethook.model.ports``."""
