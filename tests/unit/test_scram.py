"""SCRAM-SHA-256 towards agents: the server side against scramp's client, and verifiers."""

from __future__ import annotations

import pytest
from scramp import ScramClient

from proctor.errors import ConfigError
from proctor.scram import ScramExchange, ScramVerifier

TOKEN = "prx_test_agent_token_not_a_secret"
VERIFIER = ScramVerifier.of(TOKEN)


def _run(password: str, tamper: str = "") -> tuple[ScramClient, str | None]:
    client = ScramClient(["SCRAM-SHA-256"], "ignored", password)
    exchange = ScramExchange(VERIFIER)
    client.set_server_first(exchange.server_first(client.get_client_first()))
    final = client.get_client_final()
    if tamper == "nonce":
        final = final.replace("r=", "r=x", 1)
    return client, exchange.server_final(final)


def test_the_right_token_passes_and_the_client_verifies_the_server() -> None:
    client, server_final = _run(TOKEN)
    assert server_final is not None
    client.set_server_final(server_final)  # raises if the server's signature is wrong


def test_a_wrong_token_or_a_changed_nonce_fails() -> None:
    assert _run("prx_wrong_not_a_secret")[1] is None
    assert _run(TOKEN, tamper="nonce")[1] is None


def test_libpq_style_empty_user_and_the_y_flag_are_accepted() -> None:
    first = ScramExchange(VERIFIER).server_first("y,,n=,r=abcdefghijklmnop")
    assert first.startswith("r=abcdefghijklmnop")


def test_channel_binding_that_was_not_offered_is_refused() -> None:
    with pytest.raises(ValueError, match="channel binding"):
        ScramExchange(VERIFIER).server_first("p=tls-server-end-point,,n=,r=abc")


def test_a_verifier_round_trips_in_postgres_form() -> None:
    text = str(VERIFIER)
    assert text.startswith("SCRAM-SHA-256$4096:")
    assert ScramVerifier.parse(text) == VERIFIER
    with pytest.raises(ConfigError, match="not a SCRAM-SHA-256 verifier"):
        ScramVerifier.parse("md5abc")
