"""Live job events: the hub that tails the event log, subscriptions, the read model kept fresh from it, and
the SSE/WebSocket endpoints that stream it (one WebSocket loop shared by every protocol)."""
