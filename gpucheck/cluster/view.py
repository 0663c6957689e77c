"""A read-only attribute view over raw API JSON, named like the Python client's models.

The client's model deserialization costs about a millisecond per Node; at a thousand nodes
and pods it dominates a snapshot. A View reads the JSON as it came (`node.status.allocatable`,
`pod.spec.node_name`), so analyzers written against the client's models work unchanged, and
corpus YAML can be viewed the same way in tests.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

# Fields whose values are free-form maps (label keys, resource names): returned as plain dicts.
_MAPS = frozenset({"labels", "annotations", "allocatable", "capacity", "limits", "requests", "nodeSelector",
                   "data", "matchLabels", "hard", "used"})


@lru_cache(maxsize=512)  # a few dozen attribute names, asked for millions of times
def _camel(name: str) -> str:
    if name == "_continue":
        return "continue"
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _wrap(key: str, value: Any) -> Any:
    if key in _MAPS:
        return value
    if isinstance(value, dict):
        return View(value)
    if isinstance(value, list):
        return [View(v) if isinstance(v, dict) else v for v in value]
    return value


class View:
    __slots__ = ("_d",)

    def __init__(self, data: dict[str, Any]):
        self._d = data

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        key = _camel(name)
        return _wrap(key, self._d.get(key))

    def to_dict(self) -> dict[str, Any]:
        return self._d

    def __repr__(self) -> str:
        meta = self._d.get("metadata") or {}
        return f"View({self._d.get('kind', '?')} {meta.get('namespace', '')}/{meta.get('name', '')})"
