"""Endpoint signatures built from the request schema, so the API lists each setting as the engine defines it.

gradio reads an endpoint's parameters (names, types, defaults) from its function's signature. Writing those
signatures by hand repeated every setting and drifted from the engine; here they are derived from
`GenerationRequest` and `ControlUnit`, and each call arrives at the body as keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from pipelines.schema import api_parameters

_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD


def parameter(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, _KEYWORD, default=default, annotation=annotation)


def schema_parameters(cls: type, only: Iterable[str] | None = None, skip: Iterable[str] = (),
                      defaults: dict[str, Any] | None = None) -> list[inspect.Parameter]:
    """One parameter per setting of `cls` (all of them, or `only` those), with the schema's type and default."""
    wanted = None if only is None else set(only)
    return [parameter(name, annotation, (defaults or {}).get(name, default))
            for name, annotation, default in api_parameters(cls, tuple(skip)) if wanted is None or name in wanted]


def keyword_endpoint(body: Callable, parameters: list[inspect.Parameter], returns: Any, name: str, doc: str) -> Callable:
    """A function gradio can register whose signature is `parameters`; gradio's positional call reaches `body` by name."""
    signature = inspect.Signature(parameters, return_annotation=returns)

    def arguments(args: tuple, kwargs: dict) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments

    if inspect.isasyncgenfunction(body):
        async def endpoint(*args, **kwargs):
            async for item in body(**arguments(args, kwargs)):
                yield item
    else:
        def endpoint(*args, **kwargs):
            return body(**arguments(args, kwargs))

    endpoint.__signature__ = signature
    endpoint.__annotations__ = {item.name: item.annotation for item in parameters} | {"return": returns}
    endpoint.__name__ = endpoint.__qualname__ = name
    endpoint.__doc__ = doc
    return endpoint
