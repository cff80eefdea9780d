"""Rate limits per caller: fixed-window counters in the database (TTL rows) or in Redis, shared by every API
replica. :func:`genloom.ratelimits.limiter.build_limiter` picks the backend from settings."""
