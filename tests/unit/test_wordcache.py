"""Word lists kept in the user's cache directory (proctor.wordcache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from proctor import wordcache


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path


def test_built_once_then_read(cache_home: Path) -> None:
    calls = []

    def build() -> list[str]:
        calls.append(1)
        return ["Ada", "Grace", "Ada"]

    assert wordcache.remembered("names.txt", build) == {"Ada", "Grace"}
    assert wordcache.remembered("names.txt", build) == {"Ada", "Grace"}
    assert len(calls) == 1
    assert wordcache.directory().is_relative_to(cache_home)


def test_a_file_that_does_not_read_back_whole_is_rebuilt(cache_home: Path) -> None:
    wordcache.remembered("names.txt", lambda: ["Ada", "Grace"])
    path = wordcache.directory() / "names.txt"
    path.write_text(path.read_text().rsplit("\n", 1)[0])  # the last word lost
    assert wordcache.remembered("names.txt", lambda: ["Ada", "Grace", "Linus"]) == {
        "Ada", "Grace", "Linus"
    }  # fmt: skip


def test_an_unwritable_directory_builds_every_time(cache_home: Path) -> None:
    cache_home.joinpath("proctor").write_text("a file where the directory would be")
    calls = []
    for _ in range(2):
        assert wordcache.remembered("names.txt", lambda: calls.append(1) or ["Ada"]) == {"Ada"}
    assert len(calls) == 2


def test_the_key_follows_the_source_and_versions(tmp_path: Path) -> None:
    source = tmp_path / "lists.py"
    source.write_text("A = 1\n")
    first = wordcache.key("given", source, ("faker",))
    assert first == wordcache.key("given", source, ("faker",))
    assert first != wordcache.key("given", source, ("faker", "pyspellchecker"))
    source.write_text("A = 2\n")
    assert first != wordcache.key("given", source, ("faker",))


def test_a_new_key_removes_the_files_of_earlier_ones(cache_home: Path) -> None:
    wordcache.remembered("given-aaaa.txt", lambda: ["Ada"])
    wordcache.remembered("given-extra-bbbb.txt", lambda: ["Linus"])  # another list's name
    wordcache.remembered("given-cccc.txt", lambda: ["Grace"])
    names = sorted(p.name for p in wordcache.directory().iterdir())
    assert names == ["given-cccc.txt", "given-extra-bbbb.txt"]
