"""Shipped latency devices (package data ``hwnas.devices``): one folder per device, see
docs/latency.md."""
