"""Proctor: a gateway between AI agents and production infrastructure (shared library)."""

__version__ = "0.1.0"

import warnings as _warnings

# asyncssh (the SSH entrance and the demo host) still imports cryptography's DSA types, which
# warns on every start; Proctor never uses DSA keys.
_warnings.filterwarnings("ignore", message="DSA is deprecated", module=r"asyncssh\.")
