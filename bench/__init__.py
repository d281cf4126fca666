"""Benchmarks of gridready (not tests): scripts that print figures; see bench/README.md."""
