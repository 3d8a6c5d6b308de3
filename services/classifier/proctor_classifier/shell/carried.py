"""Commands that carry another kind of command: psql's SQL is judged by the SQL rules, kubectl's
arguments by the Kubernetes rules (the same `ddl.*`, `k8s.*` ids a direct request gets).

Their hits carry the other rule's whole reason (a SQL match is worded by the SQL analyzer), not
a subject: see `Hit` in context.py.
"""

from __future__ import annotations

from proctor.rulecatalog import ALL_RULES
from proctor_classifier.catalog import judged_by_name
from proctor_classifier.rules import analyze_sql
from proctor_classifier.shell.context import Context, Hit, flags, located, options
from proctor_classifier.shell.paths import UNKNOWN
from proctor_classifier.shell.words import Word

# Built-in functions common in ad-hoc queries that only compute: a psql command cannot have
# its functions looked up in the target's catalog, so any other call is reviewed.
_PURE = frozenset({
    "count", "sum", "avg", "min", "max", "now", "current_date", "current_timestamp",
    "localtimestamp", "lower", "upper", "length", "char_length", "octet_length", "coalesce",
    "nullif", "greatest", "least", "abs", "round", "ceil", "ceiling", "floor", "trunc", "trim",
    "btrim", "ltrim", "rtrim", "substring", "substr", "replace", "concat", "concat_ws",
    "format", "to_char", "to_date", "to_timestamp", "to_number", "date_trunc", "date_part",
    "extract", "age", "array_agg", "string_agg", "json_agg", "jsonb_agg", "json_build_object",
    "jsonb_build_object", "json_object_agg", "jsonb_object_agg", "row_number", "rank",
    "dense_rank", "lag", "lead", "first_value", "last_value", "ntile", "version",
    "current_setting", "pg_size_pretty", "pg_typeof", "current_user", "current_database",
    "current_schema", "session_user", "split_part", "position", "strpos", "left", "right",
    "md5", "encode", "decode", "generate_series", "unnest", "array_length", "cardinality",
    "jsonb_array_length", "jsonb_pretty", "to_json", "to_jsonb", "bool_and", "bool_or",
    "every", "percentile_cont", "percentile_disc", "stddev", "variance", "regexp_replace",
    "regexp_match", "regexp_matches", "initcap", "lpad", "rpad", "repeat", "reverse",
    "pg_backend_pid", "pg_postmaster_start_time", "inet_server_addr", "has_table_privilege",
    "pg_get_viewdef", "pg_get_functiondef", "pg_get_indexdef", "obj_description",
    "col_description", "quote_ident", "quote_literal", "array_to_string", "string_to_array",
    "make_interval", "make_date", "date", "sqrt", "power", "mod", "sign", "ln", "log", "exp",
})  # fmt: skip


def _sql(text: str, via: str) -> list[Hit]:
    analysis = analyze_sql(text)
    hits: list[Hit] = [(m.rule.id, f"{via}: {m.reason}") for m in analysis.matches]
    unknown = ALL_RULES["write.call_unknown"]
    for name in sorted(analysis.references.functions):
        short = name.rpartition(".")[2].lower()
        if short in _PURE or judged_by_name(short):
            continue
        subject = f"{via} calls {name}(), whose catalog the gateway cannot look up"
        hits.append((unknown.id, unknown.reason_for(subject)))
    return hits


def psql(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    """psql -c SQL, -f FILE (- is its input), or SQL on its input (a heredoc)."""
    opts, _ = options(args, "cdfhpUvPoLTFRW", frozenset({
        "--command", "--dbname", "--file", "--host", "--port", "--username", "--set",
        "--variable", "--pset", "--output", "--log-file", "--table-attr", "--field-separator",
        "--record-separator",
    }))  # fmt: skip
    keys = flags(opts)
    hits: list[Hit] = []
    if keys & {"-o", "--output", "-L", "--log-file"}:
        hits.append(("shell.write", f"{ctx.display} (writes its output to a file)"))
    if keys & {"-V", "--version", "-?", "--help"}:
        return [*hits, ("shell.read", ctx.display)]
    texts = [v for k, v in opts if k in {"-c", "--command"}]
    files = [v for k, v in opts if k in {"-f", "--file"}]
    for text in texts:
        if text is None or not text.literal:
            hits.append(("shell.dynamic", f"{ctx.display} (SQL known only at run time)"))
        else:
            hits += _sql(text.text, "psql")
    for f in files:
        if f is not None and f.literal and f.text == "-":
            hits += _sql_input(ctx)
        else:
            hits.append(("shell.interpreter", f"{ctx.display} (SQL from a file the gateway "
                                              "cannot see)"))  # fmt: skip
    if not texts and not files:
        if keys & {"-l", "--list"}:
            return [*hits, ("shell.read", ctx.display)]
        hits += _sql_input(ctx)
    return hits


def _sql_input(ctx: Context) -> list[Hit]:
    feed = ctx.feed
    if feed is not None and feed.text is not None and not feed.fetched:
        return _sql(feed.text, f"psql reading {feed.what}")
    what = feed.what if feed is not None else "the session's input"
    return [("shell.interpreter", f"{ctx.display} (SQL from {what}, which the gateway "
                                  "cannot see)")]  # fmt: skip


# --- kubectl -------------------------------------------------------------------------------

_KUBE_VALUES = frozenset({
    "-n", "--namespace", "--context", "--cluster", "--user", "--kubeconfig", "-s", "--server",
    "--token", "--as", "--as-group", "--as-uid", "-l", "--selector", "-o", "--output", "-f",
    "--filename", "-c", "--container", "--field-selector", "--sort-by", "--template", "-L",
    "--label-columns", "--type", "--image", "--replicas", "-p", "--patch", "--timeout",
    "--since", "--tail", "--request-timeout", "--certificate-authority", "--client-key",
    "--client-certificate", "-k", "--kustomize", "--grace-period", "--port", "--target-port",
    "--name", "--from-literal", "--from-file", "--cascade", "--for", "--chunk-size",
    "--field-manager", "--subresource", "--min", "--max", "--cpu-percent", "--resource",
    "--verb", "--role", "--clusterrole", "--serviceaccount", "--group", "--overrides",
    "--env", "-e", "--limits", "--requests", "--profile", "--address", "--since-time",
})  # fmt: skip
_KUBE_READS = frozenset({
    "get", "describe", "logs", "top", "explain", "api-resources", "api-versions", "version",
    "cluster-info", "diff", "wait", "events", "completion", "kustomize", "help", "alpha",
})  # fmt: skip
_KUBE_WRITES = frozenset({
    "apply", "create", "patch", "edit", "replace", "scale", "set", "label", "annotate",
    "autoscale", "expose", "taint", "cordon", "uncordon", "drain", "run", "rollout",
    "certificate", "config",
})  # fmt: skip
_KUBE_CONNECTS = frozenset({"exec", "attach", "port-forward", "cp", "debug", "proxy"})
_RBAC = frozenset({"role", "roles", "rolebinding", "rolebindings", "clusterrole",
                   "clusterroles", "clusterrolebinding", "clusterrolebindings"})  # fmt: skip
_NAMESPACE = frozenset({"ns", "namespace", "namespaces"})
_CRITICAL = frozenset({"crd", "crds", "customresourcedefinition", "customresourcedefinitions",
                       "node", "nodes", "no", "pv", "persistentvolume",
                       "persistentvolumes"})  # fmt: skip


def _kube_split(args: list[Word]) -> tuple[list[tuple[str, str]], list[str], list[Word]]:
    """kubectl's flags (name, value), positional words, and what follows `--`."""
    found: list[tuple[str, str]] = []
    words: list[str] = []
    i = 0
    while i < len(args):
        t = args[i].text
        if t == "--":
            return found, words, args[i + 1 :]
        if t.startswith("-") and len(t) > 1:
            key, eq, value = t.partition("=")
            if not eq and key in _KUBE_VALUES and i + 1 < len(args):
                value = args[i + 1].text
                i += 1
            elif not eq and len(key) > 2 and not key.startswith("--") and key[:2] in _KUBE_VALUES:
                key, value = key[:2], key[2:]  # -nkube-system
            found.append((key, value))
        else:
            words.append(t if args[i].literal else "$")
        i += 1
    return found, words, []


def kubectl(name: str, args: list[Word], ctx: Context) -> list[Hit]:
    found, words, after = _kube_split(args)
    keys = {k for k, _ in found}
    verb = words[0] if words else ""
    rest = words[1:]
    subject = f"{ctx.display}"
    dry = any(k == "--dry-run" and v in {"client", "server", ""} for k, v in found)
    if not verb:
        return [_kube("k8s.read", subject)] if keys & {"--help", "-h", "--version"} else [
            ("shell.unknown", ctx.display)]  # fmt: skip
    if verb in _KUBE_READS or (verb == "auth" and rest[:1] in (["can-i"], ["whoami"])):
        return [_kube("k8s.read", subject)]
    if verb == "rollout" and rest[:1] in (["status"], ["history"]):
        return [_kube("k8s.read", subject)]
    if verb == "config" and rest[:1] in (["view"], ["get-contexts"], ["current-context"],
                                         ["get-clusters"], ["get-users"]):  # fmt: skip
        return [_kube("k8s.read", subject)]
    if verb in _KUBE_CONNECTS:
        hits = [_kube("k8s.exec", subject)]
        if verb == "exec" and after:
            hits += located(ctx.run(after, ctx.but(cwd=UNKNOWN)), "in the pod")
        return hits
    if dry and (verb in _KUBE_WRITES or verb == "delete"):
        return [_kube("k8s.dry_run", subject)]
    if verb == "delete":
        kinds = {k.lower() for w in rest for k in w.partition("/")[0].split(",")}
        if kinds & _NAMESPACE:
            return [_kube("k8s.delete_namespace", subject)]
        if kinds & _CRITICAL:
            return [_kube("k8s.delete_cluster_critical", subject)]
        if kinds & _RBAC:
            return [_kube("k8s.rbac", subject)]
        if keys & {"--all", "-A", "--all-namespaces", "-l", "--selector", "--field-selector"}:
            return [_kube("k8s.deletecollection", subject)]
        return [_kube("k8s.delete", subject)]
    if verb in {"create", "set"} and rest[:1] and rest[0].lower() in _RBAC | {"subject"}:
        return [_kube("k8s.rbac", subject)]
    if verb == "auth" and rest[:1] == ["reconcile"]:
        return [_kube("k8s.rbac", subject)]
    if verb == "config":
        return [("shell.write", f"{ctx.display} (changes the kubeconfig file)")]
    if (verb == "create" and rest[:1] == ["token"]) or (verb == "certificate"):
        return [_kube("k8s.credentials", subject)]
    if verb in _KUBE_WRITES or verb == "auth":
        return [_kube("k8s.write", subject)]
    return [("shell.unknown", f"{ctx.display} (a kubectl plugin or command the gateway does "
                              "not know)")]  # fmt: skip


def _kube(rule_id: str, subject: str) -> Hit:
    return rule_id, ALL_RULES[rule_id].reason_for(subject)
