"""Ambra tables, seeding, and the queries the handlers run.

* ``ambra_objects`` — every object of the generic engine (accounts, users, roles,
  namespaces, groups, customfields, webhooks, ...): ``kind`` is the spec's resource name,
  ``data`` the object's fields as JSON (keys starting with ``_`` are private: password
  hashes), with indexed columns for scoping (``account_id``, ``parent_id``, ``key``).
* ``ambra_studies`` — studies, with real, indexed columns for what lists filter and sort by
  (the other fields in ``data``), and ``doc``: the study exactly as replies show it (JSON bytes,
  with its tags and its PHI namespace's name, without ``account_id``), so a page of
  ``/study/list`` is read, not rebuilt (see ``AmbraStore.study_docs``). ``doc`` is rendered
  in the transaction that writes what it shows: the study (``seed``, ``insert_study``,
  ``update_study``), its tags (``tag``), or its namespace (``insert``/``update``/``delete``
  of an object). Every write of these tables goes through this module; a row without a
  ``doc`` is still served, the slow way.
* ``ambra_sessions`` (sids and OAuth tokens), ``ambra_tags``, ``ambra_audit``,
  ``ambra_shares`` and ``ambra_kv`` (seeded credentials, settings).
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from typing import Any

import orjson

from medimock.fixtures import ambra as fixtures

from ...api import SPECS_DIR
from ...spec import read_document
from ...store import SeedContext, Store, StoreSchema
from .shapes import now_stamp

STUDY_COLUMNS = fixtures.STUDY_COLUMNS  # the bulk columns (fixtures.BULK_COLUMNS) begin with these
INTEGER_COLUMNS = frozenset({"image_count", "size", "must_approve", "star"})
_STUDY_DDL = ",\n".join(f"{c} {'INTEGER' if c in INTEGER_COLUMNS else 'TEXT'}" for c in STUDY_COLUMNS if c != "uuid")

DDL = [
    """CREATE TABLE IF NOT EXISTS ambra_objects (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        uuid TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        account_id TEXT,
        namespace_id TEXT,
        parent_id TEXT,
        key TEXT,
        created TEXT NOT NULL,
        updated TEXT NOT NULL,
        data TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ambra_objects_account ON ambra_objects (kind, account_id, seq)",
    "CREATE INDEX IF NOT EXISTS ambra_objects_parent ON ambra_objects (kind, parent_id, key)",
    "CREATE INDEX IF NOT EXISTS ambra_objects_key ON ambra_objects (kind, key)",
    f"""CREATE TABLE IF NOT EXISTS ambra_studies (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        uuid TEXT NOT NULL UNIQUE,
        {_STUDY_DDL},
        data TEXT NOT NULL,
        doc BLOB
    )""",
    "CREATE INDEX IF NOT EXISTS ambra_studies_created ON ambra_studies (created, seq)",
    "CREATE INDEX IF NOT EXISTS ambra_studies_namespace ON ambra_studies (phi_namespace, created, seq)",
    "CREATE INDEX IF NOT EXISTS ambra_studies_uid ON ambra_studies (study_uid, storage_namespace)",
    "CREATE INDEX IF NOT EXISTS ambra_studies_patientid ON ambra_studies (patientid)",
    "CREATE INDEX IF NOT EXISTS ambra_studies_accession ON ambra_studies (accession_number)",
    # Sorts walk an index instead of sorting every match: ``created`` is the tie-breaker of every
    # sort and ``seq`` (the rowid) ends every index, so "filter.modality.equals=CT&sort_by=study_date-desc"
    # reads exactly one page of rows.
    "CREATE INDEX IF NOT EXISTS ambra_studies_modality ON ambra_studies (modality, created)",
    "CREATE INDEX IF NOT EXISTS ambra_studies_modality_date ON ambra_studies (modality, study_date, created)",
    "CREATE INDEX IF NOT EXISTS ambra_studies_modality_name ON ambra_studies (modality, patient_name, created)",
    "CREATE INDEX IF NOT EXISTS ambra_studies_date_created ON ambra_studies (study_date, created)",
    "CREATE INDEX IF NOT EXISTS ambra_studies_name_created ON ambra_studies (patient_name, created)",
    # studies per (PHI namespace, modality), kept by every write of a study: study/count without a filter but
    # the caller's namespaces (and a modality) sums a few hundred rows instead of counting a million index entries
    """CREATE TABLE IF NOT EXISTS ambra_study_counts (
        phi_namespace TEXT,
        modality TEXT,
        n INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ambra_study_counts_key ON ambra_study_counts (phi_namespace, modality)",
    """CREATE TABLE IF NOT EXISTS ambra_sessions (
        sid TEXT PRIMARY KEY,
        user_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        created REAL NOT NULL,
        expires REAL NOT NULL,
        ttl REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ambra_sessions_user ON ambra_sessions (user_id, kind, created)",
    """CREATE TABLE IF NOT EXISTS ambra_tags (
        object TEXT NOT NULL,
        object_id TEXT NOT NULL,
        tag TEXT NOT NULL,
        created TEXT NOT NULL,
        PRIMARY KEY (object, object_id, tag)
    )""",
    "CREATE INDEX IF NOT EXISTS ambra_tags_tag ON ambra_tags (object, tag)",
    """CREATE TABLE IF NOT EXISTS ambra_audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        uuid TEXT NOT NULL,
        object_id TEXT NOT NULL,
        account_id TEXT,
        user_id TEXT,
        action TEXT NOT NULL,
        type TEXT,
        what TEXT,
        who TEXT,
        detail TEXT,
        at TEXT NOT NULL,
        client_address TEXT,
        sid TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS ambra_audit_object ON ambra_audit (object_id, seq)",
    "CREATE INDEX IF NOT EXISTS ambra_audit_account ON ambra_audit (account_id, seq)",
    "CREATE INDEX IF NOT EXISTS ambra_audit_user ON ambra_audit (user_id, seq)",
    """CREATE TABLE IF NOT EXISTS ambra_shares (
        study_id TEXT NOT NULL,
        target_type TEXT NOT NULL,
        target_id TEXT NOT NULL,
        copy_id TEXT,
        created TEXT NOT NULL,
        PRIMARY KEY (study_id, target_type, target_id)
    )""",
    "CREATE TABLE IF NOT EXISTS ambra_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
]
TABLES = ["ambra_objects", "ambra_studies", "ambra_study_counts", "ambra_sessions", "ambra_tags", "ambra_audit", "ambra_shares", "ambra_kv"]


@lru_cache(maxsize=1)
def permission_defaults() -> dict[str, dict[str, int]]:
    """role type -> flag -> value, from the Permissions table as the spec's ``RolePermissions`` carries it."""
    document = read_document(SPECS_DIR / "ambra" / "openapi.yaml")
    properties = document["components"]["schemas"]["RolePermissions"]["properties"]
    out: dict[str, dict[str, int]] = {"admin": {}, "user": {}, "phr": {}, "anonymous": {}}
    for flag, schema in properties.items():
        for role, value in (schema.get("x-ambra-defaults") or {}).items():
            if role in out and (value in (0, 1) or isinstance(value, str)):
                out[role][flag] = value
    return out


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def study_row(study: dict[str, Any]) -> tuple[Any, ...]:
    data = {k: v for k, v in study.items() if k not in STUDY_COLUMNS and k != "tags"}
    return (*(study.get(c) for c in STUDY_COLUMNS), dumps(data))


# A study with its tags (a correlated look-up on the tags' primary key: one query per page).
_STUDY_FIELDS = (
    f"{', '.join(STUDY_COLUMNS)}, data, (SELECT group_concat(tag, char(31)) FROM ambra_tags AS t"
    " WHERE t.object = 'Study' AND t.object_id = ambra_studies.uuid)"
)
STUDY_SELECT = f"SELECT {_STUDY_FIELDS} FROM ambra_studies"


def study_customfields(stored: Any, defined: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A study's ``customfields`` as replies show them: every Study custom field of its account
    (uuid, name, type), with the value the study holds for it (null when it holds none)."""
    values = {str(c.get("uuid") or "").lower(): c.get("value") for c in stored or () if isinstance(c, dict)}
    return [{**field, "value": values.get(str(field["uuid"]).lower())} for field in defined]


def defined_customfields(conn: Any, object_name: str = "Study") -> dict[str, list[dict[str, Any]]]:
    """account uuid -> the custom fields its objects of ``object_name`` carry, in display order."""
    found: dict[str, list[tuple[Any, int, dict[str, Any]]]] = {}
    for row in conn.execute("SELECT seq, uuid, account_id, data FROM ambra_objects WHERE kind = 'customfield' ORDER BY seq"):
        data = orjson.loads(row[3])
        if str(data.get("object") or "") != object_name:
            continue
        order = data.get("display_order") if isinstance(data.get("display_order"), int) else 0
        found.setdefault(row[2], []).append((order, row[0], {"uuid": row[1], "name": data.get("name"), "type": data.get("type") or "text"}))
    return {account: [entry for _, _, entry in sorted(fields, key=lambda f: (f[0], f[1]))] for account, fields in found.items()}


def study_doc(study: dict[str, Any], namespace_name: Any, customfields: list[dict[str, Any]] | None = None) -> bytes:
    """A study read back from the table as replies show it without options: what
    ``studies.shown`` makes of it, built the same way."""
    item = {k: v for k, v in study.items() if k != "account_id"}
    item["phi_namespace_name"] = namespace_name
    if customfields:  # "This is only returned if the study has custom fields"
        item["customfields"] = study_customfields(study.get("customfields"), customfields)
    else:
        item.pop("customfields", None)
    return orjson.dumps(item)


def render_docs(conn: sqlite3.Connection, where: str, params: tuple[Any, ...]) -> None:
    """(Re-)render ``doc`` of the studies ``where`` selects, inside the caller's write
    transaction, from the rows as stored (SQLite's column typing applied, as reads see it)."""
    cursor = conn.cursor()
    cursor.row_factory = None
    rows = cursor.execute(
        f"SELECT seq, {_STUDY_FIELDS}, (SELECT o.data FROM ambra_objects AS o WHERE o.uuid = ambra_studies.phi_namespace"
        f" AND o.kind = 'namespace') FROM ambra_studies WHERE {where}",
        params,
    ).fetchall()
    if not rows:
        return
    defined = defined_customfields(cursor)
    docs = []
    for row in rows:
        study = _study(row[1:-1])
        docs.append((study_doc(study, orjson.loads(row[-1]).get("name") if row[-1] else None, defined.get(study["account_id"])), row[0]))
    conn.executemany("UPDATE ambra_studies SET doc = ? WHERE seq = ?", docs)


# The studies whose doc shows an object's name (when the object is their PHI namespace):
# an indexed look-up that finds nothing for any other object.
_IN_NAMESPACE = "phi_namespace = ?"


def _rerender(conn: sqlite3.Connection, kind: str, uuid: str, account_id: Any) -> None:
    """Re-render the docs that show an object: a namespace's studies (its name), or, for a custom
    field, every study of its account (their ``customfields``)."""
    if kind == "customfield":
        render_docs(conn, "account_id = ?", (account_id,))
    elif kind == "namespace":
        render_docs(conn, _IN_NAMESPACE, (uuid,))


STUDY_INSERT = f"INSERT INTO ambra_studies ({', '.join(STUDY_COLUMNS)}, data) VALUES ({', '.join('?' * (len(STUDY_COLUMNS) + 1))})"
OBJECT_INSERT = "INSERT INTO ambra_objects (uuid, kind, account_id, namespace_id, parent_id, key, created, updated, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


def seed(conn: sqlite3.Connection, context: SeedContext) -> None:
    data = fixtures.build(context.seed, context.profile, now=context.now, permissions=permission_defaults())
    conn.executemany(
        OBJECT_INSERT,
        [
            (o.uuid, o.kind, o.account_id, o.namespace_id, o.parent_id, o.key, o.data["created"], o.data["updated"], dumps(o.data))
            for o in data.objects
        ],
    )
    conn.executemany(STUDY_INSERT, [study_row(s) for s in data.studies])
    stamp = now_stamp()
    conn.executemany("INSERT OR IGNORE INTO ambra_tags VALUES (?, ?, ?, ?)", [(*t, stamp) for t in data.tags])
    render_docs(conn, "1", ())
    conn.executemany(
        "INSERT INTO ambra_audit (uuid, object_id, account_id, user_id, action, type, what, who, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (a["uuid"], a["object_id"], a["account_id"], a["user_id"], a["action"], a["type"], a["what"],
             a["who"], dumps(a["detail"]), a["when"])
            for a in data.audit
        ],
    )  # fmt: skip
    conn.execute("INSERT INTO ambra_kv VALUES ('credentials', ?)", (dumps(data.credentials),))
    counts = Counter((s.get("phi_namespace"), s.get("modality")) for s in data.studies)
    if data.bulk is not None:
        counts += seed_bulk(conn, data.bulk)
    conn.executemany("INSERT INTO ambra_study_counts VALUES (?, ?, ?)", [(*key, n) for key, n in sorted(counts.items(), key=str)])


def count_study(conn: sqlite3.Connection, phi_namespace: Any, modality: Any, delta: int) -> None:
    """``delta`` studies more (or fewer) in ``ambra_study_counts`` for a namespace and modality (NULLs included)."""
    changed = conn.execute(
        "UPDATE ambra_study_counts SET n = n + ? WHERE phi_namespace IS ? AND modality IS ?", (delta, phi_namespace, modality)
    ).rowcount
    if not changed:
        conn.execute("INSERT INTO ambra_study_counts VALUES (?, ?, ?)", (phi_namespace, modality, delta))


AUDIT_INSERT = "INSERT INTO ambra_audit (uuid, object_id, account_id, user_id, action, type, what, who, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_BULK_TABLES = ("ambra_studies", "ambra_tags")
_SEED_MMAP = 8 << 30
_SEED_CACHE_KIB = 128 * 1024  # the page cache while the bulk rows go in (the uuid index takes random inserts)


def seed_bulk(conn: sqlite3.Connection, bulk: fixtures.BulkStudies) -> Counter[tuple[Any, Any]]:
    """The ``huge`` profile's bulk studies, chunk by chunk: each study's row, its ``doc`` (what ``study_doc``
    renders) and its tags, written with ``executemany`` while the secondary indexes of these tables are
    dropped, then each index built once (a sort, instead of a million random inserts per index). On a
    machine with more than one core, chunks are made by two forked processes while this one writes
    (a chunk depends on the seed and its number only, and they are written in order, so the data are the
    same); at most a few chunks wait in memory."""
    indexes = list(
        conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({','.join('?' * len(_BULK_TABLES))})",
            _BULK_TABLES,
        )
    )
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    previous_cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    previous_threads = conn.execute("PRAGMA threads").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = -{_SEED_CACHE_KIB}")
    conn.execute("PRAGMA threads = 2")  # index builds sort with a helper thread
    conn.execute(f"PRAGMA mmap_size = {_SEED_MMAP}")  # and read the table through a mapping, not a read() per page
    try:
        defined = defined_customfields(conn)
        wanted = sorted({t[2] for t in bulk.targets})
        names = {
            row[0]: orjson.loads(row[1]).get("name")
            for row in conn.execute(
                f"SELECT uuid, data FROM ambra_objects WHERE kind = 'namespace' AND uuid IN ({','.join('?' * len(wanted))})", wanted
            )
        }
        # a bulk study holds no custom field values: its account's fields, each with a null value
        fields = {account: study_customfields(None, defined[account]) for account in defined}
        _BULK_STATE[:] = [bulk, names, fields, now_stamp()]
        insert = f"INSERT INTO ambra_studies ({', '.join(STUDY_COLUMNS)}, data, doc) VALUES ({', '.join('?' * (len(STUDY_COLUMNS) + 2))})"
        counts: Counter[tuple[Any, Any]] = Counter()
        namespace_at, modality_at = STUDY_COLUMNS.index("phi_namespace"), STUDY_COLUMNS.index("modality")
        for rows, tags in _rendered_chunks(bulk.chunk_count):
            counts.update((row[namespace_at], row[modality_at]) for row in rows)
            conn.executemany(insert, rows)
            conn.executemany("INSERT OR IGNORE INTO ambra_tags VALUES (?, ?, ?, ?)", tags)
        for _, sql in indexes:
            conn.execute(sql)
        return counts
    finally:
        _BULK_STATE.clear()
        conn.execute(f"PRAGMA cache_size = {int(previous_cache)}")
        conn.execute(f"PRAGMA threads = {int(previous_threads)}")
        conn.execute("PRAGMA mmap_size = 0")


_BULK_STATE: list[Any] = []  # what forked chunk makers read: plan, namespace names, custom fields, the tags' time
_IN_FLIGHT = 3  # chunks made ahead of the writer


def _rendered_chunks(count: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[str, str, str, str]]]]:
    if count < 2 or (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield from map(_render_chunk, range(count))
        return
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("fork")) as pool:
        pending = deque(pool.submit(_render_chunk, number) for number in range(min(_IN_FLIGHT, count)))
        following = len(pending)
        while pending:
            done = pending.popleft().result()
            if following < count:
                pending.append(pool.submit(_render_chunk, following))
                following += 1
            yield done


def _render_chunk(number: int) -> tuple[list[tuple[Any, ...]], list[tuple[str, str, str, str]]]:
    """Chunk ``number``'s rows (columns, ``data``, ``doc``) and tag rows. ``doc`` is what ``study_doc`` makes of
    the study (tests hold it to ``render_docs``), key for key: the fields but ``account_id``, its tags, then
    its namespace's name and its account's custom fields, which are the same for every study of a namespace:
    encoded once per namespace and appended to each study's own encoding."""
    bulk, names, fields, tagged_at = _BULK_STATE
    chunk = bulk.chunk(number)
    columns = fixtures.BULK_COLUMNS
    stored, extra = len(STUDY_COLUMNS), columns[len(STUDY_COLUMNS) :]
    account_at, namespace_at = columns.index("account_id"), columns.index("phi_namespace")
    shown_keys = columns[:account_at] + columns[account_at + 1 :]
    endings: dict[tuple[Any, Any], bytes] = {}
    for _, _, namespace, _ in bulk.targets:
        for account in {t[0] for t in bulk.targets if t[2] == namespace}:
            tail: dict[str, Any] = {"phi_namespace_name": names.get(namespace)}
            if fields.get(account):
                tail["customfields"] = fields[account]
            endings[(account, namespace)] = b"," + orjson.dumps(tail)[1:]  # without its "{"
    rows, tags = [], []
    for values, study_tags in zip(zip(*(chunk[c] for c in columns), strict=True), chunk["tags"], strict=True):
        item = dict(zip(shown_keys, values[:account_at] + values[account_at + 1 :], strict=True))
        if study_tags:
            item["tags"] = study_tags
            tags += [("Study", values[0], tag, tagged_at) for tag in study_tags]
        doc = orjson.dumps(item)[:-1] + endings[(values[account_at], values[namespace_at])]
        rows.append((*values[:stored], dumps(dict(zip(extra, values[stored:], strict=True))), doc))
    return rows, tags


SCHEMA = StoreSchema(name="ambra", ddl=DDL, tables=TABLES, seed=seed)


def public(data: dict[str, Any]) -> dict[str, Any]:
    """An object's fields without the private ones (password hashes...)."""
    return {k: v for k, v in data.items() if not k.startswith("_")}


class AmbraStore:
    """The queries of the Ambra handlers, over the shared ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- generic objects --------------------------------------------------------------------
    def object(self, uuid: str, kind: str | None = None) -> dict[str, Any] | None:
        if kind is None:
            row = self.store.query_one("SELECT * FROM ambra_objects WHERE uuid = ?", (uuid,))
        else:
            row = self.store.query_one("SELECT * FROM ambra_objects WHERE uuid = ? AND kind = ?", (uuid, kind))
        return _object(row)

    def child(self, kind: str, parent_id: str, key: str) -> dict[str, Any] | None:
        row = self.store.query_one("SELECT * FROM ambra_objects WHERE kind = ? AND parent_id = ? AND key = ?", (kind, parent_id, key))
        return _object(row)

    def by_key(self, kind: str, key: str) -> list[dict[str, Any]]:
        rows = self.store.query("SELECT * FROM ambra_objects WHERE kind = ? AND key = ? ORDER BY seq", (kind, key))
        return [o for o in map(_object, rows) if o is not None]

    def objects(self, where: str, params: list[Any], order: str = "seq", limit: int = -1, offset: int = 0) -> list[dict[str, Any]]:
        rows = self.store.query(f"SELECT * FROM ambra_objects WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?", (*params, limit, offset))
        return [o for o in map(_object, rows) if o is not None]

    def count(self, table: str, where: str, params: list[Any]) -> int:
        row = self.store.query_one(f"SELECT COUNT(*) FROM {table} WHERE {where}", tuple(params))
        return int(row[0]) if row else 0

    def insert(self, kind: str, uuid: str, data: dict[str, Any], **columns: Any) -> dict[str, Any]:
        stamp = now_stamp()
        data = {"uuid": uuid, "created": stamp, "updated": stamp, **data}
        with self.store.write() as conn:
            conn.execute(
                OBJECT_INSERT,
                (uuid, kind, columns.get("account_id"), columns.get("namespace_id"), columns.get("parent_id"), columns.get("key"), stamp, stamp,
                 dumps(data)),
            )  # fmt: skip
            _rerender(conn, kind, uuid, columns.get("account_id"))
        return data

    def update(self, uuid: str, changes: dict[str, Any], **columns: Any) -> dict[str, Any] | None:
        with self.store.write() as conn:
            row = conn.execute("SELECT kind, account_id, data FROM ambra_objects WHERE uuid = ?", (uuid,)).fetchone()
            if row is None:
                return None
            data = {**orjson.loads(row["data"]), **changes, "updated": now_stamp()}
            sets = "".join(f", {name} = ?" for name in columns)
            conn.execute(
                f"UPDATE ambra_objects SET data = ?, updated = ?{sets} WHERE uuid = ?",
                (dumps(data), data["updated"], *columns.values(), uuid),
            )
            _rerender(conn, row["kind"], uuid, row["account_id"])
        return data

    def delete(self, uuid: str) -> bool:
        with self.store.write() as conn:
            row = conn.execute("SELECT kind, account_id FROM ambra_objects WHERE uuid = ?", (uuid,)).fetchone()
            deleted = conn.execute("DELETE FROM ambra_objects WHERE uuid = ?", (uuid,)).rowcount == 1
            conn.execute("DELETE FROM ambra_objects WHERE parent_id = ? AND kind LIKE '%\\_%' ESCAPE '\\'", (uuid,))
            _rerender(conn, row["kind"] if row else "", uuid, row["account_id"] if row else None)
        return deleted

    # -- studies ----------------------------------------------------------------------------
    def _studies(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        cursor = self.store.connection().cursor()
        cursor.row_factory = None  # plain tuples: the columns are known
        return [_study(row) for row in cursor.execute(sql, params).fetchall()]

    def study(self, uuid: str) -> dict[str, Any] | None:
        found = self._studies(f"{STUDY_SELECT} WHERE uuid = ?", (uuid,))
        return found[0] if found else None

    def study_by_uid(self, study_uid: str, storage_namespace: str | None, phi_namespace: str | None) -> dict[str, Any] | None:
        sql, params = f"{STUDY_SELECT} WHERE study_uid = ?", [study_uid]
        if storage_namespace:
            sql, params = sql + " AND storage_namespace = ?", [*params, storage_namespace]
        if phi_namespace:
            sql, params = sql + " AND phi_namespace = ?", [*params, phi_namespace]
        found = self._studies(sql + " ORDER BY seq LIMIT 1", tuple(params))
        return found[0] if found else None

    def studies(self, where: str, params: list[Any], order: str, limit: int, offset: int) -> list[dict[str, Any]]:
        return self._studies(f"{STUDY_SELECT} WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?", (*params, limit, offset))

    def study_docs(self, where: str, params: list[Any], order: str, limit: int, offset: int) -> list[bytes] | None:
        """The ``doc`` of each study of a page, or None when a row has none (then ask ``studies``).

        The fast path of ``/study/list``: one indexed query reading one value per study,
        instead of every column, the tags, the namespace and a JSON parse per study.
        """

        def page() -> list[bytes] | None:
            cursor = self.store.connection().cursor()
            cursor.row_factory = None
            docs = [
                row[0]
                for row in cursor.execute(
                    f"SELECT doc FROM ambra_studies WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?", (*params, limit, offset)
                )
            ]
            return None if None in docs else docs

        # Clients list the same pages again and again: keep a page until the store changes.
        return self.store.cached(("ambra.study_docs", where, tuple(params), order, limit, offset), page)

    def customfield_definitions(self, object_name: str = "Study") -> dict[str, list[dict[str, Any]]]:
        """account uuid -> the custom fields of its ``object_name`` objects (kept until the store changes)."""
        return self.store.cached(("ambra.customfields", object_name), lambda: defined_customfields(self.store.connection(), object_name))

    def study_count(self, where: str, params: list[Any]) -> int:
        """The studies ``where`` selects, summed from ``ambra_study_counts``: ``where`` may name only
        ``phi_namespace`` and ``modality``."""
        row = self.store.query_one(f"SELECT coalesce(sum(n), 0) FROM ambra_study_counts WHERE {where}", tuple(params))
        return int(row[0]) if row else 0

    def insert_study(self, study: dict[str, Any]) -> None:
        with self.store.write() as conn:
            conn.execute(STUDY_INSERT, study_row(study))
            count_study(conn, study.get("phi_namespace"), study.get("modality"), 1)
            render_docs(conn, "uuid = ?", (study["uuid"],))

    def update_study(self, uuid: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        with self.store.write() as conn:
            found = self._studies(f"{STUDY_SELECT} WHERE uuid = ?", (uuid,))
            if not found:
                return None
            current = found[0]
            before = (current.get("phi_namespace"), current.get("modality"))
            current.update(changes)
            current["updated"] = now_stamp()
            row = study_row(current)
            assignments = ", ".join(f"{c} = ?" for c in STUDY_COLUMNS[1:])
            conn.execute(f"UPDATE ambra_studies SET {assignments}, data = ? WHERE uuid = ?", (*row[1:], uuid))
            after = (current.get("phi_namespace"), current.get("modality"))
            if after != before:
                count_study(conn, *before, -1)
                count_study(conn, *after, 1)
            render_docs(conn, "uuid = ?", (uuid,))
        return current

    def delete_study(self, uuid: str) -> bool:
        with self.store.write() as conn:
            conn.execute("DELETE FROM ambra_tags WHERE object = 'Study' AND object_id = ?", (uuid,))
            gone = conn.execute("SELECT phi_namespace, modality FROM ambra_studies WHERE uuid = ?", (uuid,)).fetchone()
            if gone is None:
                return False
            conn.execute("DELETE FROM ambra_studies WHERE uuid = ?", (uuid,))
            # its status history and lock (study_status.py): a deleted study is locked by no one
            conn.execute("DELETE FROM ambra_objects WHERE parent_id = ? AND kind IN ('study_status_change', 'study_status_lock')", (uuid,))
            count_study(conn, gone[0], gone[1], -1)
            return True

    # -- tags, shares, audit, settings -------------------------------------------------------
    def tag(self, object_class: str, object_id: str, tag: str, add: bool) -> None:
        with self.store.write() as conn:
            if add:
                conn.execute("INSERT OR IGNORE INTO ambra_tags VALUES (?, ?, ?, ?)", (object_class, object_id, tag, now_stamp()))
            else:
                conn.execute("DELETE FROM ambra_tags WHERE object = ? AND object_id = ? AND tag = ?", (object_class, object_id, tag))
            if object_class == "Study":  # a study's doc carries its tags
                render_docs(conn, "uuid = ?", (object_id,))

    def share(self, study_id: str, target_type: str, target_id: str, copy_id: str | None, add: bool = True) -> bool:
        with self.store.write() as conn:
            if add:
                conn.execute(
                    "INSERT OR REPLACE INTO ambra_shares VALUES (?, ?, ?, ?, ?)", (study_id, target_type, target_id, copy_id, now_stamp())
                )
                return True
            return conn.execute(
                "DELETE FROM ambra_shares WHERE study_id = ? AND target_type = ? AND target_id = ?", (study_id, target_type, target_id)
            ).rowcount == 1  # fmt: skip

    def shares(self, study_id: str) -> list[sqlite3.Row]:
        return self.store.query("SELECT * FROM ambra_shares WHERE study_id = ? ORDER BY created", (study_id,))

    def audit(self, event: dict[str, Any]) -> None:
        with self.store.write() as conn:
            conn.execute(
                "INSERT INTO ambra_audit (uuid, object_id, account_id, user_id, action, type, what, who, detail, at, client_address, sid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event["uuid"], event["object_id"], event.get("account_id"), event.get("user_id"), event["action"], event.get("type"),
                 event.get("what"), event.get("who"), dumps(event.get("detail") or {}), now_stamp(), event.get("client_address"), event.get("sid")),
            )  # fmt: skip

    def audit_events(self, column: str, value: str, limit: int, offset: int, newest_first: bool = True, **also: str) -> list[sqlite3.Row]:
        """The audit events whose ``column`` is ``value`` (and each column of ``also`` its value), newest first unless told."""
        order = "DESC" if newest_first else "ASC"
        where = " AND ".join(f"{name} = ?" for name in (column, *also))
        return self.store.query(
            f"SELECT * FROM ambra_audit WHERE {where} ORDER BY seq {order} LIMIT ? OFFSET ?", (value, *also.values(), limit, offset)
        )  # fmt: skip

    def kv(self, key: str) -> Any:
        row = self.store.query_one("SELECT value FROM ambra_kv WHERE key = ?", (key,))
        return None if row is None else orjson.loads(row["value"])


def _object(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    data: dict[str, Any] = orjson.loads(row["data"])
    data["__kind"] = row["kind"]
    data["__account_id"] = row["account_id"]
    data["__parent_id"] = row["parent_id"]
    data["__namespace_id"] = row["namespace_id"]
    return data


def _study(row: tuple[Any, ...]) -> dict[str, Any]:
    out = dict(zip(STUDY_COLUMNS, row, strict=False))
    out.update(orjson.loads(row[-2]))
    if row[-1]:
        out["tags"] = sorted(row[-1].split("\x1f"))
    return out
