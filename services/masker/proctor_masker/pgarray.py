"""Postgres array literals: the parser and writer live in `proctor.pgarray`, shared with the
ingress-proxy (which turns binary arrays into literals for the masker)."""

from proctor.pgarray import ArrayLiteralError, Element, map_strings, parse, write

__all__ = ["ArrayLiteralError", "Element", "map_strings", "parse", "write"]
