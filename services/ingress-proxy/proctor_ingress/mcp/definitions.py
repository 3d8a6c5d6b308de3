"""What each upstream MCP tool's definition is allowed to be: its fingerprint (SHA-256 of the
definition's canonical JSON) and the one the gateway accepted, kept in a JetStream KV bucket
shared by every ingress replica and surviving restarts.

The first definition seen of a tool is accepted as it is; a later different one is a changed
definition (a tool that reworded its description to steer the agent, or widened its schema)
until a human approves a call of it and the gateway `accept`s it.
"""

from __future__ import annotations

import base64
import hashlib
import json

import mcp_types as types
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from proctor.busaccess import MCP_TOOLS_BUCKET
from proctor.errors import BusError

BUCKET = MCP_TOOLS_BUCKET  # the ingress user's NATS rights name it (busaccess)
# The parts of a tool's definition that tell the agent (and the classifier) what it does.
DEFINITION_FIELDS = (
    "name", "title", "description", "inputSchema", "outputSchema", "annotations",
)  # fmt: skip


def fingerprint(tool: types.Tool) -> str:
    """SHA-256 (hex) of the canonical JSON (sorted keys, no spaces) of the tool's name, title,
    description, input and output schemas and annotations; absent and null are the same."""
    wire = tool.model_dump(mode="json", by_alias=True, exclude_none=True)
    definition = {k: wire[k] for k in DEFINITION_FIELDS if k in wire}
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def tool_key(resource: str, tool: str) -> str:
    """The KV key of a tool: `<resource>.<tool name as unpadded base64url>` (tool names may
    hold characters KV keys may not; resource names are letters, digits, - and _)."""
    encoded = base64.urlsafe_b64encode(tool.encode()).decode().rstrip("=")
    return f"{resource}.{encoded or '-'}"


class ToolDefinitions:
    """The accepted fingerprint of each (resource, tool), in the KV bucket (created on first
    use). Raises BusError when NATS does not answer: the caller cannot tell a changed
    definition from an unchanged one then, and must not treat the tool as known."""

    def __init__(self, js: JetStreamContext, replicas: int = 1) -> None:
        self.js = js
        self.replicas = replicas
        self._kv: KeyValue | None = None

    async def _bucket(self) -> KeyValue:
        if self._kv is None:
            try:
                self._kv = await self.js.key_value(BUCKET)
            except BucketNotFoundError:
                self._kv = await self.js.create_key_value(
                    bucket=BUCKET,
                    description="Proctor: accepted definitions of upstream MCP tools",
                    history=1,
                    storage=js_api.StorageType.FILE,
                    replicas=self.replicas,
                )
        return self._kv

    async def get(self, resource: str, tool: str) -> str | None:
        """The accepted fingerprint, or None when the tool was never seen."""
        try:
            entry = await (await self._bucket()).get(tool_key(resource, tool))
        except KeyNotFoundError:
            return None
        except (NatsError, TimeoutError) as exc:
            raise BusError(f"the MCP tool definitions (KV {BUCKET}) did not answer: {exc}") from exc
        return (entry.value or b"").decode() or None

    async def first_seen(self, resource: str, tool: str, fingerprint: str) -> str:
        """The accepted fingerprint; `fingerprint` becomes it when none was recorded (when
        replicas race, the first write wins and every replica returns that one)."""
        accepted = await self.get(resource, tool)
        if accepted is not None:
            return accepted
        key = tool_key(resource, tool)
        try:
            await (await self._bucket()).create(key, fingerprint.encode())
        except KeyWrongLastSequenceError:
            return await self.get(resource, tool) or fingerprint
        except (NatsError, TimeoutError) as exc:
            raise BusError(f"the MCP tool definitions (KV {BUCKET}) did not answer: {exc}") from exc
        return fingerprint

    async def accept(self, resource: str, tool: str, fingerprint: str) -> None:
        """Record `fingerprint` as the accepted definition (a human approved a call of it)."""
        try:
            await (await self._bucket()).put(tool_key(resource, tool), fingerprint.encode())
        except (NatsError, TimeoutError) as exc:
            raise BusError(f"the MCP tool definitions (KV {BUCKET}) did not answer: {exc}") from exc
