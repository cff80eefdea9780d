"""ComfyUI workflow templates: API-format graphs into which a request's prompt, negative prompt, seed, size,
steps and batch size are injected.

A template file is either a bare API-format graph (what ComfyUI's "Export (API)" writes) or
``{"description", "defaults": {...}, "bindings": {...}, "graph": {...}}``. Where a value goes is found, in order:

1. ``bindings`` in the file: ``{"prompt": ["6", "text"], "seed": ["3", "seed"], ...}`` (a list of such pairs
   is allowed too);
2. node titles (``_meta.title``): "Positive Prompt"/"Prompt" and "Negative Prompt"/"Negative";
3. node classes and links: the sampler (``KSampler``, ``KSamplerAdvanced``) gives seed and steps, its
   ``positive``/``negative`` links lead to the text-encode nodes, the empty-latent node gives size and batch.

``defaults`` give the values a request leaves out (``width``, ``height``, ``steps``, ``cfg``, ``seed``,
``negative_prompt``); a value the request states always wins. A graph with no prompt input (a weight-free
``EmptyImage → ImageBlur → SaveImage`` graph, an image-to-image graph fed a fixed input) is allowed: the prompt is
then simply not injected (:attr:`Workflow.takes_prompt` is false and the client says so in the job's phase).

Built-in templates ship in ``workflows/``; files in ``GENLOOM_COMFYUI_WORKFLOWS_DIR`` add to or replace them
(the file name without ``.json`` is the template name). A template that is not an API-format graph, or whose
explicit bindings name nodes it does not have, is refused when it is loaded, naming the file.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BUILTIN_DIR = Path(__file__).with_name("workflows")
PARAMS = ("prompt", "negative_prompt", "seed", "steps", "cfg", "width", "height", "batch_size")
SAMPLERS = {"KSampler": ("seed", "steps"), "KSamplerAdvanced": ("noise_seed", "steps")}
#: nodes that fix the picture's size and batch (latent images, and the blank image weight-free graphs start from)
LATENTS = {"EmptyLatentImage", "EmptySD3LatentImage", "EmptyImage"}
TEXT_ENCODERS = {"CLIPTextEncode": ("text",), "CLIPTextEncodeSDXL": ("text_g", "text_l")}
POSITIVE_TITLES = {"positive prompt", "positive", "prompt"}
NEGATIVE_TITLES = {"negative prompt", "negative"}
#: ComfyUI latents are 1/8 of the image size, so sides must be multiples of 8
SIZE_STEP = 8

Binding = tuple[str, str]  # (node id, input name)


class WorkflowError(ValueError):
    """A template that cannot be used (bad JSON, unknown graph shape, nowhere to put the prompt)."""


@dataclass(frozen=True)
class Workflow:
    name: str
    graph: dict[str, Any]
    bindings: dict[str, list[Binding]]
    defaults: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    source: str = ""

    @property
    def takes_prompt(self) -> bool:
        """Whether the graph has somewhere to put the prompt (else the prompt is not used)."""
        return bool(self.bindings.get("prompt"))

    def build(self, *, prompt: str, negative_prompt: str | None, seed: int | None, width: int | None,
              height: int | None, steps: int | None, batch_size: int = 1, cfg: float | None = None) -> dict[str, Any]:
        """A fresh graph with the request's values in place (the template itself is never changed).

        A value given as None (or an empty negative prompt) falls back to the template's ``defaults``; when those
        are silent too the graph keeps its own value."""
        graph = copy.deepcopy(self.graph)
        chosen: dict[str, Any] = {"negative_prompt": negative_prompt or None, "seed": seed, "steps": steps,
                                  "cfg": cfg, "width": width, "height": height}
        merged = {name: value if value is not None else self.defaults.get(name) for name, value in chosen.items()}
        values: dict[str, Any] = {
            **merged,
            "prompt": prompt,
            "width": _snap(merged["width"]),
            "height": _snap(merged["height"]),
            "batch_size": batch_size,
        }
        for param, targets in self.bindings.items():
            value = values.get(param)
            if value is None:
                continue
            for node_id, input_name in targets:
                graph[node_id].setdefault("inputs", {})[input_name] = value
        return graph


def _snap(value: Any) -> int | None:
    if value is None:
        return None
    return max(SIZE_STEP, int(value) // SIZE_STEP * SIZE_STEP)


def parse_workflow(name: str, data: Any, *, source: str = "") -> Workflow:
    """Turn a template file's JSON into a Workflow, resolving where each value goes."""
    where = source or name
    if not isinstance(data, dict):
        raise WorkflowError(f"workflow {where}: expected a JSON object")
    wrapped = isinstance(data.get("graph"), dict)
    graph = data["graph"] if wrapped else data
    if not graph or not all(isinstance(n, dict) and "class_type" in n for n in graph.values()):
        raise WorkflowError(f"workflow {where}: not an API-format graph (export it with 'Save (API)')")
    explicit = data.get("bindings") if wrapped else None
    bindings = _explicit_bindings(explicit, graph, where) if explicit else {}
    for param, targets in _discover(graph).items():
        bindings.setdefault(param, targets)
    defaults = _defaults(data.get("defaults") if wrapped else None, where)
    description = str(data.get("description", "")) if wrapped else ""
    return Workflow(name, graph, bindings, defaults, description, source)


#: what a template's ``defaults`` may set, and the type each value must have
DEFAULTABLE: dict[str, type | tuple[type, ...]] = {
    "width": int, "height": int, "steps": int, "seed": int, "cfg": (int, float), "negative_prompt": str,
}


def _defaults(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise WorkflowError(f"workflow {where}: \"defaults\" must be an object")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        kind = DEFAULTABLE.get(name)
        if kind is None:
            raise WorkflowError(f"workflow {where}: unknown default {name!r}; known: {', '.join(DEFAULTABLE)}")
        if isinstance(value, bool) or not isinstance(value, kind):
            raise WorkflowError(f"workflow {where}: default {name!r} has the wrong type")
        out[name] = value
    return out


def _explicit_bindings(raw: Any, graph: dict[str, Any], where: str) -> dict[str, list[Binding]]:
    if not isinstance(raw, dict):
        raise WorkflowError(f"workflow {where}: \"bindings\" must be an object")
    out: dict[str, list[Binding]] = {}
    for param, value in raw.items():
        if param not in PARAMS:
            raise WorkflowError(f"workflow {where}: unknown binding {param!r}; known: {', '.join(PARAMS)}")
        pairs = value if value and isinstance(value[0], list) else [value]
        targets: list[Binding] = []
        for pair in pairs:
            if not (isinstance(pair, list) and len(pair) == 2 and str(pair[0]) in graph):
                raise WorkflowError(f"workflow {where}: binding {param!r} must name a node of the graph and an input")
            targets.append((str(pair[0]), str(pair[1])))
        out[param] = targets
    return out


def _discover(graph: dict[str, Any]) -> dict[str, list[Binding]]:
    found: dict[str, list[Binding]] = {}

    def add(param: str, node_id: str, inputs: tuple[str, ...]) -> None:
        targets = found.setdefault(param, [])
        for name in inputs:
            if (node_id, name) not in targets:
                targets.append((node_id, name))

    # titles first: a user's explicit naming beats guessing from links
    for node_id, node in graph.items():
        title = str((node.get("_meta") or {}).get("title", "")).strip().lower()
        encoder = TEXT_ENCODERS.get(node["class_type"], ("text",))
        if title in POSITIVE_TITLES:
            add("prompt", node_id, encoder)
        elif title in NEGATIVE_TITLES:
            add("negative_prompt", node_id, encoder)
    for node_id, node in graph.items():
        kind = node["class_type"]
        inputs = node.get("inputs") or {}
        if kind in SAMPLERS:
            seed_input, steps_input = SAMPLERS[kind]
            add("seed", node_id, (seed_input,))
            add("steps", node_id, (steps_input,))
            add("cfg", node_id, ("cfg",))  # both samplers name their guidance scale "cfg"
            for link_input, param in (("positive", "prompt"), ("negative", "negative_prompt")):
                link = inputs.get(link_input)
                target = graph.get(str(link[0])) if isinstance(link, list) and link else None
                if target is not None and target["class_type"] in TEXT_ENCODERS and param not in found:
                    add(param, str(link[0]), TEXT_ENCODERS[target["class_type"]])  # type: ignore[index]
        elif kind in LATENTS:
            add("width", node_id, ("width",))
            add("height", node_id, ("height",))
            add("batch_size", node_id, ("batch_size",))
    return found


def load_workflows(user_dir: Path | None = None) -> dict[str, Workflow]:
    """The built-in templates, then every ``*.json`` in ``user_dir`` (same name replaces a built-in)."""
    workflows: dict[str, Workflow] = {}
    dirs = [BUILTIN_DIR] + ([user_dir] if user_dir else [])
    for directory in dirs:
        if directory != BUILTIN_DIR and not directory.is_dir():
            raise WorkflowError(f"GENLOOM_COMFYUI_WORKFLOWS_DIR: {directory} is not a directory")
        for path in sorted(directory.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise WorkflowError(f"workflow {path}: cannot read JSON ({exc})") from None
            workflows[path.stem] = parse_workflow(path.stem, data, source=str(path))
    return workflows
