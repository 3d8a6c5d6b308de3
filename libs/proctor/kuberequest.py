"""Kubernetes API requests as the API server reads them (`request_info`), and the one line
and manifest the agent, the approver and the audit log see of one (`display_text`).

The rules are the API server's RequestInfo (k8s.io/apiserver pkg/endpoints/request/
requestinfo.go), so the gateway judges a request by the verb, group, resource, namespace and
name the server will authorize it as. On top of those rules, for the classifier:

- a connect subresource (`exec`, `attach`, `portforward`, `proxy`, of pods, services, nodes or
  any other resource), the deprecated `/proxy/` path prefix, and any upgraded connection
  (WebSocket or SPDY) but a watch have the verb `connect`, whatever the method: what passes
  over such a connection is not a request the gateway can judge;
- `dry_run` is what the server will honor: `?dryRun=All` on a write, except that a DELETE
  with a body takes its options from the body alone (`DeleteOptions` with `dryRun: [All]`),
  as the server's delete handlers do;
- the body is kept (cut to BODY_LIMIT, with its length and SHA-256) for the approver.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import shlex
import string
import unicodedata

import yaml

from proctor.errors import UnreadableRequest
from proctor.events.v1 import events_pb2 as pb
from proctor.kubeurl import Pairs, list_options, path_segments, query_flag, query_pairs
from proctor.kubeurl import query_values as values

#: How much of a body the detail keeps (its length and digest cover the rest).
BODY_LIMIT = 64 * 1024
#: What `display_text(full=False)` keeps of a manifest: a screen.
SCREEN_LINES = 40
SCREEN_CHARS = 3000

#: Verbs that read.
READ_VERBS = frozenset({"get", "list", "watch"})
#: Verbs that change what the API server stores.
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})
#: Subresources that open a connection rather than take one request.
CONNECT_SUBRESOURCES = frozenset({"exec", "attach", "portforward", "proxy"})
#: Patch content types, by the name `content_type` gives them.
PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
    "application/apply-patch+cbor": "apply",
}

_SPECIAL_VERBS = frozenset({"proxy", "watch"})
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})
_METHOD_VERBS = {
    "POST": "create", "GET": "get", "HEAD": "get", "PUT": "update", "PATCH": "patch",
    "DELETE": "delete",
}  # fmt: skip
_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~" + string.ascii_letters + string.digits)  # RFC 9110


def request_info(
    method: str,
    path: str,
    query: str,
    *,
    upgrade: bool = False,
    content_type: str = "",
    body: bytes = b"",
) -> pb.KubeDetail:
    """What one Kubernetes API request is. `path` is the request path as sent (percent-encoded,
    without the query), `query` the raw query string without `?`, `upgrade` whether the request
    asks to upgrade its connection (WebSocket or SPDY), `content_type` its Content-Type.

    A path that is not `/api/VERSION/...` or `/apis/GROUP/VERSION/...` with a resource
    (discovery, `/apis/apps`, `/version`, `/openapi/...`, `/healthz`) is `non_resource`, with
    the lower-case method as its verb. A resource path under a method that has no verb
    (OPTIONS) has an empty verb. The classifier judges both; neither raises.

    Raises `UnreadableRequest` (a ValueError; the request must not run) for what the gateway
    cannot read the way the API server would: a method that is not an HTTP token; a path that
    does not start with `/`, or holds `?`, `#`, an empty segment (`//`), a `.` or `..` segment,
    an encoded `/` (`%2F`), a control character or a bad percent escape; and `/api/v1/watch`
    or `/api/v1/proxy` with nothing after them (RequestInfo's own error).

    The same arguments always give the same detail, so its serialized bytes can be what an
    approval is bound to.
    """
    if not method or not set(method) <= _TOKEN_CHARS:
        raise UnreadableRequest(f"{method!r} is not an HTTP method")
    segments = path_segments(path)
    pairs = query_pairs(query)
    full_path = f"{path}?{query}" if query else path
    detail = pb.KubeDetail(method=method, path=full_path, verb=method.lower())
    media = content_type.partition(";")[0].strip().lower()
    detail.content_type = PATCH_TYPES.get(media, content_type.strip())
    if _resolve(detail, segments, pairs):
        if detail.subresource in CONNECT_SUBRESOURCES:
            detail.verb = "connect"
        if detail.verb == "connect" and detail.subresource in {"exec", "attach"}:
            detail.command.extend(values(pairs, "command"))
    if upgrade and detail.verb != "watch":
        detail.verb = "connect"
    if detail.verb in WRITE_VERBS and not detail.non_resource:
        detail.dry_run = _dry_run(detail.verb, pairs, media, body)
    if body:
        # A cut body keeps whole characters; bytes that are not UTF-8 become U+FFFD.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        detail.body = decoder.decode(body[:BODY_LIMIT], final=len(body) <= BODY_LIMIT)
        detail.body_size = len(body)
        detail.body_sha256 = hashlib.sha256(body).hexdigest()
    return detail


def _resolve(detail: pb.KubeDetail, parts: list[str], pairs: Pairs) -> bool:
    """Fill in what RequestInfo reads from the path; False for a non-resource path."""
    if len(parts) < 3 or parts[0] not in {"api", "apis"} or (parts[0] == "apis" and len(parts) < 4):
        detail.non_resource = True
        return False
    rest = parts[1:]
    if parts[0] == "apis":
        detail.group, rest = rest[0], rest[1:]
    detail.version, rest = rest[0], rest[1:]
    if rest[0] in _SPECIAL_VERBS:
        if len(rest) < 2:
            raise UnreadableRequest(f"{detail.path}: unable to determine kind and namespace")
        verb, rest = rest[0], rest[1:]
    else:
        verb = _METHOD_VERBS.get(detail.method, "")
    if rest[0] == "namespaces" and len(rest) > 1:
        detail.namespace = rest[1]
        # /namespaces/NS/RESOURCE/...: the namespace's own subresources stay namespaces'
        if len(rest) > 2 and rest[2] not in _NAMESPACE_SUBRESOURCES:
            rest = rest[2:]
    # resource/name/subresource/what/the/server/does/not/interpret
    if len(rest) >= 3 and verb != "proxy":
        detail.subresource = rest[2]
    if len(rest) >= 2:
        detail.name = rest[1]
    detail.resource = rest[0]
    if not detail.name and verb == "get":
        watch, detail.name = list_options(pairs)
        verb = "watch" if watch else "list"
    if not detail.name and verb == "delete":
        verb = "deletecollection"
    if verb == "proxy":  # the deprecated /proxy/ prefix: the proxy subresource by another path
        verb, detail.subresource = "connect", "proxy"
    detail.verb = verb
    return True


def _dry_run(verb: str, pairs: Pairs, media: str, body: bytes) -> bool:
    """Whether the server will persist nothing. A DELETE with a body reads its options from
    the body alone, so `?dryRun=All` beside a body means nothing there."""
    found: object = values(pairs, "dryRun")
    if verb in {"delete", "deletecollection"} and body:
        options = _delete_options(media, body)
        found = options.get("dryRun") if options is not None else None
    return isinstance(found, list) and bool(found) and all(v == "All" for v in found)


def _delete_options(media: str, body: bytes) -> dict[str, object] | None:
    """A DELETE's JSON or YAML body as the server decodes it; None when it cannot be read
    here (too long, protobuf, CBOR, not a mapping): such a delete is not taken as a dry run."""
    if len(body) > BODY_LIMIT:
        return None
    try:
        text = body.decode("utf-8")
        if media in {"", "application/json"} or media.endswith("+json"):
            value = json.loads(text)
        elif media in {"application/yaml", "application/x-yaml", "text/yaml"}:
            value = yaml.safe_load(text)
        else:
            return None
    except (ValueError, yaml.YAMLError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def verdict_key(detail: pb.KubeDetail) -> str:
    """The key under which a verdict on `detail` holds for every request with the same key:
    what the kube rules look at, not the object's name, body or other options. The proxy looks
    a request up under it (beside the resource, the identity's groups and the policy version,
    as for SQL); the classifier returns it as `cache_key` when its verdict depends on nothing
    more."""
    path = detail.path.partition("?")[0] if detail.non_resource else ""
    fields = [detail.verb, detail.group, detail.resource, detail.subresource, detail.namespace,
              detail.dry_run, detail.non_resource, path]  # fmt: skip
    return "k8s:" + json.dumps(fields, separators=(",", ":"))


# --- display --------------------------------------------------------------------------------

_PATCH_WORDS = {
    "json": "JSON patch", "merge": "merge patch", "strategic": "strategic merge",
    "apply": "server-side apply",
}  # fmt: skip


def display_text(detail: pb.KubeDetail, *, full: bool = True) -> str:
    """What the request does, kubectl-like, on one line (`delete namespaces/payments`,
    `patch apps/v1 deployments/checkout -n demo (strategic merge)`, `GET /version`); for a
    write with a body, then a blank line and the manifest or patch as YAML. With `full=False`
    the manifest is cut to a screen, with a line saying how much was left out."""
    head = headline(detail)
    if not detail.body or detail.verb in READ_VERBS:
        return head
    manifest = _manifest(detail)
    return f"{head}\n\n{manifest if full else _screen(manifest)}"


def headline(detail: pb.KubeDetail) -> str:
    """The first line of `display_text`. Characters that could hide what follows them
    (control, format and bidirectional characters) are shown escaped."""
    if detail.non_resource:
        upgraded = " (upgraded connection)" if detail.verb == "connect" else ""
        return _visible(f"{detail.method} {detail.path}{upgraded}")
    pairs = query_pairs(detail.path.partition("?")[2])
    namespace = f" -n {detail.namespace}" if detail.namespace and (
        detail.resource != "namespaces") else ""  # fmt: skip
    if detail.verb == "connect":
        line = _connect(detail, pairs, namespace)
    else:
        selectors: list[str] = []
        if detail.verb in {"list", "watch", "deletecollection"}:
            selectors += [f"-l {_quote(v)}" for v in values(pairs, "labelSelector")[:1]]
            selectors += [
                f"--field-selector {_quote(v)}" for v in values(pairs, "fieldSelector")[:1]
            ]
        # a name a field selector pins a list to is shown as that selector
        named = not (detail.verb in READ_VERBS and values(pairs, "fieldSelector"))
        target = _target(detail, with_subresource=True, with_name=named)
        words = [_verb_word(detail), target + namespace, *selectors]
        notes = []
        if detail.verb == "patch" and detail.content_type:
            notes.append(_PATCH_WORDS.get(detail.content_type, detail.content_type))
            if detail.content_type == "apply" and query_flag(pairs, "force"):
                notes.append("force")
        if detail.dry_run:
            notes.append("dry run")
        if notes:
            words.append(f"({', '.join(notes)})")
        line = " ".join(words)
    return _visible(line)


def _verb_word(detail: pb.KubeDetail) -> str:
    if detail.verb == "list":
        return "get"  # as kubectl says it
    return detail.verb or detail.method


def _target(detail: pb.KubeDetail, *, with_subresource: bool, with_name: bool = True) -> str:
    where = f"{detail.group}/{detail.version} " if detail.group else ""
    what = detail.resource + (f"/{detail.name}" if detail.name and with_name else "")
    if with_subresource and detail.subresource:
        what += f"/{detail.subresource}"
    return where + what


def _connect(detail: pb.KubeDetail, pairs: Pairs, namespace: str) -> str:
    target = _target(detail, with_subresource=False) + namespace
    container = "".join(f" -c {_quote(c)}" for c in values(pairs, "container")[:1])
    flags = "".join(f for f, key in (("i", "stdin"), ("t", "tty")) if query_flag(pairs, key))
    flags = f" -{flags}" if flags else ""
    if detail.subresource == "exec":
        command = " -- " + " ".join(map(_quote, detail.command)) if detail.command else ""
        return f"exec {target}{container}{flags}{command}"
    if detail.subresource == "attach":
        return f"attach {target}{container}{flags}"
    if detail.subresource == "portforward":
        ports = "".join(f" {_quote(p)}" for p in values(pairs, "ports"))
        return f"port-forward {target}{ports}"
    if detail.subresource == "proxy":
        return f"proxy {target} {detail.method} /{'/'.join(_proxied(detail))}"
    return f"connect {_target(detail, with_subresource=True)}{namespace} ({detail.method}, " \
           "upgraded connection)"  # fmt: skip


def _proxied(detail: pb.KubeDetail) -> list[str]:
    """The path a proxy request sends on: what follows NAME/proxy (or, under the deprecated
    prefix, NAME) in the request path."""
    try:
        parts = path_segments(detail.path.partition("?")[0])
    except UnreadableRequest:
        return []
    for i in range(len(parts) - 1, 0, -1):
        if parts[i - 1] == detail.resource and parts[i] == detail.name:
            rest = parts[i + 1 :]
            return rest[1:] if rest[:1] == ["proxy"] else rest
    return []


def _manifest(detail: pb.KubeDetail) -> str:
    """The body as YAML: JSON re-dumped (keys in their order, non-ASCII escaped), anything
    else as sent; a cut body says so."""
    if detail.body_size > BODY_LIMIT:
        return (f"{_visible(detail.body, keep_lines=True)}\n… (the body is cut here: "
                f"{BODY_LIMIT:,} of {detail.body_size:,} bytes shown)")  # fmt: skip
    try:
        value = json.loads(detail.body)
        if isinstance(value, dict | list):
            dumped: str = yaml.safe_dump(value, sort_keys=False, default_flow_style=False)
            return dumped.rstrip("\n")
    except (ValueError, RecursionError, yaml.YAMLError):
        pass
    return _visible(detail.body, keep_lines=True).rstrip("\n")


def _screen(text: str) -> str:
    lines = text.split("\n")
    kept: list[str] = []
    size = 0
    for line in lines:
        if len(kept) == SCREEN_LINES or size + len(line) > SCREEN_CHARS:
            break
        kept.append(line)
        size += len(line) + 1
    if len(kept) == len(lines):
        return text
    if not kept:  # one line longer than a screen
        kept, size = [lines[0][:SCREEN_CHARS]], SCREEN_CHARS
    left = len(lines) - len(kept)
    return "\n".join(kept) + f"\n… {left:,} more lines ({len(text) - size:,} characters) not shown"


def _quote(arg: str) -> str:
    """A shell word: quoted as a shell would need it, with $'...' for invisible characters."""
    if any(_hidden(c) for c in arg):
        return "$'" + "".join(_escaped(c) if _hidden(c) or c in "\\'" else c for c in arg) + "'"
    return shlex.quote(arg)


def _visible(text: str, *, keep_lines: bool = False) -> str:
    kept = "\n\t" if keep_lines else ""
    return "".join(_escaped(c) if _hidden(c) and c not in kept else c for c in text)


def _hidden(c: str) -> bool:
    return not c.isprintable() or unicodedata.category(c) == "Cf"


def _escaped(c: str) -> str:
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\", "'": "\\'"}
    if c in named:
        return named[c]
    code = ord(c)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else (
        f"\\U{code:08x}")  # fmt: skip
