"""Embedded BaaS simulator for tests (work in progress)."""
