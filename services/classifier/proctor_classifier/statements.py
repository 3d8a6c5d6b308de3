"""What a statement is by its own kind: `own(kind, body) -> [(rule id, subject)]`.

Only the statement itself is judged here; what is nested in it (CTEs, function calls) and the
statements that wrap others (EXPLAIN, PREPARE, DO) are rules.py's concern. A kind without an
entry falls back by its name (Create*, Alter*, Drop*), and anything else is `write.other`:
a statement the catalog does not know needs a human, never a free pass.
"""

from __future__ import annotations

from collections.abc import Callable

from proctor_classifier.conditions import always_true
from proctor_classifier.hazards import function_hits, sensitive_setting
from proctor_classifier.literals import consulted
from proctor_classifier.sqlnames import (
    Node,
    constant_text,
    dotted,
    kind_words,
    name_of,
    object_word,
    unwrap,
)

#: (rule id, subject for the rule's reason template)
Hit = tuple[str, str]


# Kinds whose reasons name something the fingerprint leaves out (roles, cursors, channels,
# prepared statements), so `CREATE ROLE a` must not be answered from `CREATE ROLE b`'s verdict.
_NAMES_NOT_FINGERPRINTED = {
    "CreateRoleStmt", "AlterRoleStmt", "DropRoleStmt", "DropOwnedStmt", "ReassignOwnedStmt",
    "AlterOwnerStmt", "ExecuteStmt", "DeallocateStmt", "NotifyStmt", "ListenStmt",
    "UnlistenStmt", "FetchStmt", "ClosePortalStmt",
}  # fmt: skip


def own(kind: str, body: Node) -> list[Hit]:
    """The hits of a statement by its own kind, ignoring what is nested in it."""
    if kind in _NAMES_NOT_FINGERPRINTED:
        consulted()
    special = _SPECIAL.get(kind)
    if special is not None:
        return special(body)
    simple = _SIMPLE.get(kind)
    if simple is not None:
        rule_id, words, field = simple
        name = name_of(body.get(field)) if field else ""
        return [(rule_id, f"{words} {name}".strip())]
    words = kind_words(kind)
    if kind.startswith(("Create", "Define")) or kind in {"IndexStmt", "ViewStmt"}:
        return [("ddl.create", words.removeprefix("CREATE ").removeprefix("DEFINE "))]
    if kind.startswith("Alter"):
        return [("ddl.alter", words)]
    if kind.startswith("Drop"):
        return [("ddl.drop", words.removeprefix("DROP "))]
    return [("write.other", words)]


_LOCKING = {
    "LCS_FORUPDATE": "FOR UPDATE", "LCS_FORNOKEYUPDATE": "FOR NO KEY UPDATE",
    "LCS_FORSHARE": "FOR SHARE", "LCS_FORKEYSHARE": "FOR KEY SHARE",
}  # fmt: skip


def _select(body: Node) -> list[Hit]:
    if body.get("intoClause"):
        return [("ddl.create", f"TABLE {name_of(body['intoClause'].get('rel'))} (SELECT INTO)")]
    locking = body.get("lockingClause")
    if locking:
        strength = unwrap(locking[0])[1].get("strength", "")
        return [("read.select_locking", f"SELECT ... {_LOCKING.get(strength, 'FOR UPDATE')}")]
    return [("read.select", "VALUES" if body.get("valuesLists") else "SELECT")]


def _update(body: Node) -> list[Hit]:
    target = name_of(body.get("relation"))
    if always_true(body.get("whereClause")):
        return [("dml.update_all", target)]
    return [("write.update", target)]


def _delete(body: Node) -> list[Hit]:
    target = name_of(body.get("relation"))
    if always_true(body.get("whereClause")):
        return [("dml.delete_all", target)]
    return [("write.delete", target)]


def _drop(body: Node) -> list[Hit]:
    word = object_word(body.get("removeType", "OBJECT_"))
    return [("ddl.drop", f"{word} {name_of(body.get('objects', []))}".strip())]


def _drop_role(body: Node) -> list[Hit]:
    roles = name_of(body.get("roles", []))
    return [("ddl.drop", f"ROLE {roles}"), ("admin.role", f"DROP ROLE {roles}")]


_ROW_SECURITY = {
    "AT_EnableRowSecurity": "ENABLE", "AT_DisableRowSecurity": "DISABLE",
    "AT_ForceRowSecurity": "FORCE", "AT_NoForceRowSecurity": "NO FORCE",
}  # fmt: skip


def _alter_table(body: Node) -> list[Hit]:
    target = f"ALTER {object_word(body.get('objtype', 'OBJECT_TABLE'))} "
    target += name_of(body.get("relation"))
    hits: list[Hit] = []
    changed = False
    for cmd in body.get("cmds", []):
        command = unwrap(cmd)[1] or {}
        subtype = command.get("subtype", "")
        if subtype == "AT_DropColumn":
            hits.append(("ddl.alter_drop", f"{target} DROP COLUMN {command.get('name', '')}"))
        elif subtype == "AT_DropConstraint":
            hits.append(("ddl.alter_drop", f"{target} DROP CONSTRAINT {command.get('name', '')}"))
        elif subtype == "AT_ChangeOwner":
            consulted()  # the new owner's name
            hits.append(("admin.grant", f"{target} OWNER TO {name_of(command.get('newowner'))}"))
        elif subtype in _ROW_SECURITY:
            hits.append(("admin.grant", f"{target} {_ROW_SECURITY[subtype]} ROW LEVEL SECURITY"))
        else:
            changed = True
    return [*hits, ("ddl.alter", target)] if changed or not hits else hits


def _alter_domain(body: Node) -> list[Hit]:
    target = f"ALTER DOMAIN {dotted(body.get('typeName', []))}"
    if body.get("subtype") == "X":  # libpg_query's code for DROP CONSTRAINT
        return [("ddl.alter_drop", f"{target} DROP CONSTRAINT {body.get('name', '')}")]
    return [("ddl.alter", target)]


def _grant(body: Node) -> list[Hit]:
    verb = "GRANT" if body.get("is_grant") else "REVOKE"
    objects = name_of(body.get("objects", []))
    return [("admin.grant", f"{verb} ON {objects}" if objects else verb)]


def _grant_role(body: Node) -> list[Hit]:
    verb = "GRANT" if body.get("is_grant") else "REVOKE"
    return [("admin.grant", f"{verb} {name_of(body.get('granted_roles', []))}")]


def _create_role(body: Node) -> list[Hit]:
    word = body.get("stmt_type", "ROLESTMT_ROLE").removeprefix("ROLESTMT_")
    return [("admin.role", f"CREATE {word} {body.get('role', '')}")]


def _alter_system(body: Node) -> list[Hit]:
    setting = body.get("setstmt", {})
    verb = "RESET" if str(setting.get("kind", "")).startswith("VAR_RESET") else "SET"
    return [("admin.alter_system", f"ALTER SYSTEM {verb} {setting.get('name', 'ALL')}")]


def _copy(body: Node) -> list[Hit]:
    target = name_of(body.get("relation")) or "(query)"
    filename = body.get("filename")
    if body.get("is_program"):
        return [("admin.copy_program", f"'{filename}'")]
    if filename:
        return [("admin.copy_file", f"{'FROM' if body.get('is_from') else 'TO'} '{filename}'")]
    return [("write.copy_from_client" if body.get("is_from") else "read.copy_to_client", target)]


def _set(body: Node) -> list[Hit]:
    name = str(body.get("name", ""))
    if body.get("kind") in {"VAR_RESET", "VAR_RESET_ALL", "VAR_SET_DEFAULT"}:
        # Back to the session's starting value, which never gains a privilege.
        return [("session.set", f"RESET {name or 'ALL'}")]
    args = body.get("args", [])
    if name == "role" and args:
        consulted()
        if (constant_text(args[0]) or "").lower() == "none":
            return [("session.set", "SET ROLE NONE")]
    if sensitive_setting(name):
        return [("admin.set_sensitive", f"SET {name}")]
    return [("session.set", f"SET {name}")]


_TWO_PHASE = {
    "TRANS_STMT_PREPARE": "PREPARE TRANSACTION",
    "TRANS_STMT_COMMIT_PREPARED": "COMMIT PREPARED",
    "TRANS_STMT_ROLLBACK_PREPARED": "ROLLBACK PREPARED",
}


def _transaction(body: Node) -> list[Hit]:
    kind = str(body.get("kind", "TRANS_STMT_BEGIN"))
    if kind in _TWO_PHASE:
        return [("write.two_phase", _TWO_PHASE[kind])]
    return [("transaction.control", kind.removeprefix("TRANS_STMT_").replace("_", " "))]


def _create_function(body: Node) -> list[Hit]:
    word = "PROCEDURE" if body.get("is_procedure") else "FUNCTION"
    verb = "CREATE OR REPLACE" if body.get("replace") else "CREATE"
    return [("code.function", f"{verb} {word} {dotted(body.get('funcname', []))}")]


def _create_table_as(body: Node) -> list[Hit]:
    word = "MATERIALIZED VIEW" if body.get("objtype") == "OBJECT_MATVIEW" else "TABLE"
    return [("ddl.create", f"{word} {name_of(body.get('into', {}).get('rel'))} AS ...")]


def _call(body: Node) -> list[Hit]:
    call = body.get("funccall") or {}
    return [("write.call", name_of(call)), *function_hits(call)]  # inline, so _nested misses it


_ACCESS_SHARE = 1  # lockmodes.h: the lock every SELECT takes


def _lock(body: Node) -> list[Hit]:
    tables = name_of(body.get("relations", []))
    if body.get("mode") == _ACCESS_SHARE:
        return [("read.lock_shared", tables)]
    return [("write.lock", tables)]


def _vacuum(body: Node) -> list[Hit]:
    word = "VACUUM" if body.get("is_vacuumcmd") else "ANALYZE"
    return [("write.maintenance", f"{word} {name_of(body.get('rels', []))}".strip())]


def _define(body: Node) -> list[Hit]:
    word = object_word(str(body.get("kind", "OBJECT_")))
    return [("ddl.create", f"{word} {dotted(body.get('defnames', []))}".strip())]


def _rename(body: Node) -> list[Hit]:
    word = object_word(str(body.get("renameType", "OBJECT_")))
    target = name_of(body.get("relation")) or name_of(body.get("object"))
    if body.get("renameType") == "OBJECT_ROLE":
        return [("admin.role", f"ALTER ROLE {body.get('subname', '')} RENAME")]
    return [("ddl.alter", f"RENAME of {word} {target}".strip())]


_SPECIAL: dict[str, Callable[[Node], list[Hit]]] = {
    "SelectStmt": _select,
    "InsertStmt": lambda b: [("write.insert", name_of(b.get("relation")))],
    "UpdateStmt": _update,
    "DeleteStmt": _delete,
    "MergeStmt": lambda b: [("write.merge", name_of(b.get("relation")))],
    "TruncateStmt": lambda b: [("dml.truncate", name_of(b.get("relations", [])))],
    "DropStmt": _drop,
    "DropRoleStmt": _drop_role,
    "AlterTableStmt": _alter_table,
    "AlterDomainStmt": _alter_domain,
    "GrantStmt": _grant,
    "GrantRoleStmt": _grant_role,
    "CreateRoleStmt": _create_role,
    "AlterSystemStmt": _alter_system,
    "CopyStmt": _copy,
    "VariableSetStmt": _set,
    "TransactionStmt": _transaction,
    "CreateFunctionStmt": _create_function,
    "CreateTableAsStmt": _create_table_as,
    "CallStmt": _call,
    "VacuumStmt": _vacuum,
    "LockStmt": _lock,
    "DefineStmt": _define,
    "RenameStmt": _rename,
}

#: kind -> (rule id, words for the subject, field holding the object's name or None)
_SIMPLE: dict[str, tuple[str, str, str | None]] = {
    "AlterDefaultPrivilegesStmt": ("admin.grant", "ALTER DEFAULT PRIVILEGES", None),
    "AlterOwnerStmt": ("admin.grant", "ALTER ... OWNER TO", "newowner"),
    "ReassignOwnedStmt": ("admin.grant", "REASSIGN OWNED TO", "newrole"),
    "AlterRoleStmt": ("admin.role", "ALTER ROLE", "role"),
    "AlterRoleSetStmt": ("admin.role", "ALTER ROLE ... SET", None),
    "AlterDatabaseSetStmt": ("admin.alter_system", "ALTER DATABASE", "dbname"),
    "AlterDatabaseStmt": ("admin.alter_system", "ALTER DATABASE", "dbname"),
    "CreatePolicyStmt": ("admin.grant", "CREATE POLICY", "policy_name"),
    "AlterPolicyStmt": ("admin.grant", "ALTER POLICY", "policy_name"),
    "CreateExtensionStmt": ("admin.extension", "CREATE EXTENSION", "extname"),
    "AlterExtensionStmt": ("admin.extension", "ALTER EXTENSION", "extname"),
    "AlterExtensionContentsStmt": ("admin.extension", "ALTER EXTENSION", "extname"),
    "LoadStmt": ("admin.extension", "LOAD", "filename"),
    "CreatePLangStmt": ("admin.extension", "CREATE LANGUAGE", "plname"),
    "CreateFdwStmt": ("admin.remote", "CREATE FOREIGN DATA WRAPPER", "fdwname"),
    "AlterFdwStmt": ("admin.remote", "ALTER FOREIGN DATA WRAPPER", "fdwname"),
    "CreateForeignServerStmt": ("admin.remote", "CREATE SERVER", "servername"),
    "AlterForeignServerStmt": ("admin.remote", "ALTER SERVER", "servername"),
    "CreateUserMappingStmt": ("admin.remote", "CREATE USER MAPPING FOR SERVER", "servername"),
    "AlterUserMappingStmt": ("admin.remote", "ALTER USER MAPPING FOR SERVER", "servername"),
    "ImportForeignSchemaStmt": ("admin.remote", "IMPORT FOREIGN SCHEMA", "remote_schema"),
    "CreatePublicationStmt": ("admin.remote", "CREATE PUBLICATION", "pubname"),
    "AlterPublicationStmt": ("admin.remote", "ALTER PUBLICATION", "pubname"),
    "CreateSubscriptionStmt": ("admin.remote", "CREATE SUBSCRIPTION", "subname"),
    "AlterSubscriptionStmt": ("admin.remote", "ALTER SUBSCRIPTION", "subname"),
    "AlterFunctionStmt": ("code.function", "ALTER FUNCTION", "func"),
    "CreateTrigStmt": ("code.trigger", "CREATE TRIGGER", "trigname"),
    "CreateEventTrigStmt": ("code.trigger", "CREATE EVENT TRIGGER", "trigname"),
    "AlterEventTrigStmt": ("code.trigger", "ALTER EVENT TRIGGER", "trigname"),
    "RuleStmt": ("code.trigger", "CREATE RULE", "rulename"),
    "ClusterStmt": ("write.maintenance", "CLUSTER", "relation"),
    "ReindexStmt": ("write.maintenance", "REINDEX", "relation"),
    "CheckPointStmt": ("write.maintenance", "CHECKPOINT", None),
    "RefreshMatViewStmt": ("write.maintenance", "REFRESH MATERIALIZED VIEW", "relation"),
    "NotifyStmt": ("write.other", "NOTIFY", "conditionname"),
    "ExecuteStmt": ("write.execute", "", "name"),
    "ListenStmt": ("session.other", "LISTEN", "conditionname"),
    "UnlistenStmt": ("session.other", "UNLISTEN", "conditionname"),
    "FetchStmt": ("session.other", "FETCH", "portalname"),
    "ClosePortalStmt": ("session.other", "CLOSE", "portalname"),
    "DeallocateStmt": ("session.other", "DEALLOCATE", "name"),
    "DiscardStmt": ("session.other", "DISCARD", None),
    "ConstraintsSetStmt": ("session.other", "SET CONSTRAINTS", None),
    "VariableShowStmt": ("session.show", "", "name"),
    "DropdbStmt": ("ddl.drop", "DATABASE", "dbname"),
    "DropTableSpaceStmt": ("ddl.drop", "TABLESPACE", "tablespacename"),
    "DropSubscriptionStmt": ("ddl.drop", "SUBSCRIPTION", "subname"),
    "DropUserMappingStmt": ("ddl.drop", "USER MAPPING FOR SERVER", "servername"),
    "DropOwnedStmt": ("ddl.drop", "OWNED BY", "roles"),
    "CreatedbStmt": ("ddl.create", "DATABASE", "dbname"),
    "CreateSchemaStmt": ("ddl.create", "SCHEMA", "schemaname"),
    "CreateStmt": ("ddl.create", "TABLE", "relation"),
    "IndexStmt": ("ddl.create", "INDEX ON", "relation"),
    "ViewStmt": ("ddl.create", "VIEW", "view"),
    "CreateSeqStmt": ("ddl.create", "SEQUENCE", "sequence"),
    "AlterSeqStmt": ("ddl.alter", "ALTER SEQUENCE", "sequence"),
    "CommentStmt": ("ddl.alter", "COMMENT ON", None),
    "SecLabelStmt": ("ddl.alter", "SECURITY LABEL", None),
}
