"""Job handlers, one module per kind; each has ``register(kinds)``, called by :mod:`genloom.assembly`."""
