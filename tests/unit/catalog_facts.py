"""Catalog facts for classifier tests: a target as the ingress would describe it."""

from __future__ import annotations

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.events.v1 import events_pb2 as pb
from proctor.policy import Policy
from proctor_classifier.core import classify


def function(
    name: str,
    volatility: str = "s",
    *,
    builtin: bool = False,
    language: str = "sql",
    body: str = "",
    schema: str = "public",
) -> cpb.FunctionFacts:
    """One function the name means (none at all: `cpb.FunctionFacts(name=name)`)."""
    return cpb.FunctionFacts(
        name=name,
        definitions=[
            cpb.FunctionDefinition(schema="pg_catalog" if builtin else schema,
                                   volatility=volatility, language=language, builtin=builtin,
                                   body=body, kind="f")
        ],
    )  # fmt: skip


def table(name: str, *policies: str) -> cpb.RelationFacts:
    return cpb.RelationFacts(
        name=name,
        definitions=[
            cpb.RelationDefinition(schema="public", kind="r", policy_expressions=list(policies))
        ],
    )


def view(name: str, query: str) -> cpb.RelationFacts:
    return cpb.RelationFacts(
        name=name,
        definitions=[cpb.RelationDefinition(schema="public", kind="v", view_definition=query)],
    )


def plain_catalog_verdict(
    text: str, policy: Policy, request: cpb.ClassifyRequest | None = None
) -> cpb.ClassifyResponse:
    """Classify, answering every name the classifier needs as a table or a built-in STABLE
    function, as many rounds as it asks."""
    request = request or cpb.ClassifyRequest(text=text, resource=pb.Resource(name="demo"))
    response = classify(request, policy)
    for _ in range(8):
        needs = response.needs
        if not (needs.functions or needs.relations):
            break
        request.catalog.functions.extend(function(n, builtin=True) for n in needs.functions)
        request.catalog.relations.extend(table(n) for n in needs.relations)
        response = classify(request, policy)
    return response
