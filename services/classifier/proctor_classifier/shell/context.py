"""What a program's judge is given besides its arguments: where it runs, what it reads on its
input, and how to judge a command or a text it runs in turn."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from proctor.rulecatalog import ALL_RULES, CommandKind
from proctor_classifier.shell.paths import Cwd
from proctor_classifier.shell.words import Word

#: (rule id, subject its reason names), as in statements.py; for a rule of another kind (psql's
#: SQL, kubectl's requests) the reason itself, worded by that kind's analyzer.
Hit = tuple[str, str]
#: A program's judge: its name as called, its arguments, the context.
Judge = Callable[[str, list[Word], "Context"], list[Hit]]

_SUBJECT_MAX = 160


@dataclass(frozen=True, slots=True)
class Feed:
    """What a command reads on its standard input, as far as the text tells: `text` when it
    is known (a heredoc, echo's words, base64 of a constant), `fetched` when it comes from the
    network, `decoded` when it is decoded at run time from something unknown, `paths` when it
    is find's output (the start paths)."""

    text: str | None = None
    fetched: bool = False
    decoded: bool = False
    paths: tuple[Word, ...] = ()
    what: str = "its input"


@dataclass(frozen=True, slots=True)
class Context:
    """`display` is the command as written, for reasons; `cwd` the working directories it may
    run in (paths.Cwd); `feed` its standard input (None: the session's own)."""

    display: str
    cwd: Cwd
    feed: Feed | None
    run: Callable[[list[Word], Context], list[Hit]]
    judge_text: Callable[[str, Context], list[Hit]]

    def but(self, **changes: object) -> Context:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def shown(text: str) -> str:
    """A command as a reason names it: one line, at most _SUBJECT_MAX characters."""
    text = " ".join(text.split())
    return text if len(text) <= _SUBJECT_MAX else text[: _SUBJECT_MAX - 1] + "…"


def line(words: Sequence[Word]) -> str:
    return shown(" ".join(w.text for w in words))


Option = tuple[str, Word | None]


def options(
    args: Sequence[Word],
    short_values: str = "",
    long_values: frozenset[str] | set[str] = frozenset(),
    *,
    stop_at_operand: bool = False,
) -> tuple[list[Option], list[Word]]:
    """Split GNU-style arguments into options (`-rf` is -r and -f; `-o FILE`, `-oFILE`,
    `--out FILE`, `--out=FILE` take a value when listed) and operands; `--` ends options.
    With `stop_at_operand`, the first operand and everything after it are operands (a
    wrapper's command)."""
    opts: list[Option] = []
    operands: list[Word] = []
    i = 0
    while i < len(args):
        w = args[i]
        t = w.text
        if t == "--" and w.literal:
            operands.extend(args[i + 1 :])
            break
        if t.startswith("--") and len(t) > 2 and not w.dynamic:
            key, eq, value = t.partition("=")
            if eq:
                opts.append((key, Word(value)))
            elif key in long_values and i + 1 < len(args):
                opts.append((key, args[i + 1]))
                i += 1
            else:
                opts.append((key, None))
        elif t.startswith("-") and len(t) > 1 and not w.dynamic:
            for j in range(1, len(t)):
                c = t[j]
                if c in short_values:
                    rest = t[j + 1 :]
                    if rest:
                        opts.append(("-" + c, Word(rest)))
                    elif i + 1 < len(args):
                        opts.append(("-" + c, args[i + 1]))
                        i += 1
                    else:
                        opts.append(("-" + c, None))
                    break
                opts.append(("-" + c, None))
        else:
            if stop_at_operand:
                operands.extend(args[i:])
                break
            operands.append(w)
        i += 1
    return opts, operands


def flags(opts: list[Option]) -> set[str]:
    return {key for key, _ in opts}


def value_of(opts: list[Option], *keys: str) -> Word | None:
    """The last value given for any of `keys`."""
    found: Word | None = None
    for key, value in opts:
        if key in keys and value is not None:
            found = value
    return found


def located(hits: list[Hit], where: str) -> list[Hit]:
    """Hits of commands that run elsewhere (`ssh db1 ...`, `kubectl exec`), saying where."""
    out: list[Hit] = []
    for rule_id, text in hits:
        if ALL_RULES[rule_id].kind is CommandKind.SHELL and rule_id != "shell.unparseable":
            out.append((rule_id, f"{text} ({where})"))
        else:
            out.append((rule_id, f"{where}: {text}"))
    return out
