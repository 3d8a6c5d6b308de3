"""`kind: mcp` resources in the gateway configuration: an upstream MCP server by URL or by
command, the gateway's credentials for it from the environment, and the errors that name
their line."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor.errors import ConfigError
from proctor.gateway import GatewayConfig, McpResource, load_gateway_config


def _load(tmp_path: Path, text: str) -> GatewayConfig:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return load_gateway_config(path)


def test_an_upstream_by_url_and_one_by_command(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        """
resources:
  github:
    kind: mcp
    url: https://mcp.example.com/mcp
    headers: {X-Team: platform}
    headers_from_env: {Authorization: GITHUB_MCP_AUTH}
    description: GitHub issues
  notes:
    kind: mcp
    command: [python, -m, proctor.mcptesting]
    env: {NOTES_MODE: test}
    env_from_env: {NOTES_TOKEN: NOTES_TOKEN_FOR_GATEWAY}
    cwd: /srv/notes
    timeout: 5
""",
    )
    github, notes = config.resources["github"], config.resources["notes"]
    assert isinstance(github, McpResource) and isinstance(notes, McpResource)
    assert list(config.of_kind("mcp")) == ["github", "notes"]
    assert (github.url, github.command, github.timeout) == ("https://mcp.example.com/mcp", None, 60)
    environ = {"GITHUB_MCP_AUTH": "Bearer prx_test_github_not_a_secret"}
    assert github.http_headers(environ) == {
        "X-Team": "platform",
        "Authorization": "Bearer prx_test_github_not_a_secret",
    }
    assert notes.command == ("python", "-m", "proctor.mcptesting")
    assert (notes.cwd, notes.timeout) == (Path("/srv/notes"), 5)
    assert notes.process_env({"NOTES_TOKEN_FOR_GATEWAY": "prx_test_notes_not_a_secret"}) == {
        "NOTES_MODE": "test",
        "NOTES_TOKEN": "prx_test_notes_not_a_secret",
    }


def test_a_credential_missing_from_the_environment_names_its_variable(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "resources:\n  gh:\n    kind: mcp\n    url: http://127.0.0.1:1/mcp\n"
        "    headers_from_env: {Authorization: GITHUB_MCP_AUTH}\n",
    )
    resource = config.resources["gh"]
    assert isinstance(resource, McpResource)
    with pytest.raises(ConfigError, match=r"resource gh: Authorization .* GITHUB_MCP_AUTH, which"):
        resource.http_headers({})


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("gh", "    url: ftp://x\n", r"gateway.yaml:5: resource gh: url: must be the MCP server's"),
        ("gh", "    description: x\n", r"gateway.yaml:3: resource gh: needs exactly one of url"),
        (
            "gh",
            "    url: https://x/mcp\n    command: [srv]\n",
            r"gateway.yaml:3: resource gh: needs exactly one of url",
        ),
        ("gh", "    command: []\n", r"gateway.yaml:5: resource gh: command: must be the server's"),
        (
            "gh",
            "    command: srv --stdio\n",
            r"gateway.yaml:5: resource gh: command: Input should be a valid tuple",
        ),
        (
            "gh",
            "    command: [srv]\n    headers: {Authorization: x}\n",
            r"gateway.yaml:3: resource gh: headers and headers_from_env are for a url",
        ),
        (
            "gh",
            "    url: https://x/mcp\n    cwd: /srv\n",
            r"gateway.yaml:3: resource gh: env, env_from_env and cwd are for a command",
        ),
        (
            "gh",
            "    url: https://x/mcp\n    headers_from_env: {Authorization: 'Bearer abc'}\n",
            r"gateway.yaml:6: resource gh: headers_from_env: Authorization: 'Bearer abc' is not "
            r"an environment variable's name",
        ),
        (
            "gh",
            "    url: https://x/mcp\n    headers: {Authorization: 42}\n",
            r"gateway.yaml:6: resource gh: headers.Authorization: Input should be a valid string",
        ),
        (
            "gh",
            "    url: https://x/mcp\n    timeout: 0\n",
            r"gateway.yaml:6: resource gh: timeout: Input should be greater than 0",
        ),
        (
            "gh",
            "    url: https://x/mcp\n    token: x\n",
            r"gateway.yaml:6: resource gh: token: Extra inputs are not permitted",
        ),
        (
            "git.hub",
            "    url: https://x/mcp\n",
            r"gateway.yaml:3: resource git.hub: an MCP resource's name prefixes its tools' names",
        ),
    ],
)
def test_a_bad_mcp_resource_names_its_line(
    tmp_path: Path, name: str, body: str, expected: str
) -> None:
    text = f"identities: {{}}\nresources:\n  {name}:\n    kind: mcp\n" + body
    with pytest.raises(ConfigError, match=expected):
        _load(tmp_path, text)


def test_the_unknown_kind_error_lists_mcp(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="kind must be one of postgres, kubernetes, ssh, mcp"):
        _load(tmp_path, "resources:\n  r:\n    kind: mongodb\n")
