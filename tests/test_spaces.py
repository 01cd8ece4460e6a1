from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from automl_rec.errors import SearchSpaceError
from automl_rec.models import FAMILIES, default_space
from automl_rec.spaces import load_space, space_dir

GOOD = """
family: demo
parameters:
  design: {type: categorical, choices: [a, b], default: a}
  units: {type: int, low: 8, high: 64, step: 8, default: 32}
  rate: {type: float, low: 1.0e-4, high: 1.0e-1, log: true, default: 1.0e-3}
  depth: {type: int, low: 1, high: 4, default: 2, when: {design: b}}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_a_good_space_loads_with_defaults_and_conditions(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, GOOD))
    assert space.family == "demo"
    assert space.defaults() == {"design": "a", "units": 32, "rate": 1e-3}
    assert space.active({"design": "b", "units": 8, "rate": 0.01, "depth": 3})["depth"] == 3
    assert "depth" not in space.active({"design": "a", "units": 8, "rate": 0.01, "depth": 3})


def test_narrowed_bounds_clip_the_default_and_never_widen(tmp_path: Path) -> None:
    space = load_space(write(tmp_path, GOOD))
    narrowed = space.narrowed("units", high=20)
    assert (narrowed["units"].low, narrowed["units"].high, narrowed["units"].default) == (8, 16, 16)
    assert space.narrowed("units", low=0, high=1000)["units"] == space["units"]
    assert space.narrowed("design", choices=("b",)).defaults()["design"] == "b"


@pytest.mark.parametrize("change, message", [
    (("units: {type: int, low: 8", "units: {type: int, lo: 8"), "unknown key 'lo'"),
    (("low: 8, high: 64", "low: 64, high: 8"), "above 'high'"),
    (("default: 32}", "default: 100}"), "outside"),
    (("default: 32}", "default: 30}"), "grid"),
    (("low: 1.0e-4", "low: 1e-4"), "1.0e-4"),
    (("log: true, default: 1.0e-3", "log: true, step: 0.1, default: 1.0e-3"), "cannot be used"),
    (("low: 1.0e-4, high", "low: 0.0, high"), "above 0"),
    (("choices: [a, b], default: a", "choices: [a, b], default: c"), "not one of the choices"),
    (("when: {design: b}", "when: {shape: b}"), "'shape'"),
    (("when: {design: b}", "when: {design: z}"), "'z'"),
    (("type: categorical", "type: choice"), "'type' must be one of"),
    (("units: {type: int, low: 8, high: 64, step: 8, default: 32}",
      "units: {type: int, low: 8, high: 64, step: 8}"), "'default' is missing"),
    (("family: demo", "familly: demo"), "exactly the keys"),
])
def test_malformed_spaces_name_the_file_key_and_fix(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    assert change[0] in GOOD
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(SearchSpaceError, match=message) as caught:
        load_space(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_invalid_yaml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SearchSpaceError, match="not valid YAML"):
        load_space(write(tmp_path, "family: [unclosed"))
    with pytest.raises(SearchSpaceError, match="does not exist"):
        load_space(tmp_path / "nope.yaml")


def test_registry_modules_and_space_files_agree() -> None:
    files = {p.stem for p in space_dir().glob("*.yaml")}
    assert files == set(FAMILIES)
    for name, module_path in FAMILIES.items():
        assert module_path == f"automl_rec.models.{name}"
        module = importlib.import_module(module_path)
        assert module.NAME == name
        for function in ("unsupported_reason", "adapt_space", "build"):
            assert callable(getattr(module, function))
        assert default_space(name).family == name
