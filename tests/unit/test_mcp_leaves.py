"""Masking MCP tool results and arguments leaf by leaf, with the masker's own core answering
in-process (the request the proxy would send over NATS, `handle_request`, the answer put
back): texts, JSON texts, structured content by key, secret-named values, embedded resources,
resource links and binary content. tests/integration runs it against the masker over NATS."""

from __future__ import annotations

import base64
import json
from typing import Any

import mcp_types as types
import pytest

from proctor_ingress.kube.maskcall import MASKED, build_request
from proctor_ingress.masking import MaskStats, MaskUnavailable
from proctor_ingress.mcp.leaves import mask_arguments, mask_result
from proctor_masker.model import MaskSettings
from proctor_masker.service import handle_request

EMAIL = "jane.doe@example.com"
PHONE = "+1 415 555 0132"
WHOIS_LINE = f"Jane Doe <{EMAIL}>, phone {PHONE}, team billing"
API_KEY = "prx_test_upstream_key_not_a_secret"


class CoreMasker:
    """A MaskTexts answered by the masker's core, recording what it was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def __call__(self, pairs: list[tuple[str, str]]) -> list[str]:
        self.sent.extend(pairs)
        request, grid = build_request(pairs, range(len(pairs)))
        response = handle_request(request.SerializeToString(), MaskSettings())
        out = [text for _, text in pairs]
        for sent, row in zip(grid, response.rows, strict=True):
            for i, value in zip(sent, row.values, strict=True):
                if i >= 0:
                    out[i] = value.text
        return out


def whois_result() -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=WHOIS_LINE)],
        structured_content={
            "name": "Jane Doe",
            "email": EMAIL,
            "phone": PHONE,
            "team": "billing",
            "aliases": [EMAIL.replace("jane", "j")],
        },
        _meta={"trace": "t-1"},
    )


async def test_texts_and_structured_leaves_are_masked_by_what_their_keys_say() -> None:
    original = whois_result()
    stats = MaskStats()
    masked = await mask_result(original, CoreMasker(), stats=stats)
    (block,) = masked.content
    assert isinstance(block, types.TextContent)
    assert block.text == "<PERSON> <<EMAIL_ADDRESS>>, phone <PHONE_NUMBER>, team billing"
    assert masked.structured_content == {
        "name": "<PERSON>",
        "email": "<EMAIL_ADDRESS>",
        "phone": "<PHONE_NUMBER>",
        "team": "billing",
        "aliases": ["<EMAIL_ADDRESS>"],
    }
    assert masked.meta == {"trace": "t-1"} and masked.is_error is False
    assert original == whois_result()  # the upstream's result is left as it was


async def test_a_json_text_is_masked_as_json_and_left_alone_when_nothing_is_in_it() -> None:
    doc = {"user": {"email": EMAIL, "api_key": API_KEY, "logins": 3}, "pass_code": 1234, "ok": True}
    plain = {"issues": [{"number": 12, "state": "open", "title": "flaky test"}]}
    plain_text = json.dumps(plain, indent=4)
    result = types.CallToolResult(
        content=[
            types.TextContent(text=json.dumps(doc, indent=2)),
            types.TextContent(text=plain_text),
            types.TextContent(text="[not json, mail " + EMAIL),
        ],
        is_error=True,
    )
    masker = CoreMasker()
    masked = await mask_result(result, masker)
    first, second, third = masked.content
    assert isinstance(first, types.TextContent) and isinstance(second, types.TextContent)
    assert json.loads(first.text) == {
        "user": {"email": "<EMAIL_ADDRESS>", "api_key": MASKED, "logins": 3},
        "pass_code": MASKED,  # a number named for a secret goes too
        "ok": True,
    }
    assert "\n" in first.text  # an indented text stays indented
    assert second.text == plain_text  # byte for byte: nothing in it was masked
    assert isinstance(third, types.TextContent)
    assert third.text == "[not json, mail <EMAIL_ADDRESS>"
    assert API_KEY not in str(masker.sent)  # the proxy replaced it: the masker never saw it
    assert masked.is_error is True


async def test_binary_content_is_withheld_and_counted() -> None:
    png = base64.b64encode(b"\x89PNG" + bytes(60)).decode()
    result = types.CallToolResult(
        content=[
            types.ImageContent(data=png, mime_type="image/png"),
            types.AudioContent(data=png, mime_type="audio/wav"),
            types.EmbeddedResource(
                resource=types.BlobResourceContents(
                    uri="file:///scan.pdf", mime_type="application/pdf", blob=png
                )
            ),
        ]
    )
    stats = MaskStats()
    masked = await mask_result(result, CoreMasker(), stats=stats)
    image, audio, embedded = masked.content
    assert isinstance(image, types.TextContent) and "image/png" in image.text
    assert isinstance(audio, types.TextContent) and "withheld by Proctor" in audio.text
    assert isinstance(embedded, types.EmbeddedResource)
    inner = embedded.resource
    assert isinstance(inner, types.TextResourceContents)
    assert str(inner.uri) == "file:///scan.pdf" and "cannot mask binary" in inner.text
    assert png not in masked.model_dump_json()
    assert stats.values_masked == 3


async def test_embedded_text_and_resource_links_are_masked_and_their_names_kept() -> None:
    result = types.CallToolResult(
        content=[
            types.EmbeddedResource(
                resource=types.TextResourceContents(
                    uri="notes://1", mime_type="text/plain", text=f"ping {EMAIL} today"
                )
            ),
            types.ResourceLink(
                uri="notes://2",
                name="note-2",
                title="From Jane Doe",
                description=f"written by {EMAIL}",
            ),
        ]
    )
    masked = await mask_result(result, CoreMasker())
    embedded, link = masked.content
    assert isinstance(embedded, types.EmbeddedResource)
    assert isinstance(embedded.resource, types.TextResourceContents)
    assert embedded.resource.text == "ping <EMAIL_ADDRESS> today"
    assert isinstance(link, types.ResourceLink)
    assert (str(link.uri), link.name) == ("notes://2", "note-2")
    assert link.description == "written by <EMAIL_ADDRESS>"
    assert EMAIL not in masked.model_dump_json()


async def test_arguments_are_masked_for_events_and_left_whole_for_the_upstream() -> None:
    arguments: dict[str, Any] = {
        "title": "Refund for Jane Doe",
        "body": f"Customer {EMAIL} called from {PHONE}",
        "labels": ["billing", "vip"],
        "auth": {"token": API_KEY, "retries": 2},
        "assignee": {"email": EMAIL},
    }
    before = json.dumps(arguments)
    masked = await mask_arguments(arguments, CoreMasker())
    assert json.dumps(arguments) == before
    assert masked == {
        "title": "Refund for <PERSON>",
        "body": "Customer <EMAIL_ADDRESS> called from <PHONE_NUMBER>",
        "labels": ["billing", "vip"],
        "auth": {"token": MASKED, "retries": 2},
        "assignee": {"email": "<EMAIL_ADDRESS>"},
    }


async def test_nothing_comes_back_when_the_masker_is_unavailable() -> None:
    async def unavailable(pairs: list[tuple[str, str]]) -> list[str]:
        raise MaskUnavailable("no masker is running")

    with pytest.raises(MaskUnavailable):
        await mask_result(whois_result(), unavailable)
    with pytest.raises(MaskUnavailable):
        await mask_arguments({"note": WHOIS_LINE}, unavailable)


async def test_a_mask_function_answering_too_few_texts_is_refused() -> None:
    async def short(pairs: list[tuple[str, str]]) -> list[str]:
        return []

    with pytest.raises(MaskUnavailable, match="another number of texts"):
        await mask_result(whois_result(), short)
