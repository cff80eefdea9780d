"""Run a fake provider by hand: ``python -m tests.fakes dashscope --port 9001 [--api-key KEY]``.

Then point genloom at it, e.g. ``DASHSCOPE_BASE_URL=http://127.0.0.1:9001 DASHSCOPE_API_KEY=KEY
GENLOOM_IMAGE_PROVIDER=dashscope GENLOOM_DOWNLOAD_ALLOW_HOSTS=127.0.0.1 genloom serve``.
Every fake module ``tests/fakes/<name>.py`` exposes ``create_app(state)`` whose ``state`` parameter is
annotated with its state class.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import typing

import uvicorn

FAKES = ("dashscope", "make", "ark", "comfyui", "openai")
#: fakes whose server is built in a module of its own
SERVERS = {"comfyui": "comfyui_server"}


def build(name: str, api_key: str) -> typing.Any:
    module = importlib.import_module(f"tests.fakes.{SERVERS.get(name, name)}")
    create_app = module.create_app
    hints = typing.get_type_hints(create_app)
    state_cls = hints.get("state") or next(iter(inspect.signature(create_app).parameters.values())).annotation
    state = state_cls()
    if hasattr(state, "api_key"):
        state.api_key = api_key
    return create_app(state)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes", description="run a fake AI provider server")
    parser.add_argument("provider", choices=FAKES)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9001)
    parser.add_argument("--api-key", default="test-key", help="the key the fake accepts (default: test-key)")
    args = parser.parse_args(argv)
    app = build(args.provider, args.api_key)
    print(f"fake {args.provider} on http://{args.host}:{args.port} (key {args.api_key!r})", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", lifespan="off")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
