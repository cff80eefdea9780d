"""Job kinds: a name, the handler that runs it, how its input is validated, and its concurrency limit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from genloom.core.errors import InvalidInput
from genloom.jobs.context import JobContext
from genloom.jobs.errors import UnknownJobKind

Handler = Callable[[JobContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class JobKind:
    name: str
    handler: Handler
    #: validates and normalises the input at enqueue time (a bad input never reaches the queue)
    input_model: type[BaseModel] | None = None
    #: at most this many of this kind run at once inside one worker process (None: no limit)
    concurrency: int | None = None


class KindRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, JobKind] = {}

    def register(self, kind: JobKind) -> None:
        self._kinds[kind.name] = kind

    def get(self, name: str) -> JobKind:
        try:
            return self._kinds[name]
        except KeyError:
            known = self.names()
            raise UnknownJobKind(f"unknown job kind {name!r}; valid kinds: {', '.join(known)}", field="kind",
                                 details={"valid_kinds": known}) from None

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def validate_input(self, name: str, data: dict[str, Any], *, field_prefix: str = "input") -> dict[str, Any]:
        """Check ``data`` against the kind's input model; return the normalised input."""
        kind = self.get(name)
        if kind.input_model is None:
            return dict(data)
        try:
            model = kind.input_model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first.get("loc", ()))
            where = f"{field_prefix}.{loc}" if loc else field_prefix
            raise InvalidInput(f"{where}: {first.get('msg', 'invalid')}", field=where) from None
        return model.model_dump(mode="json", exclude_none=True)
