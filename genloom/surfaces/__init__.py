"""One folder per app API: each holds all of that app's routes, request parsing, response shapes, envelope,
error shaping and WebSocket protocol, and exports ``surface``. Only ``genloom.app`` imports them."""
