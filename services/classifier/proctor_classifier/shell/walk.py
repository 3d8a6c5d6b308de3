"""Every simple command in a bash text, judged where it runs: in lists, pipelines, subshells,
command and process substitutions, function bodies, `if`/`for`/`while`/`case`, `[[ ]]` and
`$(( ))`; with what it reads on its input (a heredoc, the stage before it in a pipeline) and the
working directory `cd` left it in. Redirects are judged where they write.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from proctor_classifier.shell.context import Context, Feed, Hit, located, shown
from proctor_classifier.shell.feeds import decoded, heredoc, printed
from proctor_classifier.shell.files import find_parts, found_paths
from proctor_classifier.shell.paths import LOGIN, Cwd, moved, union
from proctor_classifier.shell.programs import assignment_hits, judge_argv
from proctor_classifier.shell.trust import RESERVED, misread_heredoc, problem, uncovered
from proctor_classifier.shell.values import literal_values, variants
from proctor_classifier.shell.words import (
    DECODERS,
    FETCHERS,
    ParserHazard,
    Word,
    fetches,
    parse,
    program_name,
    source,
    word,
)

#: Shells inside shells (bash -c, eval, ssh host cmd) followed before giving up (block).
MAX_DEPTH = 8
REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
_OWN_SUBSHELL = frozenset({"subshell", "command_substitution", "process_substitution"})
_WRITES = frozenset({">", ">>", ">|", "&>", "&>>", "<>", ">&", "&>|"})
_HARMLESS = frozenset({
    "/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/fd/1", "/dev/fd/2", "-",
})  # fmt: skip
_DISKS = re.compile(
    r"^/dev/(sd|hd|vd|xvd|nvme|mmcblk|md|dm-|loop|nbd|sr|mapper/|disk/|mem$|kmem$|port$)"
)


def judge_text(text: str, depth: int = 0, cwd: Cwd = LOGIN) -> list[Hit]:
    """The hits of every command in a bash text, run in any of the directories `cwd`."""
    if depth > MAX_DEPTH:
        return [("shell.unparseable", "it nests shells too deeply to check")]
    if "\x00" in text:
        return [("shell.unparseable", "it holds a NUL character")]
    try:
        root = parse(text)
    except ParserHazard as exc:
        return [("shell.unparseable", str(exc))]
    if root.has_error:
        return [("shell.unparseable", problem(root))]
    data = text.encode()
    skipped = uncovered(root, data)
    if skipped is not None:
        return [("shell.unparseable", f"the parser skipped text at character {skipped + 1}")]
    misread = misread_heredoc(root, data)
    if misread is not None:
        return [("shell.unparseable", f"the heredoc at character {misread + 1} is misread")]
    walker = _Walker(depth, literal_values(root), _functions(root))
    try:
        walker.visit(root, cwd, None)
    except RecursionError:
        return [("shell.unparseable", "it nests too deeply to check")]
    return walker.hits


class _Walker:
    def __init__(
        self,
        depth: int,
        values: dict[str, list[str]] | None = None,
        functions: dict[str, int] | None = None,
    ) -> None:
        self.depth = depth
        self.values = values or {}
        self.functions = functions or {}
        self.hits: list[Hit] = []
        # By command node id: words and input that tree-sitter hung on an enclosing redirect.
        self.extra: dict[int, list[Word]] = {}
        self.feeds: dict[int, Feed] = {}
        self.shown: dict[int, str] = {}

    # --- structure -------------------------------------------------------------------------

    def visit(self, node: Node, cwd: Cwd, feed: Feed | None) -> Cwd:
        """Judge what runs in `node`; the working directory after it."""
        kind = node.type
        if kind == "command":
            return self.command(node, cwd, feed)
        if kind == "redirected_statement":
            return self.redirected(node, cwd, feed)
        if kind == "pipeline":
            self.pipeline([c for c in node.named_children if c.type != "comment"], cwd, feed)
            return cwd
        if kind in REDIRECTS:
            self.hits += redirect_hits(node)
            self.inside(node, cwd)
            return cwd
        if kind == "function_definition":
            self.hits += _fork_bomb(node)
            self.inside(node, cwd)
            return cwd
        if kind == "variable_assignment":
            self.assignment(node, cwd)
            return cwd
        if kind == "comment":
            return cwd
        if kind == "list":
            return self.sequence(node, cwd, feed)
        if kind == "if_statement":
            return self.branches(node, cwd, feed)
        inner = cwd
        for child in node.children:
            # the next statement runs whether a `cd` in this one succeeded or not
            inner = union(self.visit(child, inner, feed), inner)
        return cwd if kind in _OWN_SUBSHELL else inner

    def branches(self, node: Node, cwd: Cwd, feed: Feed | None) -> Cwd:
        """`if COND; then A; else B; fi`: A runs where COND left it, B where it may have."""
        inner = last = cwd
        failed: Cwd | None = None  # where the shell may be when COND failed
        for child in node.children:
            if child.type == "then" and failed is None:
                failed, inner = inner, last
            elif child.type in {"elif_clause", "else_clause"} and failed is not None:
                inner = union(inner, self.visit(child, failed, feed))
            elif child.is_named:
                last = self.visit(child, inner, feed)
                inner = union(last, inner)
        return union(inner, failed or ())

    def sequence(self, node: Node, cwd: Cwd, feed: Feed | None) -> Cwd:
        """`a && b` runs b where a left it; `a || b` runs b where a may have left it."""
        before = after = cwd
        operator = "&&"
        for child in node.children:
            if not child.is_named:
                operator = child.type
                continue
            start = after if operator == "&&" else union(after, before)
            before, after = start, self.visit(child, start, feed)
        return after

    def inside(self, node: Node, cwd: Cwd) -> None:
        """Commands nested anywhere below `node` (substitutions in words, a function body)."""
        for child in node.children:
            self.visit(child, cwd, None)

    def pipeline(self, stages: list[Node], cwd: Cwd, feed: Feed | None) -> None:
        for stage in stages:
            self.visit(stage, cwd, feed)
            feed = self.fold(stage, feed)

    def redirected(self, node: Node, cwd: Cwd, feed: Feed | None) -> Cwd:
        """A statement with redirects. An input redirect (heredoc, here-string, `<`) feeds the
        last command of a pipeline or list; words tree-sitter hangs on a redirect (`rm >
        /dev/null -rf /`, `rm <<EOF -rf /`) are that command's arguments, as bash reads them."""
        body = node.child_by_field_name("body")
        redirects = [c for c in node.children if c.type in REDIRECTS]
        piped: list[Node] = []
        for r in redirects:
            self.hits += redirect_hits(r)
            for child in r.children:
                # tree-sitter puts `cat <<EOF | sh` and `cat <<EOF && x` inside the heredoc
                if child.type == "pipeline" and child.children[0].type in {"|", "|&"}:
                    piped += [c for c in child.named_children if c.type != "comment"]
                else:
                    self.visit(child, cwd, None)
        if body is None:
            return cwd
        tail = _tail_command(body)
        extra = [word(w) for r in redirects for w in _hung_words(r)]
        first = min((r.start_byte for r in redirects), default=body.end_byte)
        between = (node.text or b"")[body.end_byte - node.start_byte : first - node.start_byte]
        if between.strip() == b"-":
            extra.insert(0, Word("-"))  # see trust._DASH_BEFORE_HEREDOC
        if extra:
            if tail is None:
                self.hits.append(
                    (
                        "shell.unparseable",
                        f"words after a redirect of a compound command ({shown(source(node))})",
                    )
                )
            else:
                self.extra[tail.id] = self.extra.get(tail.id, []) + extra
                self.shown[tail.id] = shown(source(node))
        given = self.feed_of(redirects, None)
        if given is not None:
            if tail is not None:
                self.feeds[tail.id] = given
            else:
                feed = given
        if piped:
            self.pipeline([body, *piped], cwd, feed)
            return cwd
        return self.visit(body, cwd, feed)

    def assignment(self, node: Node, cwd: Cwd) -> None:
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        text = word(value) if value is not None else Word("")
        self.hits += assignment_hits(source(name) if name else "", text, self.context(node, cwd))
        self.inside(node, cwd)

    # --- one simple command ----------------------------------------------------------------

    def command(self, node: Node, cwd: Cwd, feed: Feed | None) -> Cwd:
        name = node.child_by_field_name("name")
        redirects = [c for c in node.children if c.type in REDIRECTS]
        feed = self.feed_of(redirects, self.feeds.get(node.id, feed))
        for child in node.children:
            if child.type == "variable_assignment":
                self.assignment(child, cwd)
            elif child.type in REDIRECTS:
                self.hits += redirect_hits(child)
                self.inside(child, cwd)
            else:
                self.inside(child, cwd)
        if name is None:
            return cwd
        if source(name) in RESERVED:
            # bash never runs an unquoted reserved word: tree-sitter misread the structure
            # (it does for `! for ...`, `! { ...; }`, `! if ...`).
            where = f"at character {name.start_byte + 1}"
            self.hits.append(("shell.unparseable", f"`{source(name)}` read as a command {where}"))
            return cwd
        words = [word(name)] + [word(a) for a in node.children_by_field_name("argument")]
        words += self.extra.get(node.id, [])
        if words[0].literal and self.functions.get(words[0].text, node.end_byte) < node.start_byte:
            return cwd  # a function of this text: its body is judged where it is defined
        self.hits += judge_argv(words, self.context(node, cwd, feed))
        if any(w.dynamic for w in words):
            self.hits += self.with_values(node, cwd)
        return _cd(words, cwd)

    def with_values(self, node: Node, cwd: Cwd) -> list[Hit]:
        """The command judged again with the literal values the text gives its variables; it
        adds to the verdict (see values.py), so a variant that does not parse adds nothing."""
        hits: list[Hit] = []
        for text, given in variants(node, self.values):
            found = judge_text(text, self.depth + 1, cwd)
            kept = [h for h in found if h[0] not in {"shell.unparseable", "shell.read"}]
            hits += located(kept, f"with {given}")
        return hits

    def context(self, node: Node, cwd: Cwd, feed: Feed | None = None) -> Context:
        display = self.shown.get(node.id) or shown(source(node))
        return Context(display, cwd, feed, judge_argv, self.nested)

    def nested(self, text: str, ctx: Context) -> list[Hit]:
        return judge_text(text, self.depth + 1, ctx.cwd)

    # --- standard input --------------------------------------------------------------------

    def feed_of(self, redirects: list[Node], feed: Feed | None) -> Feed | None:
        """What a command reads: its last input redirect, else what it was given."""
        for r in redirects:
            if r.type == "heredoc_redirect":
                feed = heredoc(r)
            elif r.type == "herestring_redirect":
                given = [c for c in r.named_children if c.type not in REDIRECTS]
                w = word(given[-1]) if given else Word("")
                feed = Feed(
                    text=w.text + "\n" if w.literal else None,
                    fetched=fetches(r),
                    what="a here-string",
                )
            elif r.type == "file_redirect" and _operator(r) == "<":
                dest = r.child_by_field_name("destination")
                feed = Feed(fetched=dest is not None and fetches(dest), what="a file")
        return feed

    def fold(self, stage: Node, feed: Feed | None) -> Feed:
        """What a pipeline stage writes to the next one, as far as it can be known."""
        if stage.type == "redirected_statement":
            body = stage.child_by_field_name("body")
            if body is not None and body.type == "command":
                return self.fold(body, feed)  # its redirects were recorded when visited
        fetched = (feed is not None and feed.fetched) or fetches(stage)
        hidden = feed is not None and feed.decoded
        if stage.type != "command" or stage.child_by_field_name("name") is None:
            return Feed(fetched=fetched, decoded=hidden, what="the output of a command")
        redirects = [c for c in stage.children if c.type in REDIRECTS]
        feed = self.feed_of(redirects, self.feeds.get(stage.id, feed))
        words = [word(stage.child_by_field_name("name"))]  # type: ignore[arg-type]
        words += [word(a) for a in stage.children_by_field_name("argument")]
        words += self.extra.get(stage.id, [])
        name = program_name(words[0].text)
        what = f"the output of {name}"
        known = feed.text if feed is not None else None
        if name in {"echo", "printf"}:
            return Feed(text=printed(name, words[1:]), fetched=fetched, what=what)
        if name == "cat" and all(w.text == "-" for w in words[1:]):
            return Feed(text=known, fetched=fetched, decoded=hidden, what=what)
        if name in DECODERS:
            return Feed(text=decoded(name, words[1:], known), fetched=fetched, decoded=True,
                        what=what)  # fmt: skip
        if name == "find":
            starts, _, narrowed = find_parts(words[1:])
            return Feed(fetched=fetched, paths=tuple(found_paths(starts, narrowed)), what=what)
        return Feed(fetched=fetched or name in FETCHERS, decoded=hidden, what=what)


def _tail_command(node: Node) -> Node | None:
    """The simple command a redirect after `node` belongs to: the last of a pipeline or list."""
    while node.type in {"pipeline", "list", "redirected_statement"}:
        if node.type == "redirected_statement":
            body = node.child_by_field_name("body")
            if body is None:
                return None
            node = body
            continue
        named = [c for c in node.named_children if c.type != "comment"]
        if not named:
            return None
        node = named[-1]
    return node if node.type == "command" else None


def _hung_words(redirect: Node) -> list[Node]:
    """Words tree-sitter hangs on a redirect that bash gives the command: a file redirect's
    destinations after the first, a heredoc's arguments."""
    if redirect.type == "file_redirect":
        return redirect.children_by_field_name("destination")[1:]
    if redirect.type == "heredoc_redirect":
        return redirect.children_by_field_name("argument")
    return []


def _operator(redirect: Node) -> str:
    for child in redirect.children:
        if not child.is_named:
            return child.type
    return ""


def redirect_hits(redirect: Node) -> list[Hit]:
    """A redirect that writes a file, a disk or the sysrq trigger."""
    if redirect.type != "file_redirect":
        return []
    op = _operator(redirect)
    dest_node = redirect.child_by_field_name("destination")
    if op not in _WRITES or dest_node is None:
        return []
    dest = word(dest_node)
    if op == ">&" and (dest.text.isdigit() or dest.text == "-") and dest.literal:
        return []  # duplicates a descriptor
    shown_redirect = shown(source(redirect))
    if dest.literal and dest.text in _HARMLESS:
        return []
    if dest.literal and _DISKS.match(dest.text):
        return [("shell.disk", f"the redirect {shown_redirect}")]
    if dest.literal and dest.text.startswith("/proc/sysrq-trigger"):
        return [("shell.power", f"the redirect {shown_redirect}")]
    return [("shell.write", f"the redirect {shown_redirect}")]


def _cd(words: list[Word], cwd: Cwd) -> Cwd:
    """Where `cd DIR` leaves the shell when it succeeds (unchanged for any other command)."""
    if program_name(words[0].text) not in {"cd", "pushd"} or not words[0].literal:
        return cwd
    args = [w for w in words[1:] if not (w.literal and w.text in {"-P", "-L", "-e", "-@"})]
    return moved(cwd, args[0]) if args else LOGIN


def _functions(root: Node) -> dict[str, int]:
    """Functions the text surely defines before it calls them: by name, where the definition
    ends. Only top-level definitions count (one inside `if` may never happen), and none that
    is `unset`, since a call then runs the program of that name."""
    names: dict[str, int] = {}
    for node in root.named_children:
        name = node.child_by_field_name("name") if node.type == "function_definition" else None
        if name is not None:
            names.setdefault(source(name), node.end_byte)
    stack = [root]
    while stack and names:
        node = stack.pop()
        stack.extend(node.children)
        if node.type in {"unset_command", "command"} and source(node).startswith("unset"):
            for w in node.named_children:
                names.pop(source(w), None)
    return names


def _fork_bomb(node: Node) -> list[Hit]:
    """A function that runs itself in a pipeline or in the background."""
    name_node = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name_node is None or body is None:
        return []
    name = source(name_node)
    calls_itself = background = False
    stack = [body]
    while stack:
        n = stack.pop()
        if n.type == "command":
            called = n.child_by_field_name("name")
            calls_itself = calls_itself or (called is not None and word(called).text == name)
        if n.type in {"pipeline", "&"}:
            background = True
        stack.extend(n.children)
    if calls_itself and background:
        return [("shell.fork_bomb", shown(source(node)))]
    return []


def argv_context(display: str, cwd: Cwd = LOGIN) -> Context:
    """The context of a command given as an argument vector (no shell runs it)."""
    walker = _Walker(0)
    return Context(display, cwd, None, judge_argv, walker.nested)
