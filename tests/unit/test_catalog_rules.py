"""Calls and relations judged by the target's catalog facts (the classifier's pure core): what
a function is decides, not its name; views, row-level security and function bodies are
followed; what was not looked up is a review and a need; reviewed writes ask for the planner's
estimate and are held to the policy's `limits:`."""

from __future__ import annotations

import pytest

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor.errors import ConfigError
from proctor.events.v1 import events_pb2 as pb
from proctor.policy import Policy, parse_policy
from proctor_classifier.catalog import HARMLESS_VOLATILE, judged_by_name
from proctor_classifier.core import classify
from tests.unit.catalog_facts import function, table, view


def judged(
    text: str,
    functions: list[cpb.FunctionFacts] = (),  # type: ignore[assignment]
    relations: list[cpb.RelationFacts] = (),  # type: ignore[assignment]
    policy: Policy | None = None,
    **estimate: object,
) -> cpb.ClassifyResponse:
    request = cpb.ClassifyRequest(
        text=text,
        resource=pb.Resource(name="demo"),
        catalog=cpb.CatalogFacts(functions=functions, relations=relations, **estimate),  # type: ignore[arg-type]
    )
    return classify(request, policy or Policy.builtin())


def rule_ids(response: cpb.ClassifyResponse) -> list[str]:
    return [m.rule_id for m in response.matches]


def test_a_volatile_user_function_is_a_write_whatever_its_name() -> None:
    response = judged("SELECT harmless_looking()", [function("harmless_looking", "v")])
    assert response.action == pb.ACTION_REVIEW
    assert rule_ids(response) == ["write.call_function"]
    assert "public.harmless_looking()" in response.matches[0].reason
    assert "VOLATILE sql" in response.matches[0].reason
    assert not response.needs.functions


def test_stable_and_immutable_user_functions_are_reads() -> None:
    for volatility in ("s", "i"):
        response = judged("SELECT total()", [function("total", volatility, body="SELECT 1")])
        assert response.action == pb.ACTION_ALLOW, volatility


def test_qualified_and_quoted_names_are_looked_up_as_written() -> None:
    response = judged('SELECT app."Purge"()')
    assert list(response.needs.functions) == ["app.Purge"]
    assert response.action == pb.ACTION_REVIEW


def test_names_not_looked_up_are_needed_and_reviewed_meanwhile() -> None:
    response = judged("SELECT f(x) FROM t JOIN u ON g(t.a) = u.b")
    assert sorted(response.needs.functions) == ["f", "g"]
    assert sorted(response.needs.relations) == ["t", "u"]
    assert response.action == pb.ACTION_REVIEW
    assert set(rule_ids(response)) == {"write.call_unknown"}


def test_a_function_that_does_not_exist_or_could_not_be_looked_up_is_reviewed() -> None:
    response = judged("SELECT gone()", [cpb.FunctionFacts(name="gone")])
    assert rule_ids(response) == ["write.call_unknown"]
    assert "not in the target's catalog" in response.matches[0].reason
    response = judged("SELECT f()", [cpb.FunctionFacts(name="f", error="connection refused")])
    assert "could not be looked up (connection refused)" in response.matches[0].reason
    assert not response.needs.functions


def test_every_meaning_of_a_name_counts() -> None:
    facts = cpb.FunctionFacts(
        name="f",
        definitions=[
            cpb.FunctionDefinition(schema="a", volatility="s", language="c"),
            cpb.FunctionDefinition(schema="b", volatility="v", language="plpgsql"),
        ],
    )
    response = judged("SELECT f()", [facts])
    assert response.action == pb.ACTION_REVIEW and "b.f()" in response.matches[0].reason


def test_a_stable_function_calling_a_volatile_one_is_followed() -> None:
    outer = function("outer_fn", "s", language="plpgsql", body="BEGIN RETURN purge(); END")
    outer.definitions[0].returns = "integer"
    response = judged("SELECT outer_fn()", [outer])
    assert list(response.needs.functions) == ["purge"]
    response = judged("SELECT outer_fn()", [outer, function("purge", "v")])
    assert rule_ids(response) == ["write.call_function"]
    assert "inside public.outer_fn()" in response.matches[0].reason


def test_a_body_that_does_not_parse_fails_closed() -> None:
    broken = function("f", "s", language="plpgsql", body="BEGIN this is not plpgsql")
    assert rule_ids(judged("SELECT f()", [broken])) == ["write.call_unknown"]


def test_views_are_expanded_recursively() -> None:
    relations = [view("outer_v", "SELECT * FROM inner_v"), view("inner_v", "SELECT purge()")]
    response = judged("SELECT * FROM outer_v", [function("purge", "v")], relations)
    assert rule_ids(response) == ["write.call_function"]
    reason = response.matches[0].reason
    assert "in the view of public.inner_v in the view of public.outer_v" in reason


def test_row_level_security_expressions_are_judged() -> None:
    relations = [table("secured", "audit_read(id)")]
    response = judged("SELECT * FROM secured", [function("audit_read", "v")], relations)
    assert rule_ids(response) == ["write.call_function"]
    assert "policy of public.secured" in response.matches[0].reason


def test_views_and_functions_that_come_with_the_server_are_not_followed() -> None:
    builtin = cpb.RelationFacts(
        name="pg_stat_activity",
        definitions=[cpb.RelationDefinition(schema="pg_catalog", kind="v", builtin=True)],
    )
    assert judged("SELECT * FROM pg_stat_activity", [], [builtin]).action == pb.ACTION_ALLOW


def test_builtin_volatile_functions_are_listed_or_reviewed() -> None:
    response = judged("SELECT random()", [function("random", "v", builtin=True)])
    assert response.action == pb.ACTION_ALLOW
    response = judged("SELECT pg_new_thing()", [function("pg_new_thing", "v", builtin=True)])
    assert rule_ids(response) == ["write.call_function"]
    assert "no rule for" in response.matches[0].reason
    assert judged_by_name("nextval") and judged_by_name("pg_stat_get_numscans")
    assert judged_by_name("pg_terminate_backend") and not judged_by_name("pg_new_thing")
    assert "nextval" not in HARMLESS_VOLATILE


def test_a_reviewed_write_asks_for_the_estimate_and_carries_it() -> None:
    response = judged("UPDATE t SET a = 1 WHERE id = 2", [], [table("t")])
    assert response.action == pb.ACTION_REVIEW and response.needs.estimate
    response = judged("UPDATE t SET a = 1 WHERE id = 2", [], [table("t")], estimated_rows=3)
    assert not response.needs.estimate and response.estimated_rows == 3
    # Not for reads, several statements, or while names are still being looked up.
    assert not judged("SELECT 1", []).needs.estimate
    assert not judged("UPDATE t SET a = 1 WHERE id = 2").needs.estimate
    both = "UPDATE t SET a = 1 WHERE id = 2; UPDATE t SET a = 2 WHERE id = 3"
    assert not judged(both, [], [table("t")]).needs.estimate


LIMITS = """\
version: 1
limits:
  - match: {rule: write}
    max_rows: 100
  - match: {resource: demo, rule: write.delete}
    max_rows: 10
"""


def test_max_rows_blocks_a_write_estimated_above_it() -> None:
    policy = parse_policy(LIMITS)
    text = "DELETE FROM t WHERE created < now()"
    relations = [table("t")]
    functions = [function("now", "s", builtin=True)]
    response = judged(text, functions, relations, policy, estimated_rows=11)
    assert response.action == pb.ACTION_BLOCK
    assert response.matches[0].rule_id == "limit.max_rows"
    assert "11 rows, above max_rows 10 (policy.yaml:5)" in response.matches[0].reason
    assert judged(text, functions, relations, policy, estimated_rows=10).action == (
        pb.ACTION_REVIEW
    )
    update = "UPDATE t SET a = 1 WHERE b = 2"
    assert judged(update, [], relations, policy, estimated_rows=50).action == pb.ACTION_REVIEW
    assert judged(update, [], relations, policy, estimated_rows=101).action == pb.ACTION_BLOCK
    # A limit that cannot be checked fails closed.
    response = judged(update, [], relations, policy, estimate_error="relation does not exist")
    assert response.action == pb.ACTION_BLOCK
    assert "could not be estimated (relation does not exist)" in response.matches[0].reason


def test_limits_are_validated_with_line_numbers() -> None:
    with pytest.raises(ConfigError, match=r"policy.yaml:3: max_rows must be a whole number"):
        parse_policy("version: 1\nlimits:\n  - max_rows: lots\n")
    with pytest.raises(ConfigError, match=r"policy.yaml:3: this limits entry has no"):
        parse_policy("version: 1\nlimits:\n  - match: {rule: write}\n")
    with pytest.raises(ConfigError, match=r"unknown rule id or class 'write.updat'"):
        parse_policy("version: 1\nlimits:\n  - match: {rule: write.updat}\n    max_rows: 1\n")


def test_statements_that_change_the_catalog_say_so() -> None:
    assert judged("CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'").changes_catalog
    assert judged("DROP VIEW v").changes_catalog
    assert not judged("SELECT 1").changes_catalog
