"""Whether a verdict depended on something the query fingerprint leaves out.

The ingress-proxy may reuse a verdict for every text with the same fingerprint
(`pglast.parser.fingerprint`), which ignores literal values and some names (roles, cursors,
prepared statements, channels). That is only sound when the classifier looked at none of them,
neither to decide (`WHERE 1 = 1` against `WHERE 1 = 0`) nor to word a reason (`CREATE ROLE r`).
The matcher calls `consulted()` wherever it does; `tracking()` collects that for one text.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_used: ContextVar[list[bool] | None] = ContextVar("proctor_classifier_literals", default=None)


def consulted() -> None:
    """Note that the verdict now depends on a value the fingerprint does not capture."""
    flag = _used.get()
    if flag is not None:
        flag[0] = True


@contextmanager
def tracking() -> Iterator[list[bool]]:
    """Collect `consulted()` calls made inside; the yielded [bool] is True if any was."""
    flag = [False]
    token = _used.set(flag)
    try:
        yield flag
    finally:
        _used.reset(token)
