"""Studio Core surface (seed 004): ``POST /api/generate`` and ``GET /api/status/{job_id}``.

Translation only: requests become ``image.generate`` jobs; statuses map to Studio's words
(queued → queued, running → processing, succeeded → finished, failed/canceled → failed). Errors are
``{"error": "…"}`` as the Studio client expects (with ``code`` and ``field`` added for machines).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from genloom.core.errors import GenloomError, InvalidInput
from genloom.core.jsonint import JSON_INTEGER
from genloom.core.patterns import VISIBLE_TEXT
from genloom.core.settings import Settings
from genloom.deps import RuntimeDep, SessionDep
from genloom.identity.deps import StudioCaller, caller_of
from genloom.jobs import service as jobs_service
from genloom.pipelines.workflows import DEFAULT_WORKFLOW, known_workflows

router = APIRouter(prefix="/api", tags=["Studio"])

STATUS_WORDS = {"queued": "queued", "running": "processing", "succeeded": "finished", "failed": "failed",
                "canceled": "failed"}


class GenerateRequest(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={"example": {"prompt": "a cyberpunk cat in neon city", "seed": 12345, "workflow": "sdxl"}},
    )

    prompt: str = Field(max_length=4000, json_schema_extra={"pattern": VISIBLE_TEXT})
    seed: Annotated[int, Field(ge=0, lt=2**32), JSON_INTEGER] | None = None
    workflow: str | None = Field(default=None, max_length=64)

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("prompt must not be empty")
        return value.strip()


class GenerateAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"job_id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "status": "queued"}}
    )

    job_id: str
    status: str


class StudioStatus(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"job_id": "0193a1b2-7c4d-7e8f-9a0b-1c2d3e4f5a6b", "status": "finished", "progress": 100,
                        "image_url": "http://127.0.0.1:8000/media/jobs/2026/11/23/0193a1b2/img.png?exp=1795000000&sig=ab",
                        "error": ""}
        }
    )

    job_id: str
    status: str
    progress: int
    image_url: str
    error: str


def _error_example(message: str) -> dict[str, Any]:
    return {"content": {"application/json": {"example": {"error": message}}}, "description": message}


@router.post(
    "/generate", status_code=202, response_model=GenerateAccepted,
    responses={400: _error_example("prompt must not be empty"), 503: _error_example("queue unavailable")},
    summary="Queue an image generation",
)
async def generate(body: GenerateRequest, session: SessionDep, runtime: RuntimeDep, caller: StudioCaller) -> dict[str, Any]:
    workflows = known_workflows(runtime.settings)
    name = body.workflow or DEFAULT_WORKFLOW
    if name not in workflows:
        raise InvalidInput(f"unknown workflow {name!r}; choose one of {', '.join(sorted(workflows))}", field="workflow")
    preset = workflows[name]
    job_input: dict[str, Any] = {"prompt": body.prompt, "workflow": name, "width": preset["width"],
                                 "height": preset["height"]}
    if body.seed is not None:
        job_input["seed"] = body.seed
    job = await jobs_service.create_job(session, runtime, caller, kind="image.generate", input=job_input, surface="studio")
    return {"job_id": job["id"], "status": "queued"}


@router.get(
    "/status/{job_id}", response_model=StudioStatus, responses={404: _error_example("job not found")},
    summary="Poll a generation", openapi_extra={"security": [{"Bearer": []}, {"ClientId": []}, {}]},
)
async def status(job_id: str, request: Request) -> Response:
    # Hot path: resolved by hand, without the dependency graph (see genloom.deps.caller_of); the same
    # function also answers from genloom.system.hot_reads, which skips routing altogether.
    return JSONResponse(await status_body(request, job_id))


async def status_body(request: Request, job_id: str) -> dict[str, Any]:
    """Studio's status shape for one job (JobNotFound when the caller may not see it)."""
    runtime = request.app.state.runtime
    job = await jobs_service.read_job(runtime, await caller_of(request, "studio"), job_id)
    image_url = ""
    if job["status"] == "succeeded":
        images = (job["result"] or {}).get("images") or []
        if images:
            image_url = _absolute(request, runtime.settings.public_base_url, images[0]["url"])
    error = ""
    if job["status"] == "failed":
        error = (job["error"] or {}).get("message") or "failed"
    elif job["status"] == "canceled":
        error = "canceled"
    return {"job_id": job["id"], "status": STATUS_WORDS[job["status"]], "progress": job["progress"],
            "image_url": image_url, "error": error}


def _absolute(request: Request, public_base: str, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return url
    base = public_base.rstrip("/") if public_base else str(request.base_url).rstrip("/")
    return base + url



#: Studio's error body, for the OpenAPI document (genloom.system.openapi)
ERROR_SCHEMA: dict[str, Any] = {
    "title": "StudioError", "type": "object", "required": ["error", "code"],
    "properties": {"error": {"type": "string", "description": "a human message"},
                   "code": {"type": "string", "description": "stable machine-readable code"},
                   "field": {"type": "string", "description": "the input at fault"}},
    "example": {"error": "prompt: prompt must not be empty", "code": "validation_error", "field": "prompt"},
}


def refine_openapi(doc: dict[str, Any], settings: Settings) -> None:
    """The workflow names this server knows (from its settings), as the enum of ``workflow``."""
    schema = doc["components"]["schemas"].get("GenerateRequest", {})
    workflow = schema.get("properties", {}).get("workflow")
    if workflow is not None:
        workflow["anyOf"] = [{"type": "string", "enum": sorted(known_workflows(settings))}, {"type": "null"}]


def render_error(request: Request, err: GenloomError) -> Response:
    status = 400 if err.status == 422 else err.status
    body: dict[str, Any] = {"error": err.message, "code": err.code}
    if err.field:
        body["field"] = err.field
    return JSONResponse(body, status_code=status)
