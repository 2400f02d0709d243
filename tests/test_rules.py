"""The write, refine and read rules: defaults, normalisation and every bad value named."""

from __future__ import annotations

import dataclasses

import pytest

from ebmm.rules import WRITE_TERMS, ReadRule, RefineRule, WriteRule


def test_defaults_are_the_papers() -> None:
    write, read = WriteRule(), ReadRule()
    assert (write.steps, write.terms, write.rate_init, write.reduction, write.chunk) == (
        3, WRITE_TERMS, (1e-4, 1e-4, 1e-4), "mean", None)
    assert (read.steps, read.step_init, read.momentum_init) == (5, 0.1, 0.5)


def test_terms_are_kept_in_loss_order_and_values_normalised() -> None:
    rule = WriteRule(terms=["prior", "energy"], rate_init=[1, 2, 3])  # type: ignore[arg-type]
    assert rule.terms == ("energy", "prior")
    assert rule.rate_init == (1.0, 2.0, 3.0) and isinstance(rule.rate_init, tuple)
    assert RefineRule(steps=2, rate_init=[0.5, 0.5, 0.5]).rate_init == (0.5, 0.5, 0.5)  # type: ignore[arg-type]


def test_rules_are_immutable_values() -> None:
    rule = WriteRule(steps=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.steps = 3  # type: ignore[misc]
    assert rule == WriteRule(steps=2) and dataclasses.replace(rule, chunk=1).chunk == 1


@pytest.mark.parametrize(("make", "message"), [
    (lambda: WriteRule(steps=0), r"WriteRule\.steps must be an int >= 1, got 0"),
    (lambda: WriteRule(steps=True), r"WriteRule\.steps"),
    (lambda: WriteRule(terms=("hessian",)), r"WriteRule\.terms must be a non-empty subset"),
    (lambda: WriteRule(terms=()), r"WriteRule\.terms"),
    (lambda: WriteRule(terms="energy"), r"WriteRule\.terms"),
    (lambda: WriteRule(rate_init=(0.0, 1.0, 1.0)), r"WriteRule\.rate_init needs one positive rate per term"),
    (lambda: WriteRule(rate_init=(1.0, 1.0)), r"WriteRule\.rate_init"),
    (lambda: WriteRule(reduction="max"), r"WriteRule\.reduction must be one of \('mean', 'sum'\), got 'max'"),
    (lambda: WriteRule(chunk=0), r"WriteRule\.chunk \(None: batch write\) must be an int >= 1"),
    (lambda: WriteRule(chunk=1.5), r"WriteRule\.chunk"),
    (lambda: WriteRule(chunk=True), r"WriteRule\.chunk"),
    (lambda: RefineRule(steps=0), r"RefineRule\.steps must be an int >= 1"),
    (lambda: RefineRule(steps=2, rate_init=(0.1, 0.1)), r"RefineRule\.rate_init"),
    (lambda: RefineRule(steps=2, momentum_init=1.0), r"RefineRule\.momentum_init must lie in \(0, 1\), got 1.0"),
    (lambda: ReadRule(steps=0), r"ReadRule\.steps"),
    (lambda: ReadRule(step_init=0.0), r"ReadRule\.step_init must be positive"),
    (lambda: ReadRule(step_decay_init=1.0), r"ReadRule\.step_decay_init must lie in \(0, 1\)"),
    (lambda: ReadRule(momentum_init=0.0), r"ReadRule\.momentum_init"),
    (lambda: ReadRule(momentum_decay_init=2.0), r"ReadRule\.momentum_decay_init"),
    (lambda: ReadRule(temperature=-0.1), r"ReadRule\.temperature must be a finite number >= 0"),
    (lambda: ReadRule(temperature=float("inf")), r"ReadRule\.temperature"),
    (lambda: ReadRule(temperature=True), r"ReadRule\.temperature"),
])
def test_bad_values_are_named(make, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()
