"""Settings precedence: arguments, PROCTOR_* env, the TOML file, a live stack.json, defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proctor.errors import ConfigError
from proctor.settings import Settings, load_settings

STACK_NATS = "nats://127.0.0.1:14222"
STACK_DB = "postgresql://proctor@127.0.0.1:15432/proctor"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The developer's own PROCTOR_* variables, or a stack they are running in ./.proctor,
    # must not decide these tests.
    for name in list(os.environ):
        if name.upper().startswith("PROCTOR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "proctor.toml"
    path.write_text(text)
    monkeypatch.setenv("PROCTOR_CONFIG", str(path))
    return path


def write_stack(run_dir: Path, pid: object) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "nats_url": STACK_NATS, "database_url": STACK_DB}
    (run_dir / "stack.json").write_text(json.dumps(record))


@pytest.fixture(scope="module")
def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_defaults() -> None:
    settings = load_settings()

    assert settings.nats_url == "nats://127.0.0.1:4222"
    assert settings.database_url is None
    assert settings.stream_name == "PROCTOR_EVENTS"
    assert settings.stream_replicas == 1
    assert settings.audit_batch_size == 500
    assert settings.audit_ack_wait == 30.0
    assert settings.log_level == "INFO"
    assert settings.run_dir == Path(".proctor")


def test_toml_overrides_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, 'nats_url = "nats://toml:4222"\naudit_batch_size = 50\n')

    settings = load_settings()

    assert settings.nats_url == "nats://toml:4222"
    assert settings.audit_batch_size == 50
    assert settings.stream_name == "PROCTOR_EVENTS"


def test_env_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(tmp_path, monkeypatch, 'nats_url = "nats://toml:4222"\naudit_batch_size = 50\n')
    monkeypatch.setenv("PROCTOR_NATS_URL", "nats://env:4222")

    settings = load_settings()

    assert settings.nats_url == "nats://env:4222"
    assert settings.audit_batch_size == 50


def test_arguments_override_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCTOR_NATS_URL", "nats://env:4222")
    assert load_settings(nats_url="nats://arg:4222").nats_url == "nats://arg:4222"


@pytest.mark.parametrize(
    ("name", "value", "field"),
    [
        ("PROCTOR_AUDIT_BATCH_SIZE", "0", "audit_batch_size"),
        ("PROCTOR_STREAM_REPLICAS", "six", "stream_replicas"),
        ("PROCTOR_AUDIT_ACK_WAIT", "-1", "audit_ack_wait"),
    ],
)
def test_invalid_env_value_names_the_field(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, field: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=rf"invalid settings: {field}: "):
        load_settings()


def test_invalid_toml_value_names_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, monkeypatch, "audit_replicas = 17\n")
    with pytest.raises(ConfigError, match="audit_replicas"):
        load_settings()


def test_toml_syntax_error_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path, monkeypatch, "nats_url = [\n")
    with pytest.raises(ConfigError, match="cannot read") as info:
        load_settings()
    assert str(path) in str(info.value)


def test_missing_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nowhere.toml"
    monkeypatch.setenv("PROCTOR_CONFIG", str(missing))
    with pytest.raises(ConfigError, match="PROCTOR_CONFIG") as info:
        load_settings()
    assert str(missing) in str(info.value)


def test_config_naming_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCTOR_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="not a readable file"):
        load_settings()


def test_stack_of_a_live_process_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_stack(tmp_path / "run", os.getpid())
    monkeypatch.setenv("PROCTOR_RUN_DIR", str(tmp_path / "run"))

    settings = load_settings()

    assert (settings.nats_url, settings.database_url) == (STACK_NATS, STACK_DB)


def test_stack_in_the_default_run_dir_is_used(tmp_path: Path) -> None:
    write_stack(tmp_path / ".proctor", os.getpid())
    assert load_settings().nats_url == STACK_NATS


@pytest.mark.parametrize("pid", ["dead", None, 0, -1], ids=["dead", "missing", "zero", "negative"])
def test_stack_without_a_live_process_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dead_pid: int, pid: object
) -> None:
    write_stack(tmp_path / "run", dead_pid if pid == "dead" else pid)
    monkeypatch.setenv("PROCTOR_RUN_DIR", str(tmp_path / "run"))

    settings = load_settings()

    assert settings.nats_url == Settings.model_fields["nats_url"].default
    assert settings.database_url is None


def test_unreadable_stack_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "stack.json").write_text('{"pid": ')
    monkeypatch.setenv("PROCTOR_RUN_DIR", str(tmp_path / "run"))
    assert load_settings().database_url is None


def test_toml_and_env_override_a_live_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_stack(tmp_path / ".proctor", os.getpid())
    write_config(tmp_path, monkeypatch, 'nats_url = "nats://toml:4222"\n')
    monkeypatch.setenv("PROCTOR_DATABASE_URL", "postgresql://env/db")

    settings = load_settings()

    assert (settings.nats_url, settings.database_url) == ("nats://toml:4222", "postgresql://env/db")


def test_up_starts_the_configured_replicas(tmp_path: Path) -> None:
    from proctor.cli.up import services

    names = [s.name for s in services(Settings(masker_replicas=2, audit_replicas=3), tmp_path)]
    assert names.count("classifier") == 1 and "masker" not in names
    assert [n for n in names if n.startswith("masker")] == ["masker-1", "masker-2"]
    assert [n for n in names if n.startswith("audit")] == ["audit-1", "audit-2", "audit-3"]
    one = [s.name for s in services(Settings(), tmp_path)]
    assert "masker" in one and "audit" in one


def _stack_with_credentials(run_dir: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    credentials = run_dir / "secrets" / "nats-credentials.json"
    credentials.parent.mkdir()
    credentials.write_text(json.dumps({"admin": "admin-password-not-a-secret"}))
    record = {"pid": os.getpid(), "nats_url": STACK_NATS, "database_url": STACK_DB,
              "nats_credentials": str(credentials), "nats_user": "admin"}  # fmt: skip
    (run_dir / "stack.json").write_text(json.dumps(record))


def test_cli_commands_take_the_stacks_admin_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stack_with_credentials(tmp_path / "run")
    monkeypatch.setenv("PROCTOR_RUN_DIR", str(tmp_path / "run"))
    assert load_settings().nats_auth() == ("admin", "admin-password-not-a-secret")


def test_credentials_of_its_own_win_over_the_stacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stack_with_credentials(tmp_path / "run")
    monkeypatch.setenv("PROCTOR_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("PROCTOR_NATS_USER", "siem")
    secret = tmp_path / "siem-password"
    secret.write_text("siem-password-not-a-secret\n")
    monkeypatch.setenv("PROCTOR_NATS_PASSWORD_FILE", str(secret))
    assert load_settings().nats_auth() == ("siem", "siem-password-not-a-secret")
