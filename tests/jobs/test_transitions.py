"""Every status change goes through ``states.TRANSITIONS``: an illegal change raises before any SQL runs, each
path (claim, finish, fail, retry later, release, cancel queued, cancel running, retry, rescue) reads the table,
and no module but the queue writes ``jobs.status``."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

import genloom
from genloom.core.db import utc_now
from genloom.core.principal import ANONYMOUS
from genloom.jobs import janitor, leases, queue, service
from genloom.jobs.models import Job, JobEvent
from genloom.jobs.states import TRANSITIONS, EventType, IllegalTransition, JobStatus, transition
from genloom.runtime import Runtime

WORKER = "w-transitions"


@pytest.mark.parametrize(("from_", "to"), [
    pair for pair in itertools.product(JobStatus, JobStatus) if pair not in TRANSITIONS
])
def test_a_change_missing_from_the_table_raises(from_: JobStatus, to: JobStatus) -> None:
    with pytest.raises(IllegalTransition, match=f"from {from_.value} to {to.value}"):
        transition(from_, to)
    with pytest.raises(IllegalTransition):
        queue.status_change(from_, to)


def test_every_change_in_the_table_builds_a_guarded_update() -> None:
    for (from_, to), type_ in TRANSITIONS.items():
        stmt, event = queue.status_change(from_, to, Job.__table__.c.id == "j1")
        assert event is type_
        sql = str(stmt.compile(compile_kwargs={"literal_binds": True}))
        assert f"status='{to.value}'" in sql.replace(" ", "") and f"status='{from_.value}'" in sql.replace(" ", "")


def test_sources_writing_different_events_are_refused() -> None:
    with pytest.raises(ValueError, match="different events"):
        queue.status_change((JobStatus.running, JobStatus.failed), JobStatus.queued)


# --- no status UPDATE outside the queue -----------------------------------------------------------------------

#: (file relative to genloom/, function) allowed to SET jobs.status; batch parents' status is derived
ALLOWED = {("jobs/queue.py", "status_change"), ("jobs/batch.py", "refresh_parent")}


def _updated_table(call: ast.Call) -> str | None:
    """For ``update(T).where(…).values(…)`` chains: the name T of the table updated, else None."""
    node: ast.expr = call.func
    while isinstance(node, ast.Attribute | ast.Call):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "update" and node.args:
                target = node.args[0]
                return target.id if isinstance(target, ast.Name) else ast.unparse(target)
            node = node.func
        else:
            node = node.value
    return None


def _keys_given(func: ast.AST, name: str) -> set[object]:
    """Constant keys a function puts into the dict ``name``: ``name = {…}``, ``name |= {…}``, ``name["k"] = …``."""
    keys: set[object] = set()
    for node in ast.walk(func):
        value: ast.expr | None = None
        if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id == name:
                    value = node.value
                if (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)
                        and target.value.id == name and isinstance(target.slice, ast.Constant)):
                    keys.add(target.slice.value)
        if isinstance(value, ast.Dict):
            keys |= {k.value for k in value.keys if isinstance(k, ast.Constant)}
    return keys


def _sets_status(func: ast.AST, call: ast.Call) -> bool:
    for kw in call.keywords:
        if kw.arg == "status":
            return True
        if kw.arg is None and isinstance(kw.value, ast.Dict):
            if any(isinstance(k, ast.Constant) and k.value == "status" for k in kw.value.keys):
                return True
        if kw.arg is None and isinstance(kw.value, ast.Name) and "status" in _keys_given(func, kw.value.id):
            return True
    return False


def test_no_module_but_the_queue_sets_a_job_status() -> None:
    root = Path(genloom.__file__).parent
    found: set[tuple[str, str]] = set()
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in ast.walk(tree):
            if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(func):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "values"
                        and _updated_table(node) in {"jobs_t", "Job"} and _sets_status(func, node)):
                    found.add((path.relative_to(root).as_posix(), func.name))
    # nested functions would be reported twice (outer and inner); none of the allowed ones nests
    assert found == ALLOWED, f"status written outside queue.status_change: {sorted(found - ALLOWED)}"


# --- each path reads the table --------------------------------------------------------------------------------


async def _job_at(runtime: Runtime, status: JobStatus, **kw: object) -> str:
    """A fresh noop job brought to ``status`` through the queue (claimed by WORKER when running)."""
    async with runtime.db.session() as s:
        job_id = str((await service.create_job(s, runtime, ANONYMOUS, kind="noop", **kw))["id"])  # type: ignore[arg-type]
    if status is JobStatus.queued:
        return job_id
    if status is JobStatus.canceled:
        async with runtime.db.session() as s:
            await service.cancel_job(s, runtime, ANONYMOUS, job_id)
        return job_id
    [claimed] = await queue.claim(runtime, WORKER, limit=1, kinds=["noop"])
    assert claimed.id == job_id
    if status is JobStatus.failed:
        assert await queue.fail(runtime, job_id, WORKER, code="boom", message="no", retryable=False) == "failed"
    return job_id


async def _lapse(runtime: Runtime, job_id: str) -> None:
    async with runtime.db.session() as s:
        await s.execute(update(Job).where(Job.id == job_id).values(lease_until=utc_now() - timedelta(seconds=1)))


async def _claim(rt: Runtime, job_id: str) -> None:
    assert [c.id for c in await queue.claim(rt, WORKER, limit=1, kinds=["noop"])] == [job_id]


async def _finish(rt: Runtime, job_id: str) -> None:
    assert await queue.complete(rt, job_id, WORKER, {"ok": True})


async def _retry_later(rt: Runtime, job_id: str) -> None:
    assert await queue.fail(rt, job_id, WORKER, code="busy", message="later", retryable=True) == "queued"


async def _fail(rt: Runtime, job_id: str) -> None:
    assert await queue.fail(rt, job_id, WORKER, code="bad", message="no", retryable=False) == "failed"


async def _release(rt: Runtime, job_id: str) -> None:
    assert await queue.release(rt, job_id, WORKER)


async def _cancel(rt: Runtime, job_id: str) -> None:
    async with rt.db.session() as s:
        await service.cancel_job(s, rt, ANONYMOUS, job_id)


async def _request_cancel(rt: Runtime, job_id: str) -> None:
    """Cancelling a running job only flags it (no status change): its worker stops between steps."""
    await _cancel(rt, job_id)
    async with rt.db.read_session() as s:
        row = (await s.execute(select(Job.status, Job.cancel_requested).where(Job.id == job_id))).one()
    assert row.status == "running" and row.cancel_requested
    assert await leases.cancel_requested(rt, WORKER, [job_id]) == {job_id}


async def _stop_canceled(rt: Runtime, job_id: str) -> None:
    """What the worker does once the handler stopped on the cancel request."""
    assert await queue.mark_canceled(rt, job_id, WORKER)


async def _retry(rt: Runtime, job_id: str) -> None:
    async with rt.db.session() as s:
        await service.retry_job(s, rt, ANONYMOUS, job_id)


async def _rescue(rt: Runtime, job_id: str) -> None:
    await _lapse(rt, job_id)
    out = await janitor.rescue_expired(rt)
    assert sum(out.values()) == 1


Act = Callable[[Runtime, str], Awaitable[None]]


@dataclass(frozen=True)
class Change:
    name: str
    from_: JobStatus
    to: JobStatus
    act: Act
    create: dict[str, object] = field(default_factory=dict)
    prepare: Act | None = None  # run before the change, with the table intact
    #: changes made by the same statement (a retry requeues failed and canceled jobs at once): renamed together
    together: tuple[tuple[JobStatus, JobStatus], ...] = ()


PATHS = [
    Change("claim", JobStatus.queued, JobStatus.running, _claim),
    Change("finish", JobStatus.running, JobStatus.succeeded, _finish),
    Change("retry later", JobStatus.running, JobStatus.queued, _retry_later),
    Change("fail", JobStatus.running, JobStatus.failed, _fail),
    Change("release", JobStatus.running, JobStatus.queued, _release),
    Change("cancel queued", JobStatus.queued, JobStatus.canceled, _cancel),
    Change("cancel running", JobStatus.running, JobStatus.canceled, _stop_canceled, prepare=_request_cancel),
    Change("retry failed", JobStatus.failed, JobStatus.queued, _retry,
           together=((JobStatus.canceled, JobStatus.queued),)),
    Change("retry canceled", JobStatus.canceled, JobStatus.queued, _retry,
           together=((JobStatus.failed, JobStatus.queued),)),
    Change("rescue requeue", JobStatus.running, JobStatus.queued, _rescue),
    Change("rescue fail", JobStatus.running, JobStatus.failed, _rescue, {"max_attempts": 1}),
]


async def _ready(runtime: Runtime, change: Change) -> str:
    job_id = await _job_at(runtime, change.from_, **change.create)
    if change.prepare is not None:
        await change.prepare(runtime, job_id)
    return job_id


async def _status_and_last_event(runtime: Runtime, job_id: str) -> tuple[str, str, dict[str, object]]:
    async with runtime.db.read_session() as s:
        status = (await s.execute(select(Job.status).where(Job.id == job_id))).scalar_one()
        last = (await s.execute(select(JobEvent.type, JobEvent.data).where(JobEvent.job_id == job_id)
                                .order_by(JobEvent.id.desc()).limit(1))).one()
    return status, last.type, last.data


@pytest.mark.parametrize("change", PATHS, ids=lambda c: c.name)
async def test_each_path_writes_the_event_the_table_names(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, change: Change,
) -> None:
    job_id = await _ready(runtime, change)
    # Renaming the change's event in the table renames what the path writes: the path takes it from there.
    for pair in ((change.from_, change.to), *change.together):
        monkeypatch.setitem(TRANSITIONS, pair, EventType.log)
    await change.act(runtime, job_id)
    status, type_, data = await _status_and_last_event(runtime, job_id)
    assert (status, type_, data["status"]) == (change.to.value, "log", change.to.value)


@pytest.mark.parametrize("change", PATHS, ids=lambda c: c.name)
async def test_each_path_refuses_a_change_the_table_does_not_allow(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, change: Change,
) -> None:
    job_id = await _ready(runtime, change)
    before = await _status_and_last_event(runtime, job_id)
    monkeypatch.delitem(TRANSITIONS, (change.from_, change.to))
    with pytest.raises(IllegalTransition):
        await change.act(runtime, job_id)
    assert await _status_and_last_event(runtime, job_id) == before  # nothing written
