"""``genloom backup DEST`` / ``genloom restore SRC`` for the embedded shape: the SQLite database and the media
folder, consistent while the server runs.

Backup order matters. Media bytes are always written *before* the rows that name them are committed (see
``genloom/media/service.py``), so: (1) snapshot the database with SQLite's online backup API — a consistent
copy taken page by page while other connections keep writing; (2) copy the media folder; (3) check that every
asset the snapshot names has its file in the copy. Files written after the snapshot come along too and are
harmless (nothing refers to them); a file the snapshot names but that was deleted in between is reported in
the manifest, never silently missing.

PostgreSQL deployments use ``pg_dump``/``pg_restore`` and S3 bucket versioning instead (docs/deploy.md): this
module refuses them rather than producing half a backup.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine.url import make_url

from genloom.core.errors import InvalidInput
from genloom.core.settings import Settings

MANIFEST = "manifest.json"
DB_FILE = "genloom.db"
MEDIA_DIR = "media"


@dataclass
class BackupResult:
    """What a backup holds (also written to ``manifest.json`` next to it)."""

    created_at: str
    database: str
    jobs: int
    events: int
    assets: int
    files: int
    bytes: int
    media: str  # "local" (copied) or "s3" (not copied: use bucket versioning)
    missing_files: list[str] = field(default_factory=list)


def _sqlite_path(settings: Settings) -> Path:
    url = make_url(settings.database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise InvalidInput("genloom backup and restore handle the embedded SQLite database; back up PostgreSQL with "
                           "pg_dump and the S3 bucket with versioning (see docs/deploy.md)", field="database_url")
    return Path(url.database)


def _count(conn: sqlite3.Connection, table: str) -> int:
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names
    except sqlite3.OperationalError:
        return 0  # a database from before that table existed


def backup(settings: Settings, dest: Path) -> BackupResult:
    """Copy the database and the media folder of ``settings`` into the new folder ``dest``."""
    source = _sqlite_path(settings)
    if not source.exists():
        raise InvalidInput(f"no database at {source}", field="database_url")
    if dest.exists() and any(dest.iterdir()):
        raise InvalidInput(f"{dest} is not empty: back up into a new folder", field="dest")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / DB_FILE
    # 1. The snapshot: SQLite's online backup copies a consistent state while writers go on (it restarts a
    #    step when the source changes under it; WAL readers never block the server).
    src = sqlite3.connect(str(source), timeout=30)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst, pages=1024)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        keys = [str(r[0]) for r in dst.execute("SELECT key FROM assets")] if _count(dst, "assets") else []
        jobs, events = _count(dst, "jobs"), _count(dst, "job_events")
    finally:
        dst.close()
        src.close()
    # 2. The media folder, after the snapshot (every file the snapshot names existed before its row).
    files = size = 0
    media = "s3" if settings.storage == "s3" else "local"
    missing: list[str] = []
    if media == "local":
        root = settings.media_root
        copy = dest / MEDIA_DIR
        copy.mkdir()
        if root.exists():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.name.endswith(".part"):
                    out = copy / path.relative_to(root)
                    out.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        shutil.copy2(path, out)
                    except FileNotFoundError:
                        continue  # deleted while we copied; checked below if the snapshot names it
                    files += 1
                    size += out.stat().st_size
        # 3. Every asset of the snapshot has its bytes.
        missing = [k for k in keys if not (copy / k).is_file()]
    result = BackupResult(
        created_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"), database="sqlite", jobs=jobs,
        events=events, assets=len(keys), files=files, bytes=size + target.stat().st_size, media=media,
        missing_files=missing,
    )
    (dest / MANIFEST).write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    return result


def restore(settings: Settings, src: Path) -> BackupResult:
    """Put the backup in ``src`` in place of ``settings``' (empty) database and media folder."""
    manifest_path = src / MANIFEST
    if not manifest_path.is_file() or not (src / DB_FILE).is_file():
        raise InvalidInput(f"{src} is not a genloom backup (no {MANIFEST} / {DB_FILE})", field="src")
    manifest = BackupResult(**json.loads(manifest_path.read_text(encoding="utf-8")))
    target = _sqlite_path(settings)
    if target.exists():
        raise InvalidInput(f"{target} exists: restore into a fresh data folder (or move the old one away)",
                           field="database_url")
    media_root = settings.media_root
    if manifest.media == "local" and media_root.exists() and any(media_root.iterdir()):
        raise InvalidInput(f"{media_root} is not empty: restore into a fresh data folder", field="media_dir")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".restoring")
    shutil.copy2(src / DB_FILE, partial)
    if manifest.media == "local" and (src / MEDIA_DIR).is_dir():
        shutil.copytree(src / MEDIA_DIR, media_root, dirs_exist_ok=True)
    partial.replace(target)  # the database appears last, whole
    return manifest
