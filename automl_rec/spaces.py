"""Declarative hyperparameter spaces: ``search_spaces/<family>.yaml``, loaded strictly.

A space file names its family and lists parameters in Optuna's vocabulary::

    family: mlp
    parameters:
      design: {type: categorical, choices: [neumf, youtube], default: youtube}
      embedding_dim: {type: int, low: 16, high: 128, step: 16, default: 64}
      learning_rate: {type: float, low: 1.0e-4, high: 1.0e-2, log: true, default: 1.0e-3}
      mlp_layers: {type: int, low: 1, high: 3, default: 2, when: {design: neumf}}

``when`` makes a parameter conditional: it is active only when the named categorical parameter
(declared earlier) takes one of the given values. Unknown keys, bad ranges, defaults out of range
and numbers that YAML reads as strings are errors that name the file, the key and the fix.
Any logic that depends on the data lives in the family module, which narrows bounds through
:meth:`SearchSpace.narrowed`. "Space" is the declaration; "search" is the tuning loop.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from automl_rec.errors import SearchSpaceError

KINDS = ("int", "float", "categorical")
_KEYS = {
    "int": {"type", "low", "high", "step", "log", "default", "when", "help"},
    "float": {"type", "low", "high", "step", "log", "default", "when", "help"},
    "categorical": {"type", "choices", "default", "when", "help"},
}
_NUMBER_AS_TEXT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Param:
    """One hyperparameter of a space.

    Attributes:
        name: Parameter name.
        kind: ``int``, ``float`` or ``categorical``.
        default: Value of the default configuration (tried first).
        low: Inclusive lower bound (numbers).
        high: Inclusive upper bound (numbers).
        step: Grid step (numbers), if any.
        log: Sample on a log scale (numbers).
        choices: Allowed values (categorical).
        when: Conditions ``{parameter: allowed values}`` under which this one is active.
    """

    name: str
    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    when: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def is_active(self, values: dict[str, Any]) -> bool:
        """Whether the parameter applies given the values chosen so far."""
        return all(values.get(parent) in allowed for parent, allowed in self.when.items())

    def to_dict(self) -> dict[str, Any]:
        """The parameter as it would be written in a space file."""
        out: dict[str, Any] = {"type": self.kind}
        if self.kind == "categorical":
            out["choices"] = list(self.choices)
        else:
            out.update({"low": self.low, "high": self.high})
            if self.step is not None:
                out["step"] = self.step
            if self.log:
                out["log"] = True
        out["default"] = self.default
        if self.when:
            out["when"] = {k: list(v) for k, v in self.when.items()}
        return out


@dataclass(frozen=True)
class SearchSpace:
    """The parameters of one family, in declaration order (parents before children)."""

    family: str
    params: tuple[Param, ...]
    source: str = ""

    def __getitem__(self, name: str) -> Param:
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)

    def names(self) -> list[str]:
        """Parameter names in declaration order."""
        return [p.name for p in self.params]

    def defaults(self) -> dict[str, Any]:
        """The default configuration (active parameters only)."""
        return self.completed({})

    def completed(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` for the parameters they give, defaults for the other active ones; inactive
        parameters are dropped."""
        out: dict[str, Any] = {}
        for param in self.params:
            if param.is_active(out):
                out[param.name] = values.get(param.name, param.default)
        return out

    def active(self, values: dict[str, Any]) -> dict[str, Any]:
        """Keep only the values of parameters that are active under ``values``."""
        kept: dict[str, Any] = {}
        for param in self.params:
            if param.name in values and param.is_active(kept):
                kept[param.name] = values[param.name]
        return kept

    def narrowed(self, name: str, *, low: float | None = None, high: float | None = None,
                 choices: tuple[Any, ...] | None = None) -> SearchSpace:
        """A copy with one parameter's bounds or choices narrowed (e.g. to what the data allows).

        The default is clipped into the new range (or replaced by the first remaining choice).
        Bounds only ever shrink: a requested bound outside the declared range is ignored.
        """
        param = self[name]
        if param.kind == "categorical":
            kept = tuple(c for c in param.choices if choices is None or c in choices)
            if not kept:
                return self
            default = param.default if param.default in kept else kept[0]
            new = replace(param, choices=kept, default=default)
        else:
            assert param.low is not None and param.high is not None
            new_low = max(param.low, low) if low is not None else param.low
            new_high = min(param.high, high) if high is not None else param.high
            if param.kind == "int":
                new_low, new_high = math.ceil(new_low), math.floor(new_high)
            if param.step is not None:
                new_low = param.low + math.ceil((new_low - param.low) / param.step) * param.step
                new_high = param.low + math.floor((new_high - param.low) / param.step) * param.step
            new_high = max(new_low, new_high)
            default = min(max(param.default, new_low), new_high)
            if param.step is not None:
                default = min(new_low + round((default - new_low) / param.step) * param.step,
                              new_high)
            if param.kind == "int":
                new_low, new_high, default = int(new_low), int(new_high), int(default)
            new = replace(param, low=new_low, high=new_high, default=default)
        return self._with_param(new)

    def with_default(self, name: str, default: Any) -> SearchSpace:
        """A copy whose parameter ``name`` defaults to ``default`` (one of its values)."""
        param = self[name]
        if param.kind == "categorical":
            if default not in param.choices:
                raise ValueError(f"{default!r} is not a choice of {name}")
        elif not param.low <= default <= param.high:  # type: ignore[operator]
            raise ValueError(f"{default!r} is outside the range of {name}")
        return self._with_param(replace(param, default=default))

    def _with_param(self, new: Param) -> SearchSpace:
        """A copy with the parameter of ``new``'s name replaced by ``new``."""
        return replace(self, params=tuple(new if p.name == new.name else p for p in self.params))

    def to_dict(self) -> dict[str, Any]:
        """The space as it would be written in a space file."""
        return {"family": self.family,
                "parameters": {p.name: p.to_dict() for p in self.params}}


def space_dir() -> Path:
    """Folder of the shipped space files (inside the wheel, or at the repository root)."""
    packaged = Path(__file__).resolve().parent / "search_spaces"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "search_spaces"


def load_space(path: str | Path) -> SearchSpace:
    """Load and check one space file.

    Args:
        path: A ``.yaml`` file.

    Returns:
        The space.

    Raises:
        SearchSpaceError: The file is missing, not YAML, or breaks a rule of the format.
    """
    path = Path(path)
    where = f"search space '{path}'"
    if not path.is_file():
        raise SearchSpaceError(f"The {where} does not exist; check the path given to "
                               "--search-space.")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise SearchSpaceError(f"The {where} is not valid YAML{line}; fix the syntax.") from exc
    return parse_space(document, where, str(path))


def parse_space(document: Any, where: str = "search space", source: str = "") -> SearchSpace:
    """Check a space given as a mapping (a parsed space file, or ``SearchSpace.to_dict()``).

    Raises:
        SearchSpaceError: The mapping breaks a rule of the format.
    """
    if not isinstance(document, dict) or set(document) != {"family", "parameters"}:
        keys = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise SearchSpaceError(
            f"The {where} must be a mapping with exactly the keys 'family' and 'parameters'; "
            f"found {keys}."
        )
    family = document["family"]
    parameters = document["parameters"]
    if not isinstance(family, str) or not family:
        raise SearchSpaceError(f"In the {where}, 'family' must be a family name; found "
                               f"{family!r}.")
    if not isinstance(parameters, dict) or not parameters:
        raise SearchSpaceError(f"In the {where}, 'parameters' must be a non-empty mapping of "
                               "parameter names to their declarations.")
    params: list[Param] = []
    for name, spec in parameters.items():
        params.append(_parse_param(str(name), spec, params, where))
    return SearchSpace(family, tuple(params), source)


def _fail(where: str, name: str, message: str) -> SearchSpaceError:
    return SearchSpaceError(f"In the {where}, parameter '{name}': {message}")


def _number(value: Any, key: str, name: str, where: str, kind: str) -> float | int:
    if isinstance(value, str) and _NUMBER_AS_TEXT.match(value.strip()):
        raise _fail(where, name, f"'{key}' is the text {value!r}, not a number (YAML reads "
                                 f"1e-4 as text); write it with a dot and a signed exponent, "
                                 f"like 1.0e-4.")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, name, f"'{key}' must be a number; found {value!r}.")
    if kind == "int" and not float(value).is_integer():
        raise _fail(where, name, f"'{key}' must be a whole number for an int parameter; "
                                 f"found {value!r}.")
    return int(value) if kind == "int" else float(value)


def _parse_param(name: str, spec: Any, earlier: list[Param], where: str) -> Param:
    if not isinstance(spec, dict):
        raise _fail(where, name, f"expected a mapping with 'type' and its settings; found "
                                 f"{spec!r}.")
    kind = spec.get("type")
    if kind not in KINDS:
        raise _fail(where, name, f"'type' must be one of {', '.join(KINDS)}; found {kind!r}.")
    unknown = sorted(set(spec) - _KEYS[kind])
    if unknown:
        raise _fail(where, name, f"unknown key '{unknown[0]}' for a {kind} parameter; the keys "
                                 f"are: {', '.join(sorted(_KEYS[kind]))}.")
    if "default" not in spec:
        raise _fail(where, name, "'default' is missing; every parameter needs a default value.")
    when = _parse_when(spec.get("when"), name, earlier, where)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _fail(where, name, "'choices' must be a non-empty list.")
        if any(isinstance(c, (list, dict)) for c in choices) or len(set(map(repr, choices))) < len(
                choices):
            raise _fail(where, name, "'choices' must be distinct plain values.")
        if spec["default"] not in choices:
            raise _fail(where, name, f"default {spec['default']!r} is not one of the choices "
                                     f"{choices}.")
        return Param(name, kind, spec["default"], choices=tuple(choices), when=when)
    for key in ("low", "high"):
        if key not in spec:
            raise _fail(where, name, f"'{key}' is missing; a {kind} parameter needs 'low' and "
                                     "'high'.")
    low = _number(spec["low"], "low", name, where, kind)
    high = _number(spec["high"], "high", name, where, kind)
    default = _number(spec["default"], "default", name, where, kind)
    step = _number(spec["step"], "step", name, where, kind) if "step" in spec else None
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise _fail(where, name, f"'log' must be true or false; found {log!r}.")
    if low > high:
        raise _fail(where, name, f"'low' ({low}) is above 'high' ({high}); swap them.")
    if step is not None and step <= 0:
        raise _fail(where, name, f"'step' must be positive; found {step}.")
    if step is not None and log:
        raise _fail(where, name, "'step' and 'log' cannot be used together; keep one.")
    if log and low <= 0:
        raise _fail(where, name, f"'log: true' needs 'low' above 0; found {low}.")
    if not low <= default <= high:
        raise _fail(where, name, f"default {default} is outside [{low}, {high}]; move it into "
                                 "the range.")
    if step is not None and not math.isclose(((default - low) / step) % 1, 0, abs_tol=1e-9) \
            and not math.isclose(((default - low) / step) % 1, 1, abs_tol=1e-9):
        raise _fail(where, name, f"default {default} is not on the grid low + n * step "
                                 f"({low} + n * {step}).")
    return Param(name, kind, default, low=low, high=high, step=step, log=log, when=when)


def _parse_when(when: Any, name: str, earlier: list[Param], where: str
                ) -> dict[str, tuple[Any, ...]]:
    if when is None:
        return {}
    if not isinstance(when, dict) or not when:
        raise _fail(where, name, "'when' must map a categorical parameter to its value or list "
                                 "of values.")
    parents = {p.name: p for p in earlier}
    parsed: dict[str, tuple[Any, ...]] = {}
    for parent, allowed in when.items():
        if parent not in parents or parents[parent].kind != "categorical":
            raise _fail(where, name, f"'when' refers to '{parent}', which is not a categorical "
                                     "parameter declared above it.")
        values = tuple(allowed) if isinstance(allowed, list) else (allowed,)
        wrong = [v for v in values if v not in parents[parent].choices]
        if wrong:
            raise _fail(where, name, f"'when' gives {wrong[0]!r} for '{parent}', which is not "
                                     f"one of its choices {list(parents[parent].choices)}.")
        parsed[str(parent)] = values
    return parsed
