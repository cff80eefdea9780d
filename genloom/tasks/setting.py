"""Backend2 task settings (seed 002): one ``setting`` object shared by every subtask of a task.

Seed 002 stores each setting as ``{"value": …, "is_variable": false, "variable_id": null}`` (its
``validate_setting``); genloom accepts that shape or the bare value. Variables (one subtask per combination of
values) are not supported and are refused by name. Field names of seed 002 are accepted as aliases:
``batch_size`` → ``count``, ``user_polish`` → ``polish``, ``lumina_model_name`` → ``model``, ``lumina_cfg`` →
``cfg``, ``lumina_step`` → ``steps``, ``make_api_queue`` → ``queue``.

:func:`apply_setting` merges the setting into each subtask's input (a subtask's own fields win) and refuses a
setting the job kind cannot honour, instead of dropping it silently.
"""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from genloom.core.errors import InvalidInput
from genloom.jobs.registry import KindRegistry

#: aspect ratios seed 002's clients offer, as width:height
RATIOS = ("1:1", "4:3", "3:4", "3:2", "2:3", "16:9", "9:16", "21:9", "9:21")
LONG_SIDE = 1024  # px: a ratio becomes a size whose longer side is this
SIZE_STEP = 64  # px: image models want multiples of this
SIZE_MIN, SIZE_MAX = 64, 2048
QUEUES = ("", "dev", "ops")


def ratio_size(ratio: str) -> tuple[int, int]:
    """Width and height for ``ratio`` ("16:9" → 1024×576), the shorter side rounded to 64 px."""
    w, h = (int(p) for p in ratio.split(":"))
    if w >= h:
        return LONG_SIDE, max(SIZE_STEP, round(LONG_SIDE * h / w / SIZE_STEP) * SIZE_STEP)
    return max(SIZE_STEP, round(LONG_SIDE * w / h / SIZE_STEP) * SIZE_STEP), LONG_SIDE


class TaskSetting(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    ratio: str | None = Field(default=None, description=f"one of {', '.join(RATIOS)}")
    size: str | None = Field(default=None, description="WIDTHxHEIGHT, e.g. 1024x768 (instead of ratio)",
                             pattern=r"^\d{2,4}[xX*]\d{2,4}$")
    count: int | None = Field(default=None, ge=1, le=4, validation_alias=AliasChoices("count", "batch_size"))
    seed: int | None = Field(default=None, ge=0, lt=2**32)
    model: str | None = Field(default=None, min_length=1, max_length=100,
                              validation_alias=AliasChoices("model", "lumina_model_name"))
    negative_prompt: str | None = Field(default=None, max_length=4000)
    style: str | None = Field(default=None, max_length=200)
    workflow: str | None = Field(default=None, max_length=100)
    polish: bool | None = Field(default=None, validation_alias=AliasChoices("polish", "user_polish"))
    cfg: float | None = Field(default=None, ge=0, le=30, validation_alias=AliasChoices("cfg", "lumina_cfg"))
    steps: int | None = Field(default=None, ge=1, le=150, validation_alias=AliasChoices("steps", "lumina_step"))
    queue: str | None = Field(default=None, validation_alias=AliasChoices("queue", "make_api_queue"),
                              description="make API queue: '' (prod), 'dev' or 'ops'")

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: str | None) -> str | None:
        if value is not None and value not in RATIOS:
            raise ValueError(f"must be one of {', '.join(RATIOS)}")
        return value

    @field_validator("size")
    @classmethod
    def _size(cls, value: str | None) -> str | None:
        if value is None:
            return None
        w, h = (int(p) for p in value.lower().replace("*", "x").split("x"))
        for side in (w, h):
            if not SIZE_MIN <= side <= SIZE_MAX or side % 8:
                raise ValueError(f"each side must be {SIZE_MIN}-{SIZE_MAX} px and a multiple of 8")
        return f"{w}x{h}"

    @field_validator("queue")
    @classmethod
    def _queue(cls, value: str | None) -> str | None:
        if value is not None and value not in QUEUES:
            raise ValueError("must be '' (prod), 'dev' or 'ops'")
        return value

    @model_validator(mode="after")
    def _one_size(self) -> TaskSetting:
        if self.ratio is not None and self.size is not None:
            raise ValueError("send ratio or size, not both")
        return self

    def to_input(self) -> dict[str, Any]:
        """The job-input fields this setting stands for (only those that were set)."""
        out: dict[str, Any] = {}
        if self.ratio is not None:
            out["width"], out["height"] = ratio_size(self.ratio)
        if self.size is not None:
            w, h = self.size.split("x")
            out["width"], out["height"] = int(w), int(h)
        for name in ("count", "seed", "model", "negative_prompt", "style", "workflow", "polish", "cfg", "steps", "queue"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


_WRAPPER_KEYS = {"value", "is_variable", "variable_id", "type", "format"}


def _unwrap(data: dict[str, Any]) -> dict[str, Any]:
    """Accept seed 002's ``{"value", "is_variable", "variable_id"}`` wrapper around each value."""
    out: dict[str, Any] = {}
    for name, value in data.items():
        if isinstance(value, dict) and "value" in value and set(value) <= _WRAPPER_KEYS:
            if value.get("is_variable"):
                raise InvalidInput(f"setting.{name}: variables are not supported; send one task per value",
                                   field=f"setting.{name}", code="setting_variable_unsupported")
            value = value["value"]
        out[name] = value
    return out


def parse_setting(data: dict[str, Any]) -> TaskSetting:
    """Validate a task setting; InvalidInput names the field (``setting.<name>``)."""
    if not isinstance(data, dict):
        raise InvalidInput("setting must be an object", field="setting")
    try:
        return TaskSetting.model_validate(_unwrap(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first.get("loc", ()))
        field = f"setting.{loc}" if loc else "setting"
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise InvalidInput(f"{field}: {msg}", field=field) from None


def apply_setting(
    kinds: KindRegistry, kind: str, setting: dict[str, Any], items: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each subtask's input with the task's setting merged in (the subtask's own fields win).

    A set field that ``kind``'s input model has no place for is an InvalidInput naming it."""
    fields = parse_setting(setting).to_input()
    model = kinds.get(kind).input_model
    if model is not None and model.model_config.get("extra") != "allow":
        unsupported = sorted(set(fields) - set(model.model_fields))
        if unsupported:
            name = unsupported[0]
            raise InvalidInput(f"setting.{name} is not supported by job kind {kind!r}", field=f"setting.{name}",
                               code="setting_unsupported")
    return [{**fields, **item} for item in items]
