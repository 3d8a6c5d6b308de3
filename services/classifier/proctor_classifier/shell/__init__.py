"""Shell commands judged by parsing them with tree-sitter-bash: `analyze_shell(detail)` (pure).

Every simple command in the text is judged where it runs (lists, pipelines, subshells,
substitutions, function bodies, compound commands), after quote removal (`r''m` is rm), through
what wraps it (sudo, env, timeout, xargs, find -exec, `bash -c`, eval, ssh host cmd), with SQL
for psql and Kubernetes requests for kubectl judged by their own rules. What cannot be judged
fails closed: text tree-sitter cannot parse blocks, programs without a rule are reviewed.

words.py    parsing, quote removal          walk.py      the tree, pipelines, redirects, cd
trust.py    where the tree is not trusted   feeds.py     what a command reads on its input
values.py   literal values of variables     paths.py     which paths are roots
context.py  what a program's judge is given programs.py  which judge each program gets
files.py    rm, chmod, find, dd, sed, ...   system.py    services, power, signals, git, curl
reads.py    reads unless an option writes   wrappers.py  sudo, env, xargs, shells, interpreters
carried.py  psql (SQL rules), kubectl (Kubernetes rules)
"""

from __future__ import annotations

from dataclasses import dataclass

from proctor.events.v1 import events_pb2 as pb
from proctor.rulecatalog import ALL_RULES, CommandKind, RuleClass
from proctor_classifier.rules import Match
from proctor_classifier.shell.context import Hit, line, shown
from proctor_classifier.shell.programs import judge_argv
from proctor_classifier.shell.walk import MAX_DEPTH, argv_context, judge_text
from proctor_classifier.shell.words import literal_word

__all__ = ["MAX_DEPTH", "ShellAnalysis", "analyze_shell", "shell_match"]


@dataclass(frozen=True, slots=True)
class ShellAnalysis:
    """The matches of one shell command; `cache_key` is always "" (a verdict holds only for
    its exact text, which the proxy's own cache keys on)."""

    matches: list[Match]
    cache_key: str = ""


def analyze_shell(detail: pb.ShellDetail) -> ShellAnalysis:
    """Every rule the command matches (reads only when nothing else matched)."""
    hits: list[Hit] = []
    if detail.interactive:
        hits.append(("shell.interactive", "an interactive shell"))
    if detail.argv:
        words = [literal_word(a) for a in detail.argv]
        hits += judge_argv(words, argv_context(line(words)))
    elif detail.text.strip():
        hits += judge_text(detail.text)
    if not hits:  # blank, a comment, `(( ))`, an assignment: nothing runs
        hits.append(("shell.read", shown(detail.text) or "an empty command"))
    return ShellAnalysis(_matches(hits))


def shell_match(rule_id: str, subject: str) -> Match:
    """A match of `rule_id`: a shell rule's reason worded for `subject`; a rule of another
    kind (psql's SQL, kubectl's requests) already carries its reason."""
    rule = ALL_RULES[rule_id]
    reason = rule.reason_for(subject) if rule.kind is CommandKind.SHELL else subject
    return Match(rule, reason, 0)


def _matches(hits: list[Hit]) -> list[Match]:
    found: dict[tuple[str, str], Match] = {}
    for rule_id, text in hits:
        m = shell_match(rule_id, text)
        found.setdefault((rule_id, m.reason), m)
    matches = list(found.values())
    if any(m.rule.rule_class is not RuleClass.READ for m in matches):
        # A read only says "nothing else happens"; drop reads when something else does.
        matches = [m for m in matches if m.rule.rule_class is not RuleClass.READ]
    return matches
