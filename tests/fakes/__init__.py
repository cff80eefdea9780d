"""Fake provider servers speaking the providers' real HTTP/WebSocket protocols on real sockets, with switches
to inject faults. Start one in a test with :class:`tests.fakes.base.FakeServer`, or by hand with
``python -m tests.fakes dashscope --port 9001``."""
