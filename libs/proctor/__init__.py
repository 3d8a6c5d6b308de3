"""Proctor: a gateway between AI agents and production infrastructure (shared library)."""

__version__ = "0.1.0"
