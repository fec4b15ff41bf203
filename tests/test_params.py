"""The parameter registry: types, ranges, stamps, errors that change nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from live.params import (
    BoolParam,
    ChoiceParam,
    FloatParam,
    IntParam,
    ParamError,
    Registry,
    Smoother,
    StringParam,
    VectorParam,
)


@pytest.fixture
def reg() -> Registry:
    r = Registry()
    r.add(FloatParam("/v/speed", 1.0, "speed", lo=0, hi=8, slew=0.5))
    r.add(IntParam("/v/seed", 0, "seed", lo=0))
    r.add(BoolParam("/m/play", True, "play"))
    r.add(StringParam("/t/prime", "", "prime", max_len=10))
    r.add(ChoiceParam("/v/mode", "walk", "mode", choices=("walk", "hold")))
    r.add(VectorParam("/v/xy", (0.0, 0.0), "xy", size=2, lo=-1, hi=1))
    return r


def test_each_change_takes_the_next_stamp(reg: Registry) -> None:
    assert reg.set("/v/speed", 2) == 1
    assert reg.set("/v/mode", "hold") == 2
    assert reg["/v/speed"].stamp == 1 and reg["/v/mode"].stamp == 2
    assert reg.get("/v/speed") == 2.0 and isinstance(reg.get("/v/speed"), float)


@pytest.mark.parametrize(("path", "value", "words"), [
    ("/v/speed", 9, ["/v/speed", "9", "[0, 8]"]),
    ("/v/speed", math.nan, ["finite"]),
    ("/v/speed", "1", ["'1'", "number"]),
    ("/v/speed", True, ["True"]),
    ("/v/seed", 1.5, ["integer"]),
    ("/v/seed", -1, ["integer in [0"]),
    ("/m/play", "maybe", ["boolean"]),
    ("/t/prime", "x" * 11, ["11 characters", "at most 10"]),
    ("/t/prime", 5, ["string"]),
    ("/v/mode", "spin", ["one of walk, hold"]),
    ("/v/xy", [0.5], ["1 values", "2 numbers"]),
    ("/v/xy", [0.5, 2.0], ["[-1, 1]"]),
    ("/v/xy", "0.5 0.5", ["list"]),
    ("/nope", 1, ["unknown parameter"]),
    (None, 1, ["unknown parameter"]),
])
def test_refused_values_name_path_value_and_expectation(reg, path, value, words) -> None:
    before = {p: reg.get(p) for p in reg.params}
    with pytest.raises(ParamError) as e:
        reg.set(path, value)
    for word in words:
        assert word in str(e.value)
    assert {p: reg.get(p) for p in reg.params} == before
    assert reg.stamp == 0


def test_coercions_that_performers_rely_on(reg: Registry) -> None:
    reg.set("/m/play", 0)
    assert reg.get("/m/play") is False
    reg.set("/m/play", "on")
    assert reg.get("/m/play") is True
    reg.set("/v/seed", 4.0)
    assert reg.get("/v/seed") == 4
    reg.set("/v/speed", [3])  # a one-element list, as some clients send
    assert reg.get("/v/speed") == 3.0


def test_listeners_see_every_applied_change_only(reg: Registry) -> None:
    seen, watched = [], []
    reg.listen(lambda c: seen.append((c.path, c.value, c.stamp, c.source)))
    reg.watch("/v/seed", lambda c: watched.append(c.value))
    reg.set("/v/seed", 5, source="osc")
    with pytest.raises(ParamError):
        reg.set("/v/seed", -5)
    reg.set("/v/speed", 1.5)
    assert seen == [("/v/seed", 5, 1, "osc"), ("/v/speed", 1.5, 2, "api")]
    assert watched == [5]


def test_smoother_follows_with_slew_and_reaches_target(reg: Registry) -> None:
    s = Smoother(reg["/v/speed"])
    reg.set("/v/speed", 5.0)
    first = float(s.step(1 / 30))
    assert 1.0 < first < 1.5  # a jump in the control is not a jump in the picture
    for _ in range(300):
        value = float(s.step(1 / 30))
    assert value == pytest.approx(5.0, abs=1e-3)
    xy = Smoother(reg["/v/xy"])
    reg.set("/v/xy", [1, -1])
    assert np.allclose(xy.step(0.1), [1, -1])  # no slew: follows at once


def test_schema_lists_every_field(reg: Registry) -> None:
    schema = {p["path"]: p for p in reg.schema()}
    assert schema["/v/speed"]["range"] == [0, 8]
    assert schema["/v/mode"]["choices"] == ["walk", "hold"]
    assert all({"path", "type", "default", "value", "doc"} <= set(p) for p in schema.values())


def test_duplicate_path_is_a_programming_error(reg: Registry) -> None:
    with pytest.raises(ValueError):
        reg.add(FloatParam("/v/speed", 0.0))
