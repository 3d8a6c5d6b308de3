"""What each prepared statement and portal of a session runs, so that executing one is judged
by the statement it runs (protocol-level Parse/Bind and SQL-level PREPARE/EXECUTE).

A SQL-level name is only trusted while nothing the proxy cannot follow may have redefined it:
it is recorded once the target ran the PREPARE, and forgotten when anything else could replace
it, so that an EXECUTE of it is then judged as an unknown statement (reviewed), never as stale
text.
"""

from __future__ import annotations

import re

from proctor_ingress.postgres.tracking import Command

_PREPARE = re.compile(r"^\s*PREPARE\s+(\w+)\s*(?:\([^)]*\))?\s+AS\s+(.*)$", re.I | re.S)
_EXECUTE = re.compile(r"^\s*EXECUTE\s+(\w+)", re.I)
_DEALLOCATE = re.compile(r"^\s*DEALLOCATE\s+(?:PREPARE\s+)?(\w+|ALL)\s*;?\s*$", re.I)
_NAMESPACE_WORD = re.compile(r"\b(?:PREPARE|DEALLOCATE|DISCARD)\b", re.I)


class SqlStatements:
    def __init__(self) -> None:
        self._statements: dict[str, Command] = {}
        self._portals: dict[str, Command | None] = {}
        self._prepared: dict[str, str] = {}  # SQL-level PREPARE name -> statement text

    def parse(self, name: str, command: Command) -> None:
        self._statements[name] = command
        self._prepared.pop(name, None)  # one namespace: the Parse redefines the SQL name

    def bind(self, portal: str, statement: str) -> Command | None:
        """Bind `portal` to `statement`; the statement's command, if known."""
        command = self._statements.get(statement)
        self._portals[portal] = command
        return command

    def bind_command(self, portal: str, command: Command) -> None:
        """Bind `portal` to one execution's own command (a re-reviewed execution)."""
        self._portals[portal] = command

    def portal(self, portal: str) -> Command | None:
        return self._portals.get(portal)

    def close(self, kind: str, name: str) -> None:
        if kind == "S":
            self._statements.pop(name, None)
            self._prepared.pop(name, None)
        else:
            self._portals.pop(name, None)

    def judged_text(self, text: str) -> str:
        """What to classify: for `EXECUTE name(...)`, the statement it runs."""
        match = _EXECUTE.match(text)
        if match and match.group(1).lower() in self._prepared:
            return self._prepared[match.group(1).lower()]
        return text

    def forget_replaced(self, text: str) -> None:
        """Before `text` runs: a lone PREPARE or DEALLOCATE is followed once it ran; any
        other text that may prepare, deallocate or discard (several statements in one
        string) makes every SQL-level name unknown."""
        words = _NAMESPACE_WORD.findall(text)
        if len(words) > 1 or (words and _NAMESPACE_WORD.match(text.lstrip()) is None):
            self._prepared.clear()
        elif match := _DEALLOCATE.match(text):
            self._forget(match.group(1).lower())

    def simple_query(self, text: str, command: Command) -> None:
        """Remember SQL-level prepared statements once the target ran them."""
        if match := _PREPARE.match(text):
            self._prepared[match.group(1).lower()] = match.group(2)
        elif match := _DEALLOCATE.match(text):
            self._forget(match.group(1).lower())

    def _forget(self, name: str) -> None:
        if name == "all":
            self._prepared.clear()
        else:
            self._prepared.pop(name, None)
