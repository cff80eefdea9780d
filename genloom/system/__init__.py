"""Plumbing every app shares: ``GET /health`` and ``/healthz``, ``GET /metrics``, ``GET /v1/providers``, the
hot status path, the OpenAPI document's shaping and the Postman collection. No app's shapes live here."""
