"""A route's template as Litestar writes it outside its route table: without the parameters'
types (`/orders/{order_id:str}/pay` -> `/orders/{order_id}/pay`). That is the path label of
its Prometheus metrics and the `path_template` its router puts in the scope."""

from __future__ import annotations

import re

_PARAMETER_TYPE = re.compile(r"\{(\w+):\w+\}")


def untyped(template: str) -> str:
    return _PARAMETER_TYPE.sub(r"{\1}", template)
