"""schemathesis hooks of the client-id pass (test_schemathesis.py loads them through ``SCHEMATHESIS_HOOKS``)."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.generation.meta import negated_parameters


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Leave out the cases made by breaking ``X-Client-Id``: this pass puts its own client id on every request
    (a ``parameters`` entry), and the coverage phase (schemathesis 4.32) applies that after generating, so such a
    case goes out with the valid id yet is judged as if the broken one had been sent. Malformed client ids are
    sent by the anonymous and user passes, which set none."""
    return not any(name.lower() == "x-client-id" for name, _ in negated_parameters(case._meta))
