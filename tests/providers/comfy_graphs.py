"""Graphs and helpers shared by the ComfyUI client tests and the ComfyUI job tests."""

from __future__ import annotations

from typing import Any

from tests.fakes.comfyui import ComfyFake

#: a graph without model weights and without a prompt input (recorded in 05-prompt-ws-sequence, plus a blur)
BLUR_GRAPH: dict[str, Any] = {
    "1": {"class_type": "EmptyImage", "_meta": {"title": "Blank"},
          "inputs": {"width": 64, "height": 48, "batch_size": 1, "color": 16711680}},
    "2": {"class_type": "ImageBlur", "_meta": {"title": "Soften"},
          "inputs": {"image": ["1", 0], "blur_radius": 3, "sigma": 1.0}},
    "3": {"class_type": "SaveImage", "inputs": {"filename_prefix": "blur", "images": ["2", 0]}},
}


def submitted_graph(state: ComfyFake) -> dict[str, Any]:
    posts = state.seen("POST", "/prompt")
    assert posts, "no prompt was submitted"
    return posts[-1].json()["prompt"]  # type: ignore[no-any-return]
