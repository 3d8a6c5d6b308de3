"""Masking what crosses the gateway in an MCP tool call, leaf by leaf: an upstream's
`CallToolResult` before the agent sees it (`mask_result`), and a call's arguments before they
enter an event (`mask_arguments`).

What is masked where:
- every text content's text; a text that is a JSON object or array (many servers answer JSON
  as text) is masked as JSON, below, and written back only when something in it was masked;
- every string leaf of `structured_content` and of arguments, hinted by its JSON key, so an
  `email`, `owner` or `city` is masked by what its name says (`maskrules.column_hint`); a
  value whose key names a secret (`password`, `api_key`: `maskrules.secret_name`) is replaced
  whole without asking the masker, numbers included;
- an embedded resource's text, and a resource link's title and description;
- binary content (images, audio, blob resources) cannot be read for what it shows: it is
  replaced by a text saying Proctor withheld it.
Everything else stays as it was: structure, numbers, booleans, `is_error`, `_meta`, URIs and
names of resources. All texts of one result go to the masker in one `mask` call; when it
raises MaskUnavailable nothing is returned and the caller must answer an error instead.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import mcp_types as types

from proctor.maskrules import secret_name
from proctor_ingress.kube.maskcall import MASKED, WITHHELD_ENTITY, MaskTexts
from proctor_ingress.masking import MaskStats, MaskUnavailable

__all__ = ["MaskTexts", "MaskUnavailable", "mask_arguments", "mask_result", "withheld"]

SECRET_ENTITY = "SECRET"
TEXT_HINT = "text"  # the hint of a text with no name (a content block, a JSON text's top level)


def withheld(what: str, mime_type: str | None, data: str) -> str:
    """What stands for binary content the masker cannot read."""
    size = len(data) * 3 // 4  # base64
    return (
        f"<withheld by Proctor: {what} ({mime_type or 'unknown type'}, about {size} bytes); "
        "Proctor cannot mask binary content, so it does not pass it on>"
    )


@dataclass
class _Batch:
    """The texts waiting for the masker, where each goes back, and what was replaced here."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    puts: list[Callable[[str], None]] = field(default_factory=list)
    after: list[Callable[[], None]] = field(default_factory=list)
    local: MaskStats = field(default_factory=MaskStats)

    def text(self, hint: str, text: str, put: Callable[[str], None]) -> None:
        if not text:
            return
        if secret_name(hint):
            put(MASKED)
            self.count(hint, SECRET_ENTITY)
            return
        self.pairs.append((hint, text))
        self.puts.append(put)

    def count(self, hint: str, entity: str) -> None:
        self.local.values_masked += 1
        self.local.counts[hint, entity] += 1

    def json(self, node: Any, hint: str) -> None:
        """Every string leaf under `node` (a dict or list, masked in place), each hinted by
        the key it is under (a list's items by the list's key)."""
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            name = key if isinstance(key, str) else hint
            if isinstance(value, str):
                self.text(name, value, _setter(node, key))
            elif isinstance(value, dict | list):
                self.json(value, name)
            elif (
                isinstance(value, int | float) and not isinstance(value, bool) and secret_name(name)
            ):
                node[key] = MASKED
                self.count(name, SECRET_ENTITY)

    def maybe_json_text(self, hint: str, text: str, put: Callable[[str], None]) -> None:
        """`text`, masked as JSON when it is a JSON object or array, else as text."""
        stripped = text.strip()
        if stripped[:1] in ("{", "["):
            try:
                doc = json.loads(stripped)
            except ValueError:
                doc = None
            if isinstance(doc, dict | list):
                before = copy.deepcopy(doc)
                self.json(doc, hint)

                def rewrite() -> None:
                    if doc != before:
                        indent = 2 if "\n" in stripped else None
                        put(json.dumps(doc, ensure_ascii=False, indent=indent))

                self.after.append(rewrite)
                return
        self.text(hint, text, put)

    async def apply(self, mask: MaskTexts, stats: MaskStats | None) -> None:
        masked = await mask(self.pairs) if self.pairs else []
        if len(masked) != len(self.pairs):
            raise MaskUnavailable("the mask function answered another number of texts")
        for put, text in zip(self.puts, masked, strict=True):
            put(text)
        for finish in self.after:
            finish()
        if stats is not None:
            stats.values_masked += self.local.values_masked
            stats.counts.update(self.local.counts)


def _setter(node: Any, key: Any) -> Callable[[str], None]:
    def put(text: str) -> None:
        node[key] = text

    return put


async def mask_result(
    result: types.CallToolResult, mask: MaskTexts, *, stats: MaskStats | None = None
) -> types.CallToolResult:
    """A copy of `result` masked leaf by leaf (`result` is left as it was). What the proxy
    replaces itself (secret-named values, binary content) is counted into `stats`; the
    masker's counts go where `mask` puts them. Raises MaskUnavailable from `mask`."""
    batch = _Batch()
    content: list[types.ContentBlock] = list(result.content)
    for i, block in enumerate(content):
        _block(batch, content, i, block)
    structured = copy.deepcopy(result.structured_content)
    if structured is not None:
        batch.json(structured, TEXT_HINT)
    await batch.apply(mask, stats)
    return result.model_copy(update={"content": content, "structured_content": structured})


def _block(batch: _Batch, content: list[types.ContentBlock], i: int, block: Any) -> None:
    def update(name: str) -> Callable[[str], None]:
        # One field of the block at content[i], the block as it is by then (a link's title
        # and description are both masked).
        def put(text: str) -> None:
            content[i] = content[i].model_copy(update={name: text})

        return put

    if isinstance(block, types.TextContent):
        batch.maybe_json_text(TEXT_HINT, block.text, update("text"))
    elif isinstance(block, types.ImageContent | types.AudioContent):
        what = "an image" if isinstance(block, types.ImageContent) else "audio"
        content[i] = types.TextContent(text=withheld(what, block.mime_type, block.data))
        batch.count(TEXT_HINT, WITHHELD_ENTITY)
    elif isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):

            def put(text: str) -> None:
                inner = resource.model_copy(update={"text": text})
                content[i] = block.model_copy(update={"resource": inner})

            batch.maybe_json_text(TEXT_HINT, resource.text, put)
        else:
            text = withheld(f"the resource {resource.uri}", resource.mime_type, resource.blob)
            inner = types.TextResourceContents(
                uri=resource.uri, mime_type="text/plain", text=text, _meta=resource.meta
            )
            content[i] = block.model_copy(update={"resource": inner})
            batch.count(TEXT_HINT, WITHHELD_ENTITY)
    elif isinstance(block, types.ResourceLink):
        for name in ("title", "description"):
            value = getattr(block, name)
            if isinstance(value, str):
                batch.text(name, value, update(name))


async def mask_arguments(
    arguments: dict[str, Any], mask: MaskTexts, *, stats: MaskStats | None = None
) -> dict[str, Any]:
    """A copy of a call's arguments with every string leaf masked, hinted by its key (and
    secret-named values replaced), for events; the upstream gets the arguments as they
    were. Raises MaskUnavailable from `mask`."""
    masked = copy.deepcopy(arguments)
    batch = _Batch()
    batch.json(masked, TEXT_HINT)
    await batch.apply(mask, stats)
    return masked
