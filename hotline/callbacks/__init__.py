"""Callbacks: what to call back, when, and in which order (the pure domain; no I/O)."""
