"""`fast_init`: the same objects as the dataclass's own __init__, still frozen, and refused where it
could not be the same."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass, field

import pytest

from points_engine.frozen import fast_init

ENGINE_MODULES = (
    "points_engine.actions",
    "points_engine.records",
    "points_engine.settlement",
    "points_engine.methodologies.assess",
    "points_engine.rules.state",
    "points_engine.rules.outcome",
    "points_engine.ledger.accounts",
    "points_engine.ledger.transactions",
)


@fast_init
@dataclass(frozen=True, slots=True)
class Sample:
    a: int
    b: str
    c: tuple[int, ...] = ()
    d: int = field(default=7, kw_only=True)
    derived: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("a must not be negative")
        object.__setattr__(self, "derived", self.a * 2)


def original(cls: type[Sample], *args: object, **kwargs: object) -> Sample:
    made = object.__new__(cls)
    cls.__init__.__dataclass_init__(made, *args, **kwargs)  # type: ignore[attr-defined]
    return made


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1, "x"), {}), ((1, "x", (2, 3)), {"d": 9}), ((), {"a": 4, "b": "y", "c": (1,)}), ((0, ""), {"d": -1})],
)
def test_objects_equal_those_of_the_generated_init(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> None:
    fast, slow = Sample(*args, **kwargs), original(Sample, *args, **kwargs)  # type: ignore[arg-type]
    assert fast == slow
    assert [getattr(fast, f.name) for f in dataclasses.fields(Sample)] == [
        getattr(slow, f.name) for f in dataclasses.fields(Sample)
    ]


def test_post_init_still_runs_and_objects_stay_frozen() -> None:
    with pytest.raises(ValueError, match="negative"):
        Sample(-1, "x")
    made = Sample(1, "x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.a = 2  # type: ignore[misc]


def test_the_same_mistakes_fail_the_same_way() -> None:
    with pytest.raises(TypeError):
        Sample(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Sample(1, "x", (), 9)  # type: ignore[misc]  # d is keyword-only


def test_what_it_cannot_reproduce_is_refused() -> None:
    with pytest.raises(TypeError, match="default factories"):

        @fast_init
        @dataclass(frozen=True, slots=True)
        class WithFactory:
            a: list[int] = field(default_factory=list)

    with pytest.raises(TypeError, match="frozen dataclasses with slots"):

        @fast_init
        @dataclass(frozen=True)
        class WithoutSlots:
            a: int

    with pytest.raises(TypeError, match="could not be reproduced"):

        @fast_init
        @dataclass(frozen=True, slots=True)
        class WithInitVar:
            a: int
            b: dataclasses.InitVar[int]

            def __post_init__(self, b: int) -> None:
                pass


def test_every_engine_class_keeps_its_signature() -> None:
    engine = {
        cls
        for module in ENGINE_MODULES
        for cls in vars(importlib.import_module(module)).values()
        if isinstance(cls, type) and hasattr(cls.__dict__.get("__init__"), "__dataclass_init__")
    }
    assert len(engine) >= 14
    for cls in engine:
        fast = inspect.signature(cls.__init__).parameters.values()
        generated = inspect.signature(cls.__init__.__dataclass_init__).parameters.values()
        assert [(p.name, p.kind, p.default) for p in fast] == [
            (p.name, p.kind, p.default) for p in generated
        ], cls
