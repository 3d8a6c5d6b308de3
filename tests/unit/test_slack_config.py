"""Slack settings and the mapping of Slack users to Proctor identities."""

from __future__ import annotations

from typing import Any

import pytest

from proctor.errors import ConfigError
from proctor.gateway import parse_gateway_config
from proctor.settings import Settings
from proctor_approval.slack import SlackConfig

DIGEST = "0" * 64


def config(**identities: dict[str, Any]) -> Any:
    return parse_gateway_config(
        {"identities": {n: {"token_sha256": DIGEST, **spec} for n, spec in identities.items()}}
    )


def test_slack_users_map_to_identities() -> None:
    parsed = config(bob={"groups": ["sre"], "slack_user": "U0BOB"}, alice={"groups": []},
                    grid={"slack_user": "W012AB3CD"})  # fmt: skip
    assert parsed.identities["bob"].slack_user == "U0BOB"
    assert parsed.identities["alice"].slack_user is None
    found = parsed.by_slack_user("W012AB3CD")
    assert found is not None and found.name == "grid"
    assert parsed.by_slack_user("U0NOBODY") is None


@pytest.mark.parametrize("value", ["bob", "u0bob", "C0CHANNEL", "U", 42, "<@U0BOB>"])
def test_a_slack_user_must_be_a_member_id(value: object) -> None:
    with pytest.raises(ConfigError, match="slack_user must be a Slack member id"):
        config(bob={"slack_user": value})


def test_a_slack_user_belongs_to_one_identity() -> None:
    with pytest.raises(ConfigError, match="already bob's"):
        config(bob={"slack_user": "U0BOB"}, mallory={"slack_user": "U0BOB"})


def test_slack_is_off_without_a_bot_token() -> None:
    assert SlackConfig.from_settings(Settings(slack_channel="C0X")) is None
    assert SlackConfig.from_settings(Settings(slack_bot_token="")) is None


def test_http_mode_needs_a_channel_and_the_signing_secret() -> None:
    with pytest.raises(ConfigError, match="PROCTOR_SLACK_CHANNEL"):
        SlackConfig.from_settings(Settings(slack_bot_token="xoxb-fake-test-token"))
    with pytest.raises(ConfigError, match="PROCTOR_SLACK_SIGNING_SECRET"):
        SlackConfig.from_settings(
            Settings(slack_bot_token="xoxb-fake-test-token", slack_channel="C0X")
        )
    slack = SlackConfig.from_settings(Settings(
        slack_bot_token="xoxb-fake-test-token", slack_signing_secret="fake-signing-secret",
        slack_channel="C0X", slack_api_url="http://127.0.0.1:9/api",
    ))  # fmt: skip
    assert slack is not None and not slack.socket_mode
    assert slack.api_url == "http://127.0.0.1:9/api/"
    assert slack.signing_secret == "fake-signing-secret"


def test_socket_mode_needs_no_signing_secret() -> None:
    slack = SlackConfig.from_settings(Settings(
        slack_bot_token="xoxb-fake-test-token", slack_app_token="xapp-fake-test-token",
        slack_channel="C0X",
    ))  # fmt: skip
    assert slack is not None and slack.socket_mode
    assert slack.api_url == "https://slack.com/api/"


def test_slack_secrets_come_from_the_environment_and_never_show(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROCTOR_SLACK_BOT_TOKEN", "xoxb-fake-test-token")
    monkeypatch.setenv("PROCTOR_SLACK_SIGNING_SECRET", "fake-signing-secret")
    monkeypatch.setenv("PROCTOR_SLACK_CHANNEL", "C0APPROVALS")
    settings = Settings()
    assert "fake-signing-secret" not in repr(settings) and "xoxb" not in repr(settings)
    slack = SlackConfig.from_settings(settings)
    assert slack is not None and slack.bot_token == "xoxb-fake-test-token"
