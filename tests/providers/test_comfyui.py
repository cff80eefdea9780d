"""The ComfyUI client against the fake ComfyUI (HTTP + WebSocket on one port, replaying the recorded protocol):
workflow templates, progress, outputs, errors, the socket dropping, cancel → /interrupt (jobs through the real
queue: test_comfyui_jobs.py)."""

from __future__ import annotations

import asyncio
import io
import json
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from genloom.core.settings import SettingsError
from genloom.providers.base import ImageProvider, ImageRequest, ProviderError
from genloom.providers.comfyui import ComfyUIImage, load_workflows, parse_workflow
from genloom.providers.comfyui.templates import WorkflowError
from genloom.providers.factory import build_providers
from tests.fakes.base import FakeServer
from tests.fakes.comfyui import ComfyFake
from tests.providers.comfy_graphs import BLUR_GRAPH, submitted_graph
from tests.providers.remote import (
    Recorder,
    cancel_when,
    fast_settings,
    guard_for,
    log_lines,
    wait_for,
)


def client_for(server: FakeServer, **overrides: Any) -> ComfyUIImage:
    settings = fast_settings(comfyui_url=server.url, **overrides)
    return ComfyUIImage(settings, guard=guard_for("comfyui", settings), workflows=load_workflows(None),
                        default_workflow="sd15")


class TestWorkflows:
    def test_builtin_templates_bind_by_title_and_links(self) -> None:
        workflows = load_workflows(None)
        assert {"sd15", "sdxl"} <= set(workflows)
        graph = workflows["sdxl"].build(prompt="a fox", negative_prompt="blurry", seed=7, width=1000, height=700,
                                        steps=None, batch_size=2)
        assert graph["6"]["inputs"]["text"] == "a fox"
        assert graph["7"]["inputs"]["text"] == "blurry"
        assert graph["3"]["inputs"]["seed"] == 7
        assert graph["3"]["inputs"]["steps"] == 25  # the template's default
        # sizes snap to multiples of 8 (latents are 1/8 of the image)
        assert (graph["5"]["inputs"]["width"], graph["5"]["inputs"]["height"], graph["5"]["inputs"]["batch_size"]) == (1000, 696, 2)
        # the template itself is untouched
        assert workflows["sdxl"].graph["6"]["inputs"]["text"] == ""

    def test_bare_exported_graph_is_bound_through_sampler_links(self) -> None:
        graph = json.loads((Path(__file__).parents[2] / "genloom/providers/comfyui/workflows/sd15.json").read_text())["graph"]
        for node in graph.values():
            node.pop("_meta")
        graph["6"], graph["10"] = graph.pop("6"), graph.pop("7")  # renumber: ids mean nothing
        graph["3"]["inputs"]["negative"] = ["10", 0]
        workflow = parse_workflow("mine", graph)
        built = workflow.build(prompt="p", negative_prompt="n", seed=1, width=None, height=None, steps=4)
        assert (built["6"]["inputs"]["text"], built["10"]["inputs"]["text"]) == ("p", "n")
        assert built["3"]["inputs"]["steps"] == 4

    def test_explicit_bindings_win(self) -> None:
        data = {"bindings": {"prompt": ["1", "text"], "seed": [["2", "noise"], ["3", "noise"]]},
                "graph": {"1": {"class_type": "MyEncoder", "inputs": {}}, "2": {"class_type": "A", "inputs": {}},
                          "3": {"class_type": "SaveImage", "inputs": {}}}}
        built = parse_workflow("custom", data).build(prompt="hello", negative_prompt="", seed=9, width=None,
                                                     height=None, steps=None)
        assert built["1"]["inputs"]["text"] == "hello"
        assert built["2"]["inputs"]["noise"] == built["3"]["inputs"]["noise"] == 9

    def test_template_without_a_prompt_input_is_allowed(self) -> None:
        workflow = parse_workflow("blur", BLUR_GRAPH)
        assert not workflow.takes_prompt and parse_workflow("sd", load_workflows(None)["sd15"].graph).takes_prompt
        built = workflow.build(prompt="never placed", negative_prompt="", seed=1, width=100, height=60, steps=None)
        assert "never placed" not in json.dumps(built)
        # the blank image a weight-free graph starts from takes the size like a latent would
        assert (built["1"]["inputs"]["width"], built["1"]["inputs"]["height"]) == (96, 56)
        with pytest.raises(WorkflowError, match="API-format"):
            parse_workflow("bad", {"nodes": [], "links": []})  # the UI format, not the API one

    def test_defaults_fill_what_the_request_leaves_out(self) -> None:
        workflow = parse_workflow("mine", {"defaults": {"width": 640, "height": 384, "steps": 7, "cfg": 4.5,
                                                        "negative_prompt": "text, watermark"},
                                           "graph": load_workflows(None)["sd15"].graph})
        built = workflow.build(prompt="p", negative_prompt="", seed=1, width=None, height=None, steps=None)
        assert (built["5"]["inputs"]["width"], built["5"]["inputs"]["height"]) == (640, 384)
        assert (built["3"]["inputs"]["steps"], built["3"]["inputs"]["cfg"]) == (7, 4.5)
        assert built["7"]["inputs"]["text"] == "text, watermark"
        # what the request states wins
        built = workflow.build(prompt="p", negative_prompt="blur", seed=1, width=256, height=128, steps=3, cfg=9)
        assert (built["5"]["inputs"]["width"], built["5"]["inputs"]["height"], built["3"]["inputs"]["steps"],
                built["3"]["inputs"]["cfg"], built["7"]["inputs"]["text"]) == (256, 128, 3, 9, "blur")

    @pytest.mark.parametrize(("defaults", "match"), [
        ({"sampler": "euler"}, "unknown default 'sampler'"),
        ({"width": "512"}, "default 'width' has the wrong type"),
        ({"steps": True}, "default 'steps' has the wrong type"),
        ([512, 512], "must be an object"),
    ])
    def test_bad_defaults_are_refused_naming_the_file(self, defaults: Any, match: str) -> None:
        with pytest.raises(WorkflowError, match=match):
            parse_workflow("bad", {"defaults": defaults, "graph": BLUR_GRAPH}, source="/tmp/bad.json")

    def test_user_directory_adds_and_replaces(self, tmp_path: Path) -> None:
        source = json.loads((Path(__file__).parents[2] / "genloom/providers/comfyui/workflows/sd15.json").read_text())
        source["defaults"]["steps"] = 3
        (tmp_path / "sd15.json").write_text(json.dumps(source))
        (tmp_path / "portrait.json").write_text(json.dumps(source["graph"]))
        workflows = load_workflows(tmp_path)
        assert workflows["sd15"].defaults["steps"] == 3 and "portrait" in workflows and "sdxl" in workflows

    def test_broken_user_template_stops_start_up_naming_the_setting(self, tmp_path: Path) -> None:
        (tmp_path / "broken.json").write_text("{not json")
        settings = fast_settings(image_provider="comfyui", comfyui_workflows_dir=tmp_path)
        with pytest.raises(SettingsError) as info:
            build_providers(settings)
        assert "GENLOOM_COMFYUI_WORKFLOWS_DIR" in str(info.value) and "broken.json" in str(info.value)

    def test_unknown_default_workflow_stops_start_up(self) -> None:
        with pytest.raises(SettingsError, match="GENLOOM_IMAGE_MODEL"):
            build_providers(fast_settings(image_provider="comfyui", image_model="nope"))


class TestGenerate:
    async def test_happy_path_progress_and_outputs(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        async with aclosing(client_for(server)) as provider:
            assert isinstance(provider, ImageProvider)
            progress = Recorder()
            result = await provider.generate(ImageRequest(prompt="a red fox", negative_prompt="blur", width=96,
                                                          height=64, seed=42, steps=6), progress=progress)
        assert result.provider == "comfyui" and result.model == "sd15"
        [image] = result.images
        assert image.mime == "image/png" and (image.width, image.height, image.seed) == (96, 64, 42)
        with Image.open(io.BytesIO(image.data)) as im:
            assert im.size == (96, 64)
        graph = submitted_graph(state)
        assert graph["6"]["inputs"]["text"] == "a red fox" and graph["7"]["inputs"]["text"] == "blur"
        assert graph["3"]["inputs"]["seed"] == 42 and graph["3"]["inputs"]["steps"] == 6
        post = state.seen("POST", "/prompt")[-1].json()
        assert post["client_id"] and post["prompt_id"]
        # the sampler's steps drive progress; the running node's title (else its class) is the phase
        assert progress.phases[0] == "queued"
        assert {"Load Checkpoint", "Positive Prompt", "KSampler", "VAE Decode", "Save Image"} <= set(progress.phases)
        fractions = [f for f, _ in progress.calls]
        assert fractions == sorted(fractions) and max(fractions) >= 0.9
        assert state.seen("GET", "/view")[-1].query.startswith("filename=genloom_")

    async def test_batch_returns_every_image(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        _, server = comfy
        async with aclosing(client_for(server)) as provider:
            result = await provider.generate(ImageRequest(prompt="cats", width=64, height=64, seed=1, count=3, steps=2))
        assert [i.seed for i in result.images] == [1, 2, 3]
        assert len({i.data for i in result.images}) == 3

    async def test_execution_error_fails_with_comfyui_reason(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        state.fail_next_execution("VAEDecode", "RuntimeError", "Given groups=1, weight of size [4, 4], bad input")
        async with aclosing(client_for(server)) as provider:
            with pytest.raises(ProviderError) as info:
                await provider.generate(ImageRequest(prompt="x", width=64, height=64, seed=1, steps=2))
        err = info.value
        assert err.code == "provider_execution_error" and not err.retryable
        assert "VAEDecode" in err.message and "weight of size" in err.message

    async def test_out_of_memory_is_retryable(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        state.fail_next_execution()  # KSampler, torch.OutOfMemoryError
        async with aclosing(client_for(server)) as provider:
            with pytest.raises(ProviderError) as info:
                await provider.generate(ImageRequest(prompt="x", width=64, height=64, seed=1, steps=2))
        assert info.value.retryable and "OutOfMemoryError" in info.value.message

    async def test_validation_error_names_the_node(self, comfy: tuple[ComfyFake, FakeServer], tmp_path: Path) -> None:
        state, server = comfy
        source = json.loads((Path(__file__).parents[2] / "genloom/providers/comfyui/workflows/sd15.json").read_text())
        source["graph"]["4"]["inputs"]["ckpt_name"] = "missing.safetensors"
        (tmp_path / "broken_ckpt.json").write_text(json.dumps(source))
        settings = fast_settings(comfyui_url=server.url)
        workflows = load_workflows(tmp_path)
        async with aclosing(ComfyUIImage(settings, guard=guard_for("comfyui", settings), workflows=workflows)) as provider:
            with pytest.raises(ProviderError) as info:
                await provider.generate(ImageRequest(prompt="x", width=64, height=64, workflow="broken_ckpt"))
        assert info.value.code == "provider_bad_request" and not info.value.retryable
        assert "CheckpointLoaderSimple" in info.value.message and "missing.safetensors" in info.value.message

    async def test_host_paths_are_cut_from_the_error_but_logged(self, comfy: tuple[ComfyFake, FakeServer],
                                                               caplog: pytest.LogCaptureFixture) -> None:
        state, server = comfy
        full = "Error while loading /home/ops/ComfyUI/models/checkpoints/dreamy-v2.safetensors: truncated file"
        state.fail_next_execution("CheckpointLoaderSimple", "safetensors_rust.SafetensorError", full)
        caplog.set_level("WARNING", logger="genloom.providers.comfyui")
        async with aclosing(client_for(server)) as provider:
            with pytest.raises(ProviderError) as info:
                await provider.generate(ImageRequest(prompt="x", width=64, height=64, seed=1, steps=2))
        assert info.value.code == "provider_execution_error"
        assert "…/dreamy-v2.safetensors" in info.value.message and "/home/ops" not in info.value.message
        assert any(full in line for line in log_lines(caplog))

    async def test_validation_error_paths_are_cut(self, comfy: tuple[ComfyFake, FakeServer], tmp_path: Path) -> None:
        _, server = comfy
        source = json.loads((Path(__file__).parents[2] / "genloom/providers/comfyui/workflows/sd15.json").read_text())
        source["graph"]["4"]["inputs"]["ckpt_name"] = "/srv/models/checkpoints/mine.safetensors"
        (tmp_path / "abs_ckpt.json").write_text(json.dumps(source))
        settings = fast_settings(comfyui_url=server.url)
        async with aclosing(ComfyUIImage(settings, guard=guard_for("comfyui", settings),
                                         workflows=load_workflows(tmp_path))) as provider:
            with pytest.raises(ProviderError) as info:
                await provider.generate(ImageRequest(prompt="x", width=64, height=64, workflow="abs_ckpt"))
        assert info.value.code == "provider_bad_request"
        assert "…/mine.safetensors" in info.value.message and "/srv/" not in info.value.message

    async def test_unstated_size_comes_from_the_template(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        async with aclosing(client_for(server)) as provider:  # sd15: defaults 512×512, 20 steps
            await provider.generate(ImageRequest(prompt="x", size_is_default=True, seed=1, steps=2))
            graph = submitted_graph(state)
            assert (graph["5"]["inputs"]["width"], graph["5"]["inputs"]["height"]) == (512, 512)
            await provider.generate(ImageRequest(prompt="x", width=128, height=64, seed=1, steps=2))
            graph = submitted_graph(state)
            assert (graph["5"]["inputs"]["width"], graph["5"]["inputs"]["height"]) == (128, 64)

    async def test_template_without_prompt_runs_and_says_so(self, comfy: tuple[ComfyFake, FakeServer],
                                                            tmp_path: Path) -> None:
        state, server = comfy
        (tmp_path / "blur.json").write_text(json.dumps({"defaults": {"width": 80, "height": 40}, "graph": BLUR_GRAPH}))
        settings = fast_settings(comfyui_url=server.url)
        progress = Recorder()
        async with aclosing(ComfyUIImage(settings, guard=guard_for("comfyui", settings),
                                         workflows=load_workflows(tmp_path))) as provider:
            result = await provider.generate(ImageRequest(prompt="a prompt nobody uses", workflow="blur",
                                                          size_is_default=True), progress=progress)
        assert (result.images[0].width, result.images[0].height) == (80, 40)
        assert "a prompt nobody uses" not in json.dumps(submitted_graph(state))
        assert progress.phases[0] == "queued (template takes no prompt)"
        assert {"Blank", "Soften", "SaveImage"} <= set(progress.phases)

    async def test_unknown_workflow(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        _, server = comfy
        async with aclosing(client_for(server)) as provider:
            with pytest.raises(ProviderError) as info:
                await provider.generate(ImageRequest(prompt="x", workflow="flux-dev"))
        assert info.value.code == "unknown_workflow" and "sd15" in info.value.message

    async def test_socket_drop_falls_back_to_history(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        state.drop_sockets = True
        async with aclosing(client_for(server)) as provider:
            result = await provider.generate(ImageRequest(prompt="x", width=64, height=64, seed=3, steps=3))
        assert result.images[0].mime == "image/png"
        assert len(state.seen("GET", "/history/")) >= 1

    async def test_no_socket_at_all_polls_history(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        async with aclosing(client_for(server)) as provider:
            provider.ws_base = "ws://127.0.0.1:1"  # nothing listens there: the socket cannot open
            result = await provider.generate(ImageRequest(prompt="x", width=64, height=64, seed=3, steps=3))
        assert result.images and len(state.seen("GET", "/history/")) >= 1

    async def test_transient_submit_failure_is_retried(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        state.fail(503, times=2, path="/prompt", method="POST")
        async with aclosing(client_for(server)) as provider:
            result = await provider.generate(ImageRequest(prompt="x", width=64, height=64, seed=3, steps=2))
        assert result.images and len(state.seen("POST", "/prompt")) == 3

    async def test_read_timeout_on_submit_is_not_resubmitted(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        state.slow(1.5, path="/prompt", method="POST")
        async with aclosing(client_for(server, provider_read_timeout=0.3)) as provider:
            with pytest.raises(ProviderError) as info:
                await provider.generate(ImageRequest(prompt="x", width=64, height=64, seed=3, steps=2))
        # the prompt may have been queued: a blind resubmit could render (and bill GPU time) twice
        assert info.value.code == "provider_timeout" and info.value.retryable
        assert len(state.seen("POST", "/prompt")) == 1

    async def test_lost_outputs_fail_without_retry(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        state.lose_outputs = True
        async with aclosing(client_for(server)) as provider:
            with pytest.raises(ProviderError) as info:
                await provider.generate(ImageRequest(prompt="x", width=64, height=64, seed=3, steps=2))
        assert info.value.code == "result_expired" and not info.value.retryable

    async def test_cancel_interrupts_the_running_prompt(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        state.step_seconds = 0.05
        async with aclosing(client_for(server)) as provider:
            progress = Recorder()
            task = asyncio.create_task(provider.generate(
                ImageRequest(prompt="x", width=64, height=64, seed=3, steps=200), progress=progress))

            async def sampling() -> bool:
                return any(phase == "KSampler" for _, phase in progress.calls)

            await cancel_when(task, sampling)
        [interrupt] = state.seen("POST", "/interrupt")
        pid = interrupt.json()["prompt_id"]
        assert pid == state.seen("POST", "/prompt")[-1].json()["prompt_id"]
        assert state.seen("POST", "/queue")[-1].json() == {"delete": [pid]}

        async def interrupted() -> bool:
            entry = state.history.get(pid)
            return bool(entry) and entry["status"]["messages"][-1][0] == "execution_interrupted"

        await wait_for(interrupted)

    async def test_cancel_while_queued_removes_it_without_interrupting(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        state.hold = True
        async with aclosing(client_for(server)) as provider:
            task = asyncio.create_task(provider.generate(ImageRequest(prompt="x", width=64, height=64, steps=2)))

            async def queued() -> bool:
                return bool(state.pending)

            await cancel_when(task, queued)
        assert state.pending == [] and not state.seen("POST", "/interrupt")


class TestBreaker:
    async def test_opens_rejects_then_closes_after_cooldown(self, comfy: tuple[ComfyFake, FakeServer]) -> None:
        state, server = comfy
        fragile = client_for(server, breaker_failures=2, breaker_cooldown_seconds=0.3, provider_max_retries=0)
        async with aclosing(fragile) as provider:
            request = ImageRequest(prompt="x", width=64, height=64, seed=1, steps=2)
            state.fail(500, times=2, path="/prompt", method="POST")
            for _ in range(2):
                with pytest.raises(ProviderError) as info:
                    await provider.generate(request)
                assert info.value.retryable
            assert provider.guard.status()["breaker"]["state"] == "open"
            before = len(state.seen("POST", "/prompt"))
            with pytest.raises(ProviderError) as info:
                await provider.generate(request)
            assert info.value.code == "provider_unavailable" and info.value.retryable
            assert len(state.seen("POST", "/prompt")) == before  # rejected without a call

            async def cooled() -> bool:
                return provider.guard.status()["breaker"]["retry_in_seconds"] == 0

            await wait_for(cooled)
            result = await provider.generate(request)  # the half-open probe succeeds
            assert result.images and provider.guard.status()["breaker"]["state"] == "closed"


async def test_debug_logs_carry_no_prompt(comfy: tuple[ComfyFake, FakeServer], caplog: pytest.LogCaptureFixture) -> None:
    import logging

    state, server = comfy
    caplog.set_level(logging.DEBUG)
    secret = "grandmother-secret-garden-recipe"
    async with aclosing(client_for(server)) as provider:
        state.fail_next_execution("CLIPTextEncode", "RuntimeError", "bad text")
        with pytest.raises(ProviderError):
            await provider.generate(ImageRequest(prompt=secret, width=64, height=64, steps=2))
        await provider.generate(ImageRequest(prompt=secret, width=64, height=64, steps=2))
    lines = log_lines(caplog)
    assert any("provider=comfyui" in line for line in lines)
    assert not [line for line in lines if secret in line]
