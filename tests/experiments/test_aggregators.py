"""Aggregation rules against the definitions of Blanchard et al. (2017) and numpy."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mushin_nb.errors import MushinTypeError, MushinValueError
from mushin_nb.experiments import aggregators, average, krum, median, multi_krum


def direct_scores(rows, f):
    """Paper's score: sum of squared distances to the n - f - 2 closest other vectors."""
    n = len(rows)
    scores = []
    for i in range(n):
        distances = []
        for j in range(n):
            if j != i:
                distances.append(sum((a - b) ** 2 for a, b in zip(rows[i], rows[j], strict=True)))
        distances.sort()
        scores.append(sum(distances[: n - f - 2]))
    return scores


def direct_multi_krum(rows, f, m):
    scores = direct_scores(rows, f)
    chosen = sorted(range(len(rows)), key=lambda i: (scores[i], i))[:m]
    return [sum(rows[i][k] for i in chosen) / m for k in range(len(rows[0]))]


@st.composite
def byzantine_setting(draw):
    f = draw(st.integers(0, 3))
    n = draw(st.integers(2 * f + 3, 2 * f + 7))
    d = draw(st.integers(1, 4))
    # small integers: exact float64 arithmetic, so ties are real and broken alike
    rows = draw(
        st.lists(st.lists(st.integers(-6, 6), min_size=d, max_size=d), min_size=n, max_size=n)
    )
    m = draw(st.integers(1, n))
    return rows, f, m


@settings(max_examples=80, deadline=None)
@given(byzantine_setting())
def test_multi_krum_and_krum_equal_the_direct_definition(setting):
    rows, f, m = setting
    grads = torch.tensor(rows, dtype=torch.float64)
    expected = torch.tensor(direct_multi_krum(rows, f, m), dtype=torch.float64)
    assert torch.allclose(multi_krum(grads, f, m=m), expected)
    assert torch.allclose(
        krum(list(grads), f), torch.tensor(direct_multi_krum(rows, f, 1)).double()
    )
    default = direct_multi_krum(rows, f, len(rows) - f)
    assert torch.allclose(aggregators["multi-krum"](grads, f=f), torch.tensor(default).double())


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 9).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=3, max_size=3),
            min_size=n,
            max_size=n,
        )
    )
)
def test_median_and_average_equal_numpy(rows):
    grads = torch.tensor(rows, dtype=torch.float64)
    np.testing.assert_allclose(median(grads).numpy(), np.median(np.array(rows), axis=0))
    np.testing.assert_allclose(
        average(list(grads)).numpy(), np.mean(np.array(rows), axis=0), rtol=1e-12, atol=1e-6
    )


def test_hand_computed_cases():
    grads = [torch.tensor([value]) for value in (0.0, 1.0, 3.0, 7.0, 20.0)]
    # scores with f=1 (2 nearest): 0 -> 1+9, 1 -> 1+4, 3 -> 4+9, 7 -> 16+36, 20 -> 169+289
    assert krum(grads, f=1).tolist() == [1.0]
    assert multi_krum(grads, f=1, m=2).tolist() == [0.5]
    assert torch.allclose(multi_krum(grads, f=1, m=3), torch.tensor([4.0 / 3.0]))
    assert median(grads, f=2).tolist() == [3.0]
    assert average(grads).tolist() == pytest.approx([6.2])
    square = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [10.0, 10.0]])
    # the four corners tie at score 2: krum keeps the first, multi-krum averages them
    assert krum(square, f=1).tolist() == [0.0, 0.0]
    assert multi_krum(square, f=1).tolist() == [0.5, 0.5]


def test_shapes_are_kept_and_non_finite_gradients_lose():
    grads = [torch.full((2, 3), float(i)) for i in range(5)]
    grads[4] = torch.full((2, 3), float("nan"))
    result = krum(grads, f=1)
    assert result.shape == (2, 3) and torch.isfinite(result).all()
    assert multi_krum(grads, f=1, m=4).shape == (2, 3)
    assert torch.isfinite(multi_krum(grads, f=1, m=4)).all()


def test_bad_inputs_say_the_bound_and_the_fix():
    grads = torch.zeros(6, 2)
    with pytest.raises(
        MushinValueError,
        match=r"`f` = 2 is too large for Krum with n = 6 "
        r"gradients: it requires n >= 2f\+3. Fix: use f <= 1",
    ):
        krum(grads, f=2)
    with pytest.raises(MushinValueError, match=r"requires n >= 2f\+3"):
        aggregators["multi_krum"](grads, f=3)
    with pytest.raises(
        MushinValueError,
        match=r"`f` = 3 is too large for median with n = 6 "
        r"gradients: it requires n >= 2f\+1. Fix: use f <= 2",
    ):
        median(grads, f=3)
    with pytest.raises(MushinTypeError, match=r"`f` must be an int >= 0 .*got -1"):
        krum(grads, f=-1)
    with pytest.raises(MushinValueError, match=r"`m` must be an int in \[1, n=6\], got 7"):
        multi_krum(grads, f=1, m=7)
    with pytest.raises(
        MushinValueError,
        match=r"`gradients` must all have the same shape, got "
        r"shapes \[\(2,\), \(3,\)\]",
    ):
        average([torch.zeros(2), torch.zeros(3)])
    with pytest.raises(MushinTypeError, match=r"`gradients` must be a non-empty sequence"):
        average([])
    with pytest.raises(MushinTypeError, match=r"`gradients` must be a sequence of torch.Tensor"):
        median([[1.0], [2.0]])
