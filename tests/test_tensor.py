"""Tensor basics: dtype inference as in PyTorch, attributes, printing, numpy interop."""
import numpy as np
import pytest

import tinybptt as tb


def test_dtype_inference():
    assert tb.tensor(1.5).dtype == tb.float32
    assert tb.tensor([1.0, 2.0]).dtype == tb.float32
    assert tb.tensor([[1, 2], [3, 4]]).dtype == tb.int64
    assert tb.tensor(3).dtype == tb.int64
    assert tb.tensor([True, False]).dtype == tb.bool
    assert tb.tensor(np.zeros(3)).dtype == tb.float64          # an array keeps its dtype
    assert tb.tensor(np.zeros(3, np.float32)).dtype == tb.float32
    assert tb.tensor([1, 2], dtype=tb.float64).dtype == tb.float64
    assert tb.tensor([1, 2], dtype=np.float32).dtype == tb.float32
    assert tb.tensor([1, 2], dtype="float64").dtype == tb.float64
    assert tb.zeros(2, 3).dtype == tb.float32 and tb.ones(2, dtype=tb.float64).dtype == tb.float64
    assert tb.randn(2).dtype == tb.float32 and tb.rand(2, dtype=tb.float64).dtype == tb.float64
    assert tb.arange(4).dtype == tb.int64 and tb.arange(0.0, 1.0, 0.5).dtype == tb.float32


def test_python_scalars_keep_tensor_dtype():
    f32 = tb.randn(3)
    assert (f32 * 2.5).dtype == tb.float32 and (2.5 * f32).dtype == tb.float32
    assert (f32 + 1).dtype == tb.float32 and (f32 / 3).dtype == tb.float32 and (f32 ** 2).dtype == tb.float32
    assert (1.0 - f32).dtype == tb.float32 and (2 ** f32).dtype == tb.float32
    assert (f32 * np.float64(2.0)).dtype == tb.float32
    f64 = tb.randn(3, dtype=tb.float64)
    assert (f64 * 2.5).dtype == tb.float64


def test_promotion_like_pytorch():
    i = tb.arange(3)
    f32, f64 = tb.randn(3), tb.randn(3, dtype=tb.float64)
    assert (i * 2.5).dtype == tb.float32          # int tensor with a Python float -> default float
    assert (i + 1).dtype == tb.int64
    assert (i / 2).dtype == tb.float32 and ((i + 1) / (i + 1)).dtype == tb.float32
    assert (i + f32).dtype == tb.float32          # a float tensor beats an integer one
    assert (f32 + f64).dtype == tb.float64
    assert (f32 + tb.tensor(2.0, dtype=tb.float64)).dtype == tb.float32  # 0-d loses to dimensioned
    assert (tb.tensor([True]) + 1).dtype == tb.int64
    assert (f32 * tb.tensor([True, False, True])).dtype == tb.float32


def test_attributes_and_conversions():
    t = tb.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.ndim == 2 and t.size() == (2, 2) and t.size(1) == 2 and t.numel() == 4
    assert t.is_leaf and not t.requires_grad and t.grad is None
    assert tb.tensor(3.5).item() == 3.5
    a = np.asarray(t)
    assert isinstance(a, np.ndarray) and a.dtype == np.float32 and np.array_equal(a, [[1, 2], [3, 4]])
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    assert t.numpy() is t.numpy() and t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(RuntimeError, match=r"item\(\): a tensor with 4 elements"):
        t.item()
    r = tb.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        r.numpy()
    assert np.asarray(r).shape == (1,)
    assert t.double().dtype == tb.float64 and t.long().dtype == tb.int64 and t.to(tb.float64).dtype == tb.float64


def test_repr_shows_values_dtype_and_grad_fn():
    x = tb.tensor([1.0, 2.0], requires_grad=True)
    assert repr(x) == "tensor([1., 2.], requires_grad=True)"
    y = x * 2
    assert "grad_fn=<MulBackward0>" in repr(y) and "[2., 4.]" in repr(y)
    assert "dtype=tinybptt.float64" in repr(tb.tensor(np.zeros(2)))
    assert repr(tb.tensor([1, 2])) == "tensor([1, 2])"
    assert "SumBackward" in repr(y.sum())


def test_comparisons_give_bool_tensors_without_grad():
    x = tb.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == tb.bool and not m.requires_grad and m.tolist() == [False, True, True]
    assert (x == 2.0).tolist() == [False, True, False]
    assert (x <= tb.tensor([1.0, 1.0, 5.0])).tolist() == [True, False, True]


def test_operators_and_reflected_forms():
    a = tb.tensor([1.0, 2.0])
    b = tb.tensor([3.0, 5.0])
    assert (a + b).tolist() == [4, 7] and (a - b).tolist() == [-2, -3] and (a * b).tolist() == [3, 10]
    assert np.allclose((a / b).numpy(), [1 / 3, 2 / 5]) and (a ** 2).tolist() == [1, 4] and (-a).tolist() == [-1, -2]
    assert (1 - a).tolist() == [0, -1] and (2 / a).tolist() == [2, 1] and (2 ** a).tolist() == [2, 4]
    assert (a @ b).item() == 13 and (np.ones(2, np.float32) @ a).item() == 3
    assert (np.float32(2) * a).tolist() == [2, 4]
    m = tb.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert m.T.tolist() == [[1, 3], [2, 4]]
    assert m.sum().item() == 10 and m.sum(0).tolist() == [4, 6] and m.mean(1, keepdim=True).shape == (2, 1)
    assert m.max().item() == 4 and m.max(0).values.tolist() == [3, 4] and m.max(dim=1).indices.tolist() == [1, 1]
    assert m.min(1)[0].tolist() == [1, 3]
    assert m.reshape(4).tolist() == [1, 2, 3, 4] and m.view(-1, 1).shape == (4, 1)
    assert m.permute(1, 0).tolist() == [[1, 3], [2, 4]] and m.transpose(0, 1).tolist() == [[1, 3], [2, 4]]
    assert m[0, 1].item() == 2 and m[:, 0].tolist() == [1, 3]


def test_factories():
    tb.manual_seed(7)
    a = tb.randn(3, 4)
    tb.manual_seed(7)
    assert np.array_equal(a.numpy(), tb.randn(3, 4).numpy())
    assert tb.zeros((2, 3)).shape == (2, 3) and tb.ones([2]).tolist() == [1, 1]
    assert tb.arange(1, 7, 2).tolist() == [1, 3, 5]
    assert tb.full((2,), 3).dtype == tb.int64 and tb.full((2,), 1.5).dtype == tb.float32
    assert tb.full((2,), True).dtype == tb.bool and tb.full((2, 2), 3, dtype=tb.float64).dtype == tb.float64
    r = tb.rand(1000)
    assert 0 <= r.numpy().min() and r.numpy().max() < 1
    assert tb.randn(2, requires_grad=True).requires_grad


def test_in_place_helpers_bump_version():
    t = tb.zeros(3)
    v = t._version
    t.zero_()
    assert t._version > v
    t.add_(1)
    assert t.tolist() == [1, 1, 1]


def test_randperm_takes_dtype_as_pytorch():
    p = tb.randperm(6)
    assert p.dtype == np.int64 and sorted(p.tolist()) == list(range(6))
    q = tb.randperm(4, dtype=tb.float64, requires_grad=True)
    assert q.dtype == np.float64 and q.requires_grad and sorted(q.tolist()) == [0.0, 1.0, 2.0, 3.0]
