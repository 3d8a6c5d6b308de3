"""What a command's function calls and relations run, judged from the target's own catalog.

A SELECT can change data: `SELECT f()` runs whatever f does. A name says nothing about that, so
the classifier judges each call by what the target's catalog says the function is (volatility,
language, whether it came with the server), and each relation by what it runs (a view's query,
row-level security expressions), recursively. The classifier never talks to targets: the
ingress looks the names up and passes the facts in (`CatalogFacts`); a name it has not looked up
is listed in `needs` and, until then, judged as unresolved, which is a review (fail closed).

Postgres itself runs STABLE and IMMUTABLE functions read-only, but such a function may still
call a VOLATILE one, so the body of a user-defined SQL or PL/pgSQL function is judged too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from proctor.classifier.v1 import classifier_pb2 as cpb
from proctor_classifier.hazards import SIDE_EFFECTS, dangerous_function

#: Built-in VOLATILE functions that change nothing outside the session: they are volatile only
#: because their answer changes from call to call (random, clocks, sizes, server state).
HARMLESS_VOLATILE: frozenset[str] = frozenset({
    "array_sample", "array_shuffle", "clock_timestamp", "current_query", "currtid2", "currval",
    "lastval", "cursor_to_xml", "cursor_to_xmlschema", "gen_random_uuid", "uuidv4", "uuidv7",
    "random", "random_normal", "setseed", "timeofday", "txid_status", "txid_current",
    "pg_current_xact_id", "pg_xact_status", "pg_xact_commit_timestamp",
    "pg_xact_commit_timestamp_origin", "pg_last_committed_xact", "set_config",
    "pg_available_wal_summaries", "pg_wal_summary_contents", "pg_get_wal_summarizer_state",
    "pg_blocking_pids", "pg_safe_snapshot_blocking_pids", "pg_isolation_test_session_is_blocked",
    "pg_lock_status", "pg_prepared_xact", "pg_control_checkpoint", "pg_control_init",
    "pg_control_recovery", "pg_control_system", "pg_collation_actual_version",
    "pg_database_collation_actual_version", "pg_current_logfile", "pg_current_wal_flush_lsn",
    "pg_current_wal_insert_lsn", "pg_current_wal_lsn", "pg_last_wal_receive_lsn",
    "pg_last_wal_replay_lsn", "pg_last_xact_replay_timestamp", "pg_is_in_recovery",
    "pg_is_wal_replay_paused", "pg_get_wal_replay_pause_state", "pg_get_wal_resource_managers",
    "pg_database_size", "pg_relation_size", "pg_table_size", "pg_indexes_size",
    "pg_total_relation_size", "pg_tablespace_size", "pg_export_snapshot", "pg_get_aios",
    "pg_get_backend_memory_contexts", "pg_get_loaded_modules", "pg_get_multixact_members",
    "pg_get_sequence_data", "pg_get_shmem_allocations", "pg_get_shmem_allocations_numa",
    "pg_get_wait_events", "pg_hba_file_rules", "pg_ident_file_mappings",
    "pg_show_all_file_settings", "pg_jit_available", "pg_notification_queue_usage",
    "pg_partition_ancestors", "pg_partition_tree", "pg_sequence_last_value",
    "pg_show_replication_origin_status", "pg_replication_origin_progress",
    "pg_replication_origin_session_is_setup", "pg_replication_origin_session_progress",
    "pg_logical_slot_peek_changes", "pg_logical_slot_peek_binary_changes",
    "pg_stat_clear_snapshot", "pg_stat_force_next_flush", "pg_stat_have_stats",
    "lo_open", "lo_close", "lo_get", "loread", "lo_lseek", "lo_lseek64", "lo_tell", "lo_tell64",
    # Handlers and trigger functions: they take `internal` arguments or refuse to run
    # outside a trigger, so a call from SQL cannot reach their effects.
    "amvalidate", "bernoulli", "system", "brinhandler", "bthandler", "ginhandler",
    "gisthandler", "hashhandler", "spghandler", "heap_tableam_handler", "dsnowball_init",
    "dsnowball_lexize", "plpgsql_call_handler", "plpgsql_inline_handler", "plpgsql_validator",
    "suppress_redundant_updates_trigger", "tsvector_update_trigger",
    "tsvector_update_trigger_column", "unique_key_recheck",
})  # fmt: skip

#: Name prefixes of harmless built-in volatile families (statistics readers, FK triggers).
HARMLESS_PREFIXES: tuple[str, ...] = ("pg_stat_get_", "ri_fkey_")

#: Nesting of views and function bodies followed before giving up (review).
MAX_DEPTH = 8

#: (rule id, subject), as in statements.py.
Hit = tuple[str, str]


def judged_by_name(name: str) -> bool:
    """Whether a built-in volatile function is on a list: harmless, or judged by its own rule
    (side effects, privileged). Anything else built-in and volatile needs a human."""
    name = name.lower()
    return (
        name in HARMLESS_VOLATILE
        or name.startswith(HARMLESS_PREFIXES)
        or name in SIDE_EFFECTS
        or dangerous_function(name) is not None
    )


# ---- collecting the names a statement refers to ---------------------------------------------


@dataclass
class References:
    """Function and relation names, as the text spells them ("f", "s.f")."""

    functions: set[str] = field(default_factory=set)
    relations: set[str] = field(default_factory=set)


_found: ContextVar[References | None] = ContextVar("proctor_classifier_refs", default=None)


def function_called(names: list[str]) -> None:
    found = _found.get()
    if found is not None and names:
        found.functions.add(".".join(names[-2:]))


def relation_read(schema: str, name: str) -> None:
    found = _found.get()
    if found is not None and name:
        found.relations.add(f"{schema}.{name}" if schema else name)


@contextmanager
def collecting() -> Iterator[References]:
    """Collect the names the matcher meets inside (see rules._nested)."""
    refs = References()
    token = _found.set(refs)
    try:
        yield refs
    finally:
        _found.reset(token)


# ---- judging them by the facts ----------------------------------------------------------------


@dataclass
class Judgement:
    """What the references add to a verdict, and what is still to be looked up."""

    hits: list[Hit] = field(default_factory=list)
    needs: cpb.CatalogNeeds = field(default_factory=cpb.CatalogNeeds)


#: Judges SQL or PL/pgSQL text found in the catalog (a view's query, a function body) by its
#: language ("sql", or "plpgsql RETURNTYPE"): its hits beyond reading, and the names it
#: refers to. rules.py passes its judge in
#: (rules.py imports this module, not the other way round).
TextJudge = Callable[[str, str], tuple[list[Hit], References]]


def judge_references(refs: References, facts: cpb.CatalogFacts, judge_text: TextJudge) -> Judgement:
    """Hits for the calls and relations in `refs` under `facts`, following views and function
    bodies down to MAX_DEPTH; names without facts go into `needs`."""
    functions = {f.name: f for f in facts.functions}
    relations = {r.name: r for r in facts.relations}
    out = Judgement()
    seen_functions: set[str] = set()
    seen_relations: set[str] = set()
    queue: list[tuple[References, str, int]] = [(refs, "", 0)]
    while queue:
        current, via, depth = queue.pop()
        if depth > MAX_DEPTH:
            out.hits.append(("write.call_unknown", f"what runs{via} nests too deeply to follow"))
            continue
        for name in sorted(current.functions - seen_functions):
            seen_functions.add(name)
            fact = functions.get(name)
            if fact is None:
                out.needs.functions.append(name)
                out.hits.append(("write.call_unknown", f"{name}(){via} is not looked up yet"))
                continue
            for hit, nested in _function(fact, via, judge_text):
                if hit is not None:
                    out.hits.append(hit)
                if nested is not None:
                    queue.append((*nested, depth + 1))
        for name in sorted(current.relations - seen_relations):
            seen_relations.add(name)
            relation = relations.get(name)
            if relation is None:
                out.needs.relations.append(name)
                out.hits.append(("write.call_unknown", f"what {name}{via} runs is not looked "
                                                       "up yet"))  # fmt: skip
                continue
            for hit, nested in _relation(relation, via, judge_text):
                if hit is not None:
                    out.hits.append(hit)
                if nested is not None:
                    queue.append((*nested, depth + 1))
    return out


_Found = tuple[Hit | None, tuple[References, str] | None]


def _function(fact: cpb.FunctionFacts, via: str, judge_text: TextJudge) -> Iterator[_Found]:
    name = fact.name
    if fact.error:
        yield ("write.call_unknown", f"{name}(){via} could not be looked up ({fact.error})"), None
        return
    if not fact.definitions:
        yield ("write.call_unknown", f"{name}(){via} is not in the target's catalog"), None
        return
    short = name.rpartition(".")[2]
    for d in fact.definitions:
        qualified = f"{d.schema}.{short}()"
        if d.builtin:
            if d.volatility == "v" and not judged_by_name(short):
                yield ("write.call_function", f"{qualified}{via}, a built-in VOLATILE function "
                                              "the gateway has no rule for"), None  # fmt: skip
            continue
        if d.volatility == "v":
            yield ("write.call_function", f"{qualified}{via}, a VOLATILE {d.language} "
                                          "function"), None  # fmt: skip
            continue
        if d.language not in ("sql", "plpgsql"):
            continue  # compiled code declared STABLE/IMMUTABLE: Postgres runs it read-only
        if not d.body:
            yield ("write.call_unknown", f"{qualified}{via} has a body the gateway cannot "
                                         "read"), None  # fmt: skip
            continue
        hits, nested = judge_text(d.body, f"{d.language} {d.returns or 'void'}")
        inside = f" inside {qualified}{via}"
        for rule_id, subject in hits:
            yield (rule_id, f"{subject}{inside}"), None
        yield None, (nested, inside)


def _relation(fact: cpb.RelationFacts, via: str, judge_text: TextJudge) -> Iterator[_Found]:
    name = fact.name
    if fact.error:
        yield ("write.call_unknown", f"what {name}{via} runs could not be looked up "
                                     f"({fact.error})"), None  # fmt: skip
        return
    for d in fact.definitions:
        if d.builtin:
            continue  # the system catalogs and views only read
        short = name.rpartition(".")[2]
        where = f" of {d.schema}.{short}{via}"
        texts = [("view", d.view_definition)] if d.view_definition else []
        texts += [("policy", f"SELECT {e}") for e in d.policy_expressions]
        for what, text in texts:
            hits, nested = judge_text(text, "sql")
            inside = f" in the {what}{where}"
            for rule_id, subject in hits:
                yield (rule_id, f"{subject}{inside}"), None
            yield None, (nested, inside)
