from __future__ import annotations

import pytest
import torch

from titanic_lab.errors import OptionError
from titanic_lab.models import LOSSES, accuracy, forward, init_params, parse_model, sheet_columns

X = torch.tensor([[1.0, 2.0, 1.0], [0.5, -1.0, 1.0], [0.0, 0.0, 1.0]], dtype=torch.float64)  # (3 rows, 3 features)


@pytest.mark.parametrize("text, kind, sizes, name", [
    ("linear", "linear", (), "linear"), ("nnet", "nnet", (2,), "nnet"), ("nnet:3", "nnet", (3,), "nnet:3"),
    ("hidden", "hidden", (20,), "hidden"), ("deep:4,5,6", "deep", (4, 5, 6), "deep:4,5,6"), ("deep:10,10", "deep", (10, 10), "deep"),
])
def test_parse_model(text, kind, sizes, name):
    spec = parse_model(text)
    assert (spec.kind, spec.sizes, spec.name) == (kind, sizes, name)


@pytest.mark.parametrize("text", ["cnn", "nnet:0", "nnet:a", "linear:3", "hidden:3,4"])
def test_parse_model_rejects(text):
    with pytest.raises(OptionError):
        parse_model(text)


def test_forward_by_hand():
    w = torch.tensor([0.5, -1.0, 0.25], dtype=torch.float64)
    assert forward(parse_model("linear"), {"w": w}, X).tolist() == [-1.25, 1.5, 0.25]
    W = torch.stack([w, -w], dim=1)  # (3 features, 2 units)
    # relu(Xw) + relu(-Xw) = |Xw|
    assert forward(parse_model("nnet"), {"W": W}, X).tolist() == [1.25, 1.5, 0.25]
    (_, lin), (_, relu), (_, preds) = sheet_columns(parse_model("nnet"), {"W": W}, X)
    assert lin[:, 0].tolist() == [-1.25, 1.5, 0.25] and relu[:, 0].tolist() == [0.0, 1.5, 0.25]
    assert preds[:, 0].tolist() == [1.25, 1.5, 0.25]


def test_sheet_columns_end_with_the_forward_pass():
    g = torch.Generator().manual_seed(2)
    expected = {"linear": ["Linear"], "nnet": ["Lin", "ReLU", "Preds"], "sigmoid": ["Linear", "Preds"],
                "hidden:4": ["L1_", "ReLU1_", "Out", "Preds"], "deep:3,2": ["L1_", "ReLU1_", "L2_", "ReLU2_", "Out", "Preds"]}
    for name, prefixes in expected.items():
        spec = parse_model(name)
        params = init_params(spec, 3, g)
        blocks = sheet_columns(spec, params, X)
        assert [prefix for prefix, _ in blocks] == prefixes
        torch.testing.assert_close(blocks[-1][1][:, 0], forward(spec, params, X), rtol=0, atol=1e-15)


def test_batched_restarts_equal_one_at_a_time():
    g = torch.Generator().manual_seed(0)
    for name in ("linear", "nnet", "sigmoid", "hidden:4", "deep:3,2"):
        spec = parse_model(name)
        starts = [init_params(spec, 3, g) for _ in range(3)]
        batched = {k: torch.stack([s[k] for s in starts]) for k in starts[0]}
        together = forward(spec, batched, X)  # (3 restarts, 3 rows)
        for r, start in enumerate(starts):
            torch.testing.assert_close(together[r], forward(spec, start, X), rtol=0, atol=1e-15)


def test_sigmoid_models_output_probabilities():
    g = torch.Generator().manual_seed(1)
    for name in ("sigmoid", "hidden", "deep"):
        spec = parse_model(name)
        preds = forward(spec, init_params(spec, 3, g), X * 100)
        assert ((preds >= 0) & (preds <= 1)).all()


def test_losses_and_accuracy():
    preds = torch.tensor([0.9, 0.2, 0.6], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    assert LOSSES["mse"](preds, y).item() == pytest.approx((0.01 + 0.04 + 0.36) / 3, abs=1e-15)
    assert LOSSES["mae"](preds, y).item() == pytest.approx((0.1 + 0.2 + 0.6) / 3, abs=1e-15)
    ref = torch.nn.functional.binary_cross_entropy(preds, y).item()
    assert LOSSES["bce"](preds, y).item() == pytest.approx(ref, abs=1e-12)
    assert accuracy(preds, y).item() == pytest.approx(2 / 3)


def test_init_matches_the_notebook_draws():
    spec = parse_model("linear")
    torch.manual_seed(442)
    expected = torch.rand(12) - 0.5  # the notebook's init_coeffs()
    got = init_params(spec, 12, torch.Generator().manual_seed(442), torch.float32)["w"]
    assert torch.equal(got, expected)
