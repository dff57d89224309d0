"""Model classes the network ranks, and helpers to select subsets of them.

The order of :data:`DEFAULT_MODELS` is the output order of the network.
"""
from __future__ import annotations

import fnmatch
from functools import lru_cache

from sasnets_plugin.models import DEFAULT_MODELS


#: Command-line help for a model specification (see :func:`resolve_models`).
MODELS_HELP = ("comma list of sasmodels names and/or shell globs (e.g. 'sphere,core_shell_*'), "
               "'default' (the 71 classes), 'all' (every installed model) or '+name' (the "
               "71 classes and name) (default: default)")


@lru_cache(maxsize=1)
def available_models() -> tuple[str, ...]:
    """Every model name known to the installed sasmodels."""
    from sasmodels.core import list_models

    return tuple(list_models())


def resolve_models(spec: str | None) -> list[str]:
    """Turn a model specification into an ordered, duplicate-free list of names.

    *spec* is a comma separated list whose items are model names, shell
    globs (``core_shell_*``), ``default`` (the 71 default classes, in order)
    or ``all`` (every model of the installed sasmodels).  ``None`` means
    ``default``; an empty string selects no model and is refused (``--models ''``
    is more likely a shell variable that was not set than a wish for the 71
    defaults).  An item written ``+name`` adds to the
    default classes (``+superball`` = ``default,superball``).  Items keep the order they are given in;
    a glob expands in sorted order.  Unknown names or globs that match
    nothing raise :class:`ValueError` naming them.
    """
    if spec is None:
        return list(DEFAULT_MODELS)
    known = available_models()
    known_set = set(known)
    result: list[str] = []
    unknown: list[str] = []
    items = [part.strip() for part in str(spec).split(",")]
    if any(item.startswith("+") for item in items):  # "+superball": the defaults and more
        items = ["default"] + [item[1:].strip() if item.startswith("+") else item
                               for item in items]
    for item in items:
        if not item:
            continue
        if item == "all":
            names = list(known)
        elif item == "default":
            names = list(DEFAULT_MODELS)
        elif any(ch in item for ch in "*?["):
            names = sorted(fnmatch.filter(known, item))
            if not names:
                unknown.append(item)
        elif item in known_set:
            names = [item]
        else:
            unknown.append(item)
            names = []
        for name in names:
            if name not in result:
                result.append(name)
    if unknown:
        raise ValueError(
            "unknown sasmodels model(s) or pattern(s) matching nothing: "
            + ", ".join(repr(u) for u in unknown)
            + f" (sasmodels knows {len(known)} models; use 'all' to list them "
            "via sasmodels.core.list_models())")
    if not result:
        raise ValueError(f"model specification {spec!r} selects no model")
    return result
