"""The functions and settings that make an otherwise harmless statement dangerous.

A function here is flagged wherever it appears in a statement that runs now (a SELECT list, a
WHERE clause, a FROM, a default), because Postgres evaluates it wherever it appears. Names are
compared without schema and case, so `pg_catalog.PG_TERMINATE_BACKEND` counts too.
"""

from __future__ import annotations

from proctor_classifier.literals import consulted
from proctor_classifier.sqlnames import Node, constant_text, last_name, name_of, unwrap

_SESSIONS = "acts on other sessions"
_FILES_READ = "reads files or directories on the database server"
_FILES_WRITE = "writes or removes files on the database server"
_REPLICATION = "changes replication state that standbys and consumers depend on"
_DYNAMIC = "runs SQL given as a string, which the gateway cannot check"
_STATS = "resets statistics that monitoring and the planner rely on"
_PLANNER = "changes the statistics the planner chooses plans by"

#: Function name -> what it does that the gateway will not let an agent do unasked.
DANGEROUS_FUNCTIONS: dict[str, str] = {
    "pg_terminate_backend": f"ends a session ({_SESSIONS})",
    "pg_cancel_backend": f"cancels a running query ({_SESSIONS})",
    "pg_reload_conf": "reloads the server configuration",
    "pg_rotate_logfile": "rotates the server log",
    "pg_read_file": _FILES_READ,
    "pg_read_binary_file": _FILES_READ,
    "pg_stat_file": _FILES_READ,
    "pg_ls_dir": _FILES_READ,
    "pg_ls_logdir": _FILES_READ,
    "pg_ls_waldir": _FILES_READ,
    "pg_ls_tmpdir": _FILES_READ,
    "pg_ls_archive_statusdir": _FILES_READ,
    "pg_ls_logicalsnapdir": _FILES_READ,
    "pg_ls_logicalmapdir": _FILES_READ,
    "pg_ls_replslotdir": _FILES_READ,
    "lo_import": _FILES_READ,
    "lo_export": _FILES_WRITE,
    "lo_unlink": "deletes a large object",
    "pg_file_write": _FILES_WRITE,
    "pg_file_rename": _FILES_WRITE,
    "pg_file_unlink": _FILES_WRITE,
    "pg_file_sync": _FILES_WRITE,
    "pg_promote": "promotes a standby to primary",
    "pg_switch_wal": "forces a WAL switch",
    "pg_create_restore_point": "writes a named restore point",
    "pg_backup_start": "starts a server backup",
    "pg_backup_stop": "stops a server backup",
    "pg_start_backup": "starts a server backup",
    "pg_stop_backup": "stops a server backup",
    "pg_create_physical_replication_slot": _REPLICATION,
    "pg_create_logical_replication_slot": _REPLICATION,
    "pg_drop_replication_slot": _REPLICATION,
    "pg_copy_physical_replication_slot": _REPLICATION,
    "pg_copy_logical_replication_slot": _REPLICATION,
    "pg_replication_slot_advance": _REPLICATION,
    "pg_logical_slot_get_changes": _REPLICATION,
    "pg_logical_slot_get_binary_changes": _REPLICATION,
    "pg_ls_summariesdir": _FILES_READ,
    "query_to_xml": _DYNAMIC,
    "query_to_xmlschema": _DYNAMIC,
    "query_to_xml_and_xmlschema": _DYNAMIC,
    "ts_stat": _DYNAMIC,
    "ts_rewrite": _DYNAMIC,
    "pg_stat_reset": _STATS,
    "pg_stat_reset_shared": _STATS,
    "pg_stat_reset_single_table_counters": _STATS,
    "pg_stat_reset_single_function_counters": _STATS,
    "pg_stat_reset_slru": _STATS,
    "pg_stat_reset_replication_slot": _STATS,
    "pg_stat_reset_subscription_stats": _STATS,
    "pg_stat_reset_backend_stats": _STATS,
    "pg_stat_statements_reset": _STATS,
    "pg_restore_relation_stats": _PLANNER,
    "pg_restore_attribute_stats": _PLANNER,
    "pg_clear_relation_stats": _PLANNER,
    "pg_clear_attribute_stats": _PLANNER,
    "pg_log_backend_memory_contexts": "writes another session's memory contexts to the log",
    "pg_log_standby_snapshot": "writes a snapshot record to the WAL",
    "pg_logical_emit_message": "writes a message into the WAL for logical decoding",
    "pg_wal_replay_pause": "pauses recovery on a standby",
    "pg_wal_replay_resume": "resumes recovery on a standby",
    "pg_sync_replication_slots": _REPLICATION,
    "pg_replication_origin_create": _REPLICATION,
    "pg_replication_origin_drop": _REPLICATION,
    "pg_replication_origin_advance": _REPLICATION,
    "pg_replication_origin_session_setup": _REPLICATION,
    "pg_replication_origin_session_reset": _REPLICATION,
    "pg_replication_origin_xact_setup": _REPLICATION,
    "pg_replication_origin_xact_reset": _REPLICATION,
    "pg_import_system_collations": "adds collations to the catalog",
    "pg_extension_config_dump": "changes what pg_dump saves of an extension",
    "pg_nextoid": "advances the server's object id counter",
    "pg_stop_making_pinned_objects": "changes how the server creates objects (initdb only)",
}

#: Every function whose name starts with one of these (the dblink extension's family, and the
#: server's binary-upgrade helpers).
DANGEROUS_PREFIXES: dict[str, str] = {
    "dblink": "runs SQL on another database, out of the gateway's sight",
    "binary_upgrade_": "changes catalog internals (meant for pg_upgrade only)",
}


def _family(rule_id: str, *names: str) -> dict[str, tuple[str, str]]:
    return {name: (rule_id, f"{name}()") for name in names}


#: Built-in functions with side effects that are ordinary work, not privileged: (rule, what).
SIDE_EFFECTS: dict[str, tuple[str, str]] = {
    **_family("write.sequence", "nextval", "setval"),
    **_family("write.large_object", "lo_creat", "lo_create", "lo_from_bytea", "lo_put",
              "lowrite", "lo_truncate", "lo_truncate64"),
    "pg_notify": ("write.other", "pg_notify() (a NOTIFY to other sessions)"),
    **_family("write.maintenance", "brin_summarize_range", "brin_summarize_new_values",
              "brin_desummarize_range", "gin_clean_pending_list"),
    **_family("session.sleep", "pg_sleep", "pg_sleep_for", "pg_sleep_until"),
    **_family("session.advisory_lock", "pg_advisory_lock", "pg_advisory_lock_shared",
              "pg_advisory_unlock", "pg_advisory_unlock_all", "pg_advisory_unlock_shared",
              "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared", "pg_try_advisory_lock",
              "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock",
              "pg_try_advisory_xact_lock_shared"),
}  # fmt: skip

#: Settings that change who the session is, switch off safety nets or hide activity from logs.
#: search_path is not here: it only changes name lookup for the agent's own session. Nor is
#: row_security: `off` never widens what a role may read (a query that a policy would filter
#: fails instead, and roles that bypass policies bypass them either way); pg_dump sends it.
SENSITIVE_SETTINGS: frozenset[str] = frozenset({
    "role",
    "session_authorization",
    "session_replication_role",  # "replica" disables triggers and foreign-key checks
    "allow_system_table_mods",
    "ignore_system_indexes",
    "ignore_checksum_failure",
    "zero_damaged_pages",
    "lo_compat_privileges",
    "local_preload_libraries",
    "session_preload_libraries",
    "shared_preload_libraries",
    "dynamic_library_path",
    "jit_provider",
})  # fmt: skip

SENSITIVE_PREFIXES: tuple[str, ...] = ("log_", "pgaudit.")


def dangerous_function(name: str) -> str | None:
    """What the function does, if it is one the gateway stops; None for ordinary functions."""
    name = name.lower()
    found = DANGEROUS_FUNCTIONS.get(name)
    if found is not None:
        return found
    return next((why for p, why in DANGEROUS_PREFIXES.items() if name.startswith(p)), None)


def sensitive_setting(name: str) -> bool:
    name = name.lower()
    return name in SENSITIVE_SETTINGS or name.startswith(SENSITIVE_PREFIXES)


def settings_row(kind: str, body: Node) -> str | None:
    """The setting a `SELECT ... FROM pg_settings WHERE name = 'x'` reads ('x'), so that a
    `set_config(name, ...)` in its select list is judged as set_config('x', ...) (pg_dump
    sets restrict_nonsystem_relation_kind so); None for any other statement."""
    if kind != "SelectStmt" or len(body.get("fromClause") or []) != 1:
        return None
    source = body["fromClause"][0].get("RangeVar") or {}
    if source.get("relname") != "pg_settings" or source.get("schemaname") not in (
        None, "pg_catalog"
    ):  # fmt: skip
        return None
    where = (body.get("whereClause") or {}).get("A_Expr") or {}
    if where.get("kind") != "AEXPR_OP" or [name_of(n) for n in where.get("name", [])] != ["="]:
        return None
    column = (where.get("lexpr") or {}).get("ColumnRef") or {}
    if [name_of(f) for f in column.get("fields", [])] != ["name"]:
        return None
    value = constant_text(where.get("rexpr"))
    if value is not None:
        consulted()
    return value


def function_hits(call: Node, setting: str | None = None) -> list[tuple[str, str]]:
    """(rule id, subject) for a call of a dangerous function or a risky set_config();
    `setting` is the name a `name` column holds (see settings_row)."""
    name = last_name(call.get("funcname", [])).lower()
    why = dangerous_function(name)
    if why is not None:
        return [("admin.dangerous_function", f"{name}(), which {why}")]
    effect = SIDE_EFFECTS.get(name)
    if effect is not None:
        return [effect]
    if name == "set_config":
        args = call.get("args", [])
        named = constant_text(args[0]) if args else None
        if named is None and args and setting is not None and _is_column(args[0], "name"):
            named = setting
        setting = named
        if setting is None:
            return [("admin.set_sensitive", "set_config() with a setting name chosen at run time")]
        consulted()
        if sensitive_setting(setting):
            return [("admin.set_sensitive", f"set_config('{setting}', ...)")]
    return []


def _is_column(node: Node, column: str) -> bool:
    kind, body = unwrap(node)
    return kind == "ColumnRef" and [name_of(f) for f in body.get("fields", [])] == [column]
