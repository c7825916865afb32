"""Bad input raises a clear error naming the operation and the shapes/dtypes at fault."""
import re

import numpy as np
import pytest

import tinybptt as tb
import tinybptt.nn.functional as F


def test_matmul_shape_mismatch():
    with pytest.raises(RuntimeError, match=re.escape(
            "matmul: shapes (2, 3) and (4, 5) cannot be multiplied (3 != 4 in the contracted dimension)")):
        tb.randn(2, 3) @ tb.randn(4, 5)
    with pytest.raises(RuntimeError, match=re.escape(
            "matmul: shapes (3,) and (3, 2, 5) cannot be multiplied (3 != 2 in the contracted dimension)")):
        tb.randn(3) @ tb.randn(3, 2, 5)
    with pytest.raises(RuntimeError, match=re.escape(
            "matmul: batch dimensions (2,) and (5,) cannot be broadcast (shapes (2, 3, 4) and (5, 4, 2))")):
        tb.randn(2, 3, 4) @ tb.randn(5, 4, 2)
    with pytest.raises(RuntimeError, match=re.escape("matmul: both arguments need at least 1 dimension")):
        tb.randn(3) @ tb.tensor(2.0)


@pytest.mark.parametrize("op,name", [(lambda a, b: a + b, "add"), (lambda a, b: a - b, "sub"),
                                     (lambda a, b: a * b, "mul"), (lambda a, b: a / b, "div"),
                                     (lambda a, b: a ** b, "pow")])
def test_broadcast_mismatch(op, name):
    with pytest.raises(RuntimeError, match=re.escape(
            f"{name}: The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1 "
            f"(shapes (2, 3) and (2, 4))")):
        op(tb.randn(2, 3), tb.randn(2, 4))


def test_where_and_mse_broadcast_mismatch():
    with pytest.raises(RuntimeError, match=re.escape("where: The size of tensor a (2) must match the size of "
                                                     "tensor b (3) at non-singleton dimension 1")):
        tb.where(tb.tensor([True, False]), tb.randn(2, 3), tb.randn(2, 3))
    with pytest.raises(RuntimeError, match=re.escape("mse_loss: The size of tensor a (2) must match")):
        F.mse_loss(tb.randn(2, 3), tb.randn(3, 3))


def test_cat_and_stack_mismatch():
    with pytest.raises(RuntimeError, match=re.escape(
            "cat: sizes of tensors must match except in dimension 0: tensor 0 has shape (2, 3), "
            "tensor 1 has shape (3, 4)")):
        tb.cat([tb.randn(2, 3), tb.randn(3, 4)])
    with pytest.raises(RuntimeError, match=re.escape(
            "cat: sizes of tensors must match except in dimension 1: tensor 0 has shape (2, 3), "
            "tensor 2 has shape (3, 3)")):
        tb.cat([tb.randn(2, 3), tb.randn(2, 1), tb.randn(3, 3)], dim=1)
    with pytest.raises(ValueError, match=re.escape("cat: expected a non-empty list of tensors")):
        tb.cat([])
    with pytest.raises(RuntimeError, match=re.escape(
            "stack: expects each tensor to be equal size, but got (2, 3) at entry 0 and (3, 2) at entry 1")):
        tb.stack([tb.randn(2, 3), tb.randn(3, 2)])


def test_cross_entropy_bad_targets():
    logits = tb.randn(3, 4)
    with pytest.raises(RuntimeError, match=re.escape(
            "cross_entropy: expected target of an integer dtype (class indices, e.g. tinybptt.int64), got float32")):
        F.cross_entropy(logits, tb.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(RuntimeError, match=re.escape(
            "cross_entropy: expected input of shape (N, C) and target of shape (N,), got input (3, 4) and "
            "target (2,)")):
        F.cross_entropy(logits, tb.tensor([0, 1]))
    with pytest.raises(IndexError, match=re.escape("cross_entropy: target 9 is out of bounds for 4 classes")):
        F.cross_entropy(logits, tb.tensor([0, 1, 9]))
    with pytest.raises(ValueError, match=re.escape(
            "cross_entropy: reduction must be one of ('mean', 'sum', 'none'), got 'avg'")):
        F.cross_entropy(logits, tb.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(RuntimeError, match=re.escape("nll_loss: expected target of an integer dtype")):
        F.nll_loss(logits, tb.tensor([0.0, 1.0, 2.0]))


def test_shape_op_errors():
    a = tb.randn(2, 3)
    with pytest.raises(RuntimeError, match=re.escape("reshape: shape (4, 4) is invalid for input of shape (2, 3)")):
        a.reshape(4, 4)
    with pytest.raises(RuntimeError, match=re.escape("permute: dims (0, 0) are not a permutation")):
        a.permute(0, 0)
    with pytest.raises(RuntimeError, match=re.escape("expand: cannot expand shape (2, 3) to (3, 3)")):
        a.expand(3, 3)
    with pytest.raises(RuntimeError, match=re.escape("split: sizes [1, 1] do not add up to 3")):
        a.split([1, 1], 1)
    with pytest.raises(IndexError, match=re.escape(
            "getitem: index 5 is out of bounds for dimension 0 with size 2 (input shapes (2, 3))")):
        a[5]
    with pytest.raises(IndexError, match=re.escape("sum: dimension 3 is out of range for a tensor with 2 dimensions")):
        a.sum(3)
    with pytest.raises(IndexError, match=re.escape("softmax: dimension 2 is out of range")):
        a.softmax(2)


def test_embedding_errors():
    w = tb.randn(3, 2)
    with pytest.raises(IndexError, match=re.escape(
            "embedding: index out of range: indices span [7, 7] but the table has 3 rows")):
        F.embedding(tb.tensor([7]), w)
    with pytest.raises(RuntimeError, match=re.escape("embedding: indices must be an integer tensor, got dtype float32")):
        F.embedding(tb.tensor([1.0]), w)


def test_backward_and_grad_errors():
    with pytest.raises(RuntimeError, match=re.escape(
            "requires_grad_: only floating point tensors can require gradients, got dtype int64")):
        tb.tensor([1, 2], requires_grad=True)
    x = tb.randn(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=re.escape(
            "backward: grad can be implicitly created only for scalar outputs; this tensor has shape (2, 3)")):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=re.escape("backward: tensor does not require grad")):
        tb.randn(2).sum().backward()


def test_dropout_probability_error():
    with pytest.raises(ValueError, match=re.escape("dropout: probability has to be between 0 and 1, but got 1.5")):
        F.dropout(tb.randn(3), 1.5)


def test_numpy_errors_are_never_bare():
    with pytest.raises(IndexError, match=r"^getitem: "):
        tb.randn(2, 3)[np.array([0, 5])]
