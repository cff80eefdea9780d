"""The node types the fake ComfyUI knows: their inputs (for validation, the way ComfyUI's ``validate_prompt``
reports problems) and what running them produces. Images are real PNGs drawn with Pillow."""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import Any

#: class_type -> (required inputs with their kind, is output node, progress steps input or None)
#: kinds: INT / FLOAT / STRING / a link type (MODEL, CLIP, VAE, CONDITIONING, LATENT, IMAGE) / a list of choices
CHECKPOINTS = ["v1-5-pruned-emaonly.safetensors", "sd_xl_base_1.0.safetensors"]


@dataclass(frozen=True)
class NodeSpec:
    inputs: dict[str, Any]
    output: bool = False
    #: INT input options as ComfyUI declares them (``default``, ``min``, ``max``, ``step``)
    ints: dict[str, dict[str, int]] = field(default_factory=dict)


MAX_RESOLUTION = 16384


NODES: dict[str, NodeSpec] = {
    "CheckpointLoaderSimple": NodeSpec({"ckpt_name": CHECKPOINTS}),
    "CLIPTextEncode": NodeSpec({"text": "STRING", "clip": "CLIP"}),
    "EmptyLatentImage": NodeSpec({"width": "INT", "height": "INT", "batch_size": "INT"}, ints={
        "width": {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8},
        "height": {"default": 512, "min": 16, "max": MAX_RESOLUTION, "step": 8},
        "batch_size": {"default": 1, "min": 1, "max": 4096}}),
    "EmptyImage": NodeSpec({"width": "INT", "height": "INT", "batch_size": "INT", "color": "INT"}, ints={
        "width": {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1},
        "height": {"default": 512, "min": 1, "max": MAX_RESOLUTION, "step": 1},
        "batch_size": {"default": 1, "min": 1, "max": 4096},
        "color": {"default": 0, "min": 0, "max": 0xFFFFFF, "step": 1}}),
    "KSampler": NodeSpec({"seed": "INT", "steps": "INT", "cfg": "FLOAT", "sampler_name": "STRING",
                          "scheduler": "STRING", "denoise": "FLOAT", "model": "MODEL", "positive": "CONDITIONING",
                          "negative": "CONDITIONING", "latent_image": "LATENT"}, ints={
                          "seed": {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF},
                          "steps": {"default": 20, "min": 1, "max": 10000}}),
    "VAEDecode": NodeSpec({"samples": "LATENT", "vae": "VAE"}),
    "ImageBlur": NodeSpec({"image": "IMAGE", "blur_radius": "INT", "sigma": "FLOAT"}),
    "SaveImage": NodeSpec({"filename_prefix": "STRING", "images": "IMAGE"}, output=True),
    "PreviewImage": NodeSpec({"images": "IMAGE"}, output=True),
    "SaveImageWebsocket": NodeSpec({"images": "IMAGE"}, output=True),
}


def is_link(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and isinstance(value[0], str) and isinstance(value[1], int)


def node_error(kind: str, message: str, details: str, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "message": message, "details": details, "extra_info": extra}


def validate_node(graph: dict[str, Any], node_id: str) -> tuple[list[dict[str, Any]], bool]:
    """Errors of one node; the flag says a linked node is missing (ComfyUI reports a KeyError then)."""
    node = graph[node_id]
    spec = NODES[node["class_type"]]
    inputs = node.get("inputs") or {}
    errors: list[dict[str, Any]] = []
    for name, kind in spec.inputs.items():
        if name not in inputs:
            errors.append(node_error("required_input_missing", "Required input is missing", name, input_name=name))
            continue
        value = inputs[name]
        if is_link(value):
            if value[0] not in graph:
                return [node_error("exception_during_validation", "Exception when validating node", repr(value[0]),
                                   exception_type="KeyError", traceback=[])], True
            continue
        if isinstance(kind, list) and value not in kind:
            errors.append(node_error("value_not_in_list", "Value not in list",
                                     f"{name}: '{value}' not in {kind}", input_name=name, received_value=value))
        elif kind == "INT":
            config = ["INT", spec.ints.get(name, {})]
            try:
                number = int(value)
            except (TypeError, ValueError) as exc:
                errors.append(node_error("invalid_input_type", "Failed to convert an input value to a INT value",
                                         f"{name}, {value}, {exc}", input_name=name, input_config=config,
                                         received_value=value, exception_message=str(exc)))
                continue
            low, high = spec.ints.get(name, {}).get("min"), spec.ints.get(name, {}).get("max")
            if low is not None and number < low:
                errors.append(node_error("value_smaller_than_min", f"Value {number} smaller than min of {low}", name,
                                         input_name=name, input_config=config, received_value=value))
            elif high is not None and number > high:
                errors.append(node_error("value_bigger_than_max", f"Value {number} bigger than max of {high}", name,
                                         input_name=name, input_config=config, received_value=value))
    return errors, False


def execution_order(graph: dict[str, Any], outputs: list[str]) -> list[str]:
    """Dependencies first, starting from each output node (what ComfyUI's execution list yields)."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(node_id: str) -> None:
        if node_id in seen:
            return
        seen.add(node_id)
        for value in (graph[node_id].get("inputs") or {}).values():
            if is_link(value):
                visit(value[0])
        order.append(node_id)

    for out in outputs:
        visit(out)
    return order


def png(width: int, height: int, seed: int, text: str, graph: dict[str, Any]) -> bytes:
    """A real PNG whose colour follows seed and prompt, carrying the graph in a tEXt chunk like ComfyUI's."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    digest = hashlib.sha256(f"{seed}:{text}".encode()).digest()
    img = Image.new("RGB", (max(1, width), max(1, height)), (digest[0], digest[1], digest[2]))
    info = PngInfo()
    info.add_text("prompt", json.dumps(graph))
    buf = io.BytesIO()
    img.save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def preview_frame(width: int, height: int) -> bytes:
    """A binary preview frame: u32be 1 (preview image), u32be 2 (PNG), then the image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (max(1, width // 8), max(1, height // 8)), (128, 128, 128)).save(buf, "PNG")
    return (1).to_bytes(4, "big") + (2).to_bytes(4, "big") + buf.getvalue()


def with_metadata(image: bytes, item: Any) -> bytes:
    """After ``supports_preview_metadata`` negotiation: u32be 4, u32be metadata length, metadata JSON, image."""
    node = item and item.prompt_id
    meta = json.dumps({"node_id": None, "prompt_id": node, "display_node_id": None, "parent_node_id": None,
                       "real_node_id": None, "image_type": "image/png"}).encode()
    return (4).to_bytes(4, "big") + len(meta).to_bytes(4, "big") + meta + image


def progress_state(pid: str, node_id: str, value: float, maximum: float, state: str) -> dict[str, Any]:
    return {"value": value, "max": maximum, "state": state, "node_id": node_id, "prompt_id": pid,
            "display_node_id": node_id, "parent_node_id": None, "real_node_id": node_id}


def validate_prompt(graph: dict[str, Any]) -> tuple[dict[str, Any] | None, list[str]]:
    """Return (400 body or None, output node ids), mirroring ComfyUI's validate_prompt."""
    for node_id, node in graph.items():
        class_type = node.get("class_type") if isinstance(node, dict) else None
        if class_type not in NODES:
            return {"error": {"type": "invalid_prompt",
                              "message": f"Cannot execute because node {class_type} does not exist.",
                              "details": f"Node ID '#{node_id}'", "extra_info": {}}, "node_errors": {}}, []
    outputs = sorted(n for n, node in graph.items() if NODES[node["class_type"]].output)
    if not outputs:
        return {"error": {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "",
                          "extra_info": {}}, "node_errors": {}}, []
    node_errors: dict[str, Any] = {}
    details = ""
    for out in outputs:
        try:
            order = execution_order(graph, [out])
        except KeyError as exc:
            order, details = [out], f"Exception when validating node: {exc}"
        for node_id in order:
            errors, missing_link = validate_node(graph, node_id)
            if not errors:
                continue
            entry = node_errors.setdefault(node_id, {"errors": errors, "dependent_outputs": [],
                                                     "class_type": graph[node_id]["class_type"]})
            entry["dependent_outputs"].append(out)
            if missing_link:
                details = f"Exception when validating node: {errors[0]['details']}"
            elif node_id == out and errors[0]["type"] == "required_input_missing":
                details = f"Required input is missing: {errors[0]['details']}"
    if node_errors:
        return {"error": {"type": "prompt_outputs_failed_validation", "message": "Prompt outputs failed validation",
                          "details": details, "extra_info": {}}, "node_errors": node_errors}, []
    return None, outputs
