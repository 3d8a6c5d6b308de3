"""The functions and settings that make an otherwise harmless statement dangerous.

A function here is flagged wherever it appears in a statement that runs now (a SELECT list, a
WHERE clause, a FROM, a default), because Postgres evaluates it wherever it appears. Names are
compared without schema and case, so `pg_catalog.PG_TERMINATE_BACKEND` counts too.
"""

from __future__ import annotations

from proctor_classifier.literals import consulted
from proctor_classifier.sqlnames import Node, constant_text, last_name

_SESSIONS = "acts on other sessions"
_FILES_READ = "reads files or directories on the database server"
_FILES_WRITE = "writes or removes files on the database server"
_REPLICATION = "changes replication state that standbys and consumers depend on"
_DYNAMIC = "runs SQL given as a string, which the gateway cannot check"

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
    "query_to_xml": _DYNAMIC,
    "query_to_xmlschema": _DYNAMIC,
    "query_to_xml_and_xmlschema": _DYNAMIC,
}

#: Every function whose name starts with one of these (the dblink extension's family).
DANGEROUS_PREFIXES: dict[str, str] = {
    "dblink": "runs SQL on another database, out of the gateway's sight",
}

#: Settings that change who the session is, switch off safety nets or hide activity from logs.
#: search_path is not here: it only changes name lookup for the agent's own session.
SENSITIVE_SETTINGS: frozenset[str] = frozenset({
    "role",
    "session_authorization",
    "session_replication_role",  # "replica" disables triggers and foreign-key checks
    "row_security",
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


def function_hits(call: Node) -> list[tuple[str, str]]:
    """(rule id, subject) for a call of a dangerous function or a risky set_config()."""
    name = last_name(call.get("funcname", [])).lower()
    why = dangerous_function(name)
    if why is not None:
        return [("admin.dangerous_function", f"{name}(), which {why}")]
    if name == "set_config":
        args = call.get("args", [])
        setting = constant_text(args[0]) if args else None
        if setting is None:
            return [("admin.set_sensitive", "set_config() with a setting name chosen at run time")]
        consulted()
        if sensitive_setting(setting):
            return [("admin.set_sensitive", f"set_config('{setting}', ...)")]
    return []
