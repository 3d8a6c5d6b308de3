"""The MCP tools' pure parts: which kubectl arguments the gateway refuses before running
kubectl, how a query's page and a Postgres refusal read to the agent, and how clients ask a
review to be patient (Postgres `options`, a kubeconfig's server path)."""

from __future__ import annotations

import pytest

from proctor_ingress.kube.server import resource_segment
from proctor_ingress.mcp.kubectl import refused_args
from proctor_ingress.mcp.query import Page
from proctor_ingress.mcp.render import page_result, pg_error
from proctor_ingress.mcp.sqlclient import Column, Statement
from proctor_ingress.outcomes import Kind, Outcome
from proctor_ingress.postgres.session import review_wait


@pytest.mark.parametrize(
    "args",
    [
        ["get", "pods"],
        ["-n", "shop", "get", "pods", "-o", "wide"],
        ["--namespace=shop", "logs", "deploy/checkout", "--tail", "100"],
        ["apply", "-f", "-"],
        ["exec", "web-0", "--", "tail", "-f", "/var/log/app.log"],  # after --: the container's
        ["delete", "namespace", "demo"],  # the Kubernetes path judges it, not this list
    ],
)
def test_bounded_kubectl_commands_run(args: list[str]) -> None:
    assert refused_args(args, "kind: ConfigMap") is None


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["krew", "install", "x"], "kubectl krew is not available"),
        (["-n", "get", "foo"], "kubectl foo is not available"),  # a plugin hiding behind -n
        (["--server", "https://elsewhere", "get", "pods"], "--server is set by Proctor"),
        (["get", "pods", "--kubeconfig=/etc/k"], "--kubeconfig is set by Proctor"),
        (["get", "pods", "--as", "admin"], "--as is set by Proctor"),
        (["-v", "9", "get", "pods"], "put -v after the subcommand"),
        (["apply", "-f", "/etc/passwd"], "would read a file on the gateway"),
        (["apply", "--filename=x.yaml"], "would read a file on the gateway"),
        (["get", "pods", "-o", "go-template-file=/etc/shadow"], "templates from files"),
        (["get", "pods", "--watch"], "streams without end"),
        (["logs", "web-0", "-f"], "streams without end"),
        (["exec", "-it", "web-0", "--", "sh"], "asks for a terminal"),
        (["cp", "web-0:/etc/passwd", "."], "kubectl cp is not available"),
        (["port-forward", "svc/db", "5432"], "not available"),
    ],
)
def test_kubectl_past_the_kubernetes_path_is_refused(args: list[str], why: str) -> None:
    said = refused_args(args, None)
    assert said is not None and why in said, said


def test_a_manifest_on_stdin_must_be_given() -> None:
    assert "stdin" in (refused_args(["apply", "-f", "-"], None) or "")


def test_a_page_is_a_compact_table_with_its_cursor() -> None:
    statement = Statement(columns=[Column("id", "int4"), Column("note", "text")])
    page = Page(statements=[statement], rows=[[["1", "a|b\nc"], ["2", None]]], cursor="cabc")
    result = page_result(page, "db", 2)
    text = result.content[0].text  # type: ignore[union-attr]
    lines = text.splitlines()
    assert lines[0] == "id (int4) | note (text)"
    assert lines[1] == "1 | a\\|b\\nc" and lines[2] == "2 | NULL"
    assert 'cursor "cabc"' in lines[-1] and "rows 1-2" in lines[-1]
    assert result.structured_content == {
        "resource": "db",
        "statements": [
            {"columns": [{"name": "id", "type": "int4"}, {"name": "note", "type": "text"}],
             "rows": [["1", "a|b\nc"], ["2", None]], "tag": ""}
        ],
        "cursor": "cabc",
    }  # fmt: skip
    assert not result.is_error


def test_refusals_read_as_the_gateway_words_them() -> None:
    pending = Outcome(Kind.PENDING, approval_id="0123456789ab", new=True)
    message, detail, hint = pending.words("statement")
    result = pg_error({"C": "42501", "M": message, "D": detail, "H": hint})
    assert result.is_error
    assert result.structured_content == {"status": "pending", "approval_id": "0123456789ab"}
    assert "approval_wait" in result.content[0].text  # type: ignore[union-attr]
    denied = Outcome(Kind.DENIED, approval_id="0123456789ab", approver="bob", note="not prod")
    message, detail, hint = denied.words("statement")
    result = pg_error({"C": "42501", "M": message, "H": hint})
    assert result.structured_content == {"status": "denied", "approval_id": "0123456789ab"}
    assert '"not prod"' in result.content[0].text  # type: ignore[union-attr]
    target = pg_error({"C": "42703", "M": 'column "nope" does not exist'})
    assert target.structured_content == {"status": "error"}
    assert target.content[0].text.startswith("ERROR 42703:")  # type: ignore[union-attr]
    # The target's own permission error is not the gateway's refusal.
    theirs = pg_error({"C": "42501", "M": "permission denied for table t"})
    assert theirs.structured_content == {"status": "error"}


def test_clients_ask_for_patience_with_their_own_means() -> None:
    assert review_wait("-c proctor.review_wait=45", 300) == 45
    assert review_wait("--proctor.review_wait=900", 300) == 300  # never past the timeout
    assert review_wait("-c search_path=app", 300) is None
    assert review_wait("-c proctor.review_wait=soon", 300) is None
    assert resource_segment("prod;review-wait=45", 300) == ("prod", 45)
    assert resource_segment("prod", 300) == ("prod", None)
    assert resource_segment("prod;other=1", 300) == ("prod", None)
