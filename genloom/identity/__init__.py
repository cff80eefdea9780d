"""Users, roles and permissions, JWT sign-in with rotating refresh tokens, anonymous client ids.

Use :mod:`genloom.identity.service` (users), :mod:`genloom.identity.auth` (sign-in, tokens) and
:mod:`genloom.identity.deps` (the FastAPI dependency resolving the caller of a request).
"""
