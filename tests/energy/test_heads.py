"""ebmm.energy.heads: head specs (kinds, options, clear errors) and the heads on a feature map."""

from __future__ import annotations

import pytest
import torch

from ebmm.energy.heads import (
    HEADS,
    EncoderLayout,
    GatedHead,
    ReconstructHead,
    build_head,
    head_options,
    parse_head,
)

# a 1×8×8 image read by an encoder that halves it twice into a 6-channel 2×2 map
LAYOUT = EncoderLayout(image=(1, 8, 8), channels=6, grid=(2, 2), widths=(4,), downsamplings=2)


def test_the_heads_by_kind() -> None:
    assert {"gated": GatedHead, "reconstruct": ReconstructHead} == HEADS
    assert head_options(GatedHead) == {"hidden", "hops", "readout"}
    assert head_options(ReconstructHead) == {"pixel_weights", "weight_floor", "residual_power"}


@pytest.mark.parametrize("spec, kind, options", [
    ("gated", "gated", {}),
    ("reconstruct", "reconstruct", {}),
    ({"kind": "gated", "hops": 2, "readout": 8}, "gated", {"hops": 2, "readout": 8}),
    ({"kind": "reconstruct", "residual_power": 4.0}, "reconstruct", {"residual_power": 4.0}),
])
def test_a_spec_is_a_kind_or_a_table_of_options(spec, kind: str, options: dict) -> None:
    assert parse_head(spec) == (kind, options)


def test_parsing_leaves_the_spec_unchanged() -> None:
    spec = {"kind": "gated", "hops": 2}
    parse_head(spec)
    assert spec == {"kind": "gated", "hops": 2}


@pytest.mark.parametrize("spec, match", [
    ({"kind": "gated", "pixel_weights": True},
     r"head.pixel_weights: not an option of the 'gated' head \(GatedHead\); it takes hidden, hops, readout"),
    ({"kind": "reconstruct", "hops": 3, "power": 4.0},
     r"head.hops, head.power: not an option of the 'reconstruct' head \(ReconstructHead\)"),
    ({"hops": 3}, r"a head spec needs a 'kind'"),
    ({"kind": "transformer"}, r"head must be one of \('gated', 'reconstruct'\), got 'transformer'"),
    ("transformer", r"head must be one of .*'transformer'"),
    ({"kind": ["gated"]}, r"head must be one of .*\['gated'\]"),
    (3, r"head must be a kind, one of .* or a table with a 'kind'; got 3"),
])
def test_a_bad_spec_is_refused_by_name(spec, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_head(spec)
    with pytest.raises(ValueError, match=match):
        build_head(spec, LAYOUT)


def test_gated_head_maps_features_to_one_energy_each() -> None:
    torch.manual_seed(0)
    head = build_head({"kind": "gated", "hidden": 5, "hops": 2, "readout": 8}, LAYOUT)
    assert isinstance(head, GatedHead) and head.kind == "gated"
    assert head.hops.hidden == 5 and head.hops.hops == 2
    assert head.readout.in_features == 5 * 2 * 2 and head.readout.out_features == 8
    assert build_head("gated", LAYOUT).hops.hidden == 6  # default: as many channels as the features
    out = head(torch.randn(3, 6, 2, 2), torch.rand(3, 1, 8, 8))
    assert out.shape == (3,) and torch.isfinite(out).all()


@pytest.mark.parametrize("power, pixel_weights", [(2.0, False), (4.0, False), (3.0, True)])
def test_reconstruct_head_is_the_weighted_residual_power(power: float, pixel_weights: bool) -> None:
    torch.manual_seed(0)
    head = build_head({"kind": "reconstruct", "residual_power": power, "pixel_weights": pixel_weights,
                       "weight_floor": 0.2}, LAYOUT)
    assert isinstance(head, ReconstructHead)
    features, images = torch.randn(3, 6, 2, 2), torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        r = head.reconstruct(features)
        assert r.shape == images.shape and (r > 0).all() and (r < 1).all()
        w = 0.2 + 0.8 * torch.sigmoid(head.pixel_weights(images)) if pixel_weights else torch.ones_like(images)
        expected = (w * (images - r).abs().pow(power)).flatten(1).sum(-1) / power
        torch.testing.assert_close(head(features, images), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("spec, layout, match", [
    ({"kind": "reconstruct", "weight_floor": 1.0}, LAYOUT, "weight_floor must be in"),
    ({"kind": "reconstruct", "residual_power": 0.5}, LAYOUT, "residual_power must be >= 1"),
    ("reconstruct", EncoderLayout((1, 8, 8), 6, (8, 8), (), 0), "needs an encoder that downsamples"),
    ({"kind": "gated", "hops": 0}, LAYOUT, "hops must be >= 1"),
])
def test_bad_option_values_are_refused(spec, layout: EncoderLayout, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_head(spec, layout)
