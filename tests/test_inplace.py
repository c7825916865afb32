"""In-place ops on tensors that are part of a graph: recorded as in PyTorch, checked against torch and
finite differences; the cases PyTorch handles with views, which tinybptt refuses, raise clearly."""
import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn
from tinybptt.gradcheck import gradcheck

W0 = np.random.default_rng(7).standard_normal((3, 4))


def _outputs_buffer(lib, w):  # a seq2seq decoder's loop: outputs[t] = step output
    outs = lib.zeros(5, 3, 4, dtype=w.dtype)
    for t in range(5):
        outs[t] = (w * t).tanh()
    return (outs * outs).sum()


def _old_value_still_used(lib, w):  # exp saved its output, not s: s may change in place
    s = w * 2
    e = s.exp()
    s.relu_()
    return (e + s).sum()


def _changed_twice(lib, w):
    s = w * 1
    a = s * 1
    s.mul_(2)
    b = s * 1
    s.add_(1)
    return (a * b * s).sum()


CASES = {
    "outputs[t] = h": _outputs_buffer,
    "masked_fill_": lambda lib, w: (w * 2).masked_fill_(w > 0, 0.0).pow(2).sum(),
    "+= then mul_(w)": lambda lib, w: (lambda s: (s.__iadd__(1).mul_(w) * 1).sum())(w * 2),
    "F.relu(inplace=True)": lambda lib, w: (lambda s: (lib.nn.functional.relu(s, inplace=True), (s * s).sum())[1])(w * 2),
    "old value still used": _old_value_still_used,
    "changed twice": _changed_twice,
    "sigmoid_ exp_ neg_ pow_": lambda lib, w: ((w * 0.5).sigmoid_().sum() + (w * 0.5).exp_().sum()
                                               + (w * 2).neg_().pow_(3).sum()),
    "x[:, 0] = graph value": lambda lib, w: (lambda s: (s.__setitem__((slice(None), 0), w[:, 1] * 3), (s ** 2).sum())[1])(w * 1),
    "x[mask] = 0": lambda lib, w: (lambda s: (s.__setitem__(s < 0, 0.0), (s * s).sum())[1])(w * 3),
    "copy_ into a buffer": lambda lib, w: (lambda b: (b.copy_(w * 2), (b * w).sum())[1])(lib.zeros(3, 4, dtype=w.dtype)),
    "fill_": lambda lib, w: (lambda s: (s.fill_(2.0), (s * w).sum())[1])(w * 1),
    "add_ with alpha": lambda lib, w: (w * 1).add_(w * w, alpha=2).sum(),
    "clamp_ sub_ div_": lambda lib, w: ((w * 1).clamp_(-0.5, 0.5).sub_(w).div_(3) ** 2).sum(),
    "addcmul_ addcdiv_ lerp_": lambda lib, w: (w * 1).addcmul_(w, w, value=0.5).addcdiv_(w, w * w + 1, value=2)
                                              .lerp_(w.sin(), 0.25).sum(),
    "ReLU(inplace) in Sequential": lambda lib, w: lib.nn.Sequential(lib.nn.Identity(), lib.nn.ReLU(inplace=True))(
        w * 1 - 0.2).pow(2).sum(),
    "LeakyReLU ELU SiLU Dropout(p=0) inplace": lambda lib, w: (
        lib.nn.LeakyReLU(0.1, inplace=True)(w * 1).sum() + lib.nn.ELU(inplace=True)(w * 2).sum()
        + lib.nn.functional.silu(w * 3, inplace=True).sum() + lib.nn.Dropout(0.0, inplace=True)(w * 1).sum()),
}


@pytest.mark.parametrize("case", list(CASES))
def test_in_place_in_a_graph_matches_torch(case):
    results = []
    for lib in (tb, torch):
        w = lib.tensor(W0.copy(), requires_grad=True)
        loss = CASES[case](lib, w)
        loss.backward()
        results.append((loss.item(), w.grad.numpy()))
    (ours, our_grad), (theirs, their_grad) = results
    assert ours == pytest.approx(theirs, rel=1e-12)
    np.testing.assert_allclose(our_grad, their_grad, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("case", ["outputs[t] = h", "changed twice", "x[:, 0] = graph value", "addcmul_ addcdiv_ lerp_"])
def test_in_place_in_a_graph_against_finite_differences(case):
    w = tb.tensor(W0.copy(), requires_grad=True)
    assert gradcheck(lambda w: CASES[case](tb, w), (w,))


def test_the_tensor_takes_the_new_record_and_returns_itself():
    w = tb.tensor(W0.copy(), requires_grad=True)
    s = w * 2
    out = s.add_(1)
    assert out is s and s.grad_fn.name == "Add" and not s.is_leaf
    buf = tb.zeros(3, 4, dtype=tb.float64)
    assert not buf.requires_grad
    buf[0] = w[0]
    assert buf.requires_grad and buf.grad_fn.name == "SetItem"
    relu = nn.ReLU(inplace=True)
    t = w * 1
    assert relu(t) is t and repr(relu) == "ReLU(inplace=True)"


def test_retain_grad_and_autograd_grad_see_the_new_value():
    for lib in (tb, torch):
        w = lib.tensor(W0.copy(), requires_grad=True)
        s = w * 2
        s.retain_grad()
        s.mul_(3)
        (s * s).sum().backward()
        if lib is tb:
            ours = s.grad.numpy()
        else:
            np.testing.assert_allclose(ours, s.grad.numpy(), rtol=1e-12)
    w = tb.tensor(W0.copy(), requires_grad=True)
    s = w * 2
    s.mul_(3)
    g, = tb.autograd.grad((s * s).sum(), [s])
    np.testing.assert_allclose(g.numpy(), 2 * s.detach().numpy())


def test_seq2seq_decoder_filling_an_outputs_tensor_matches_torch():
    grads = []
    for lib in (tb, torch):
        lib.manual_seed(0)
        cell, head = lib.nn.GRUCell(4, 6), lib.nn.Linear(6, 5)
        if lib is torch:  # same weights
            for m, ref in ((cell, ours_cell), (head, ours_head)):
                m.load_state_dict(ref.state_dict())
        else:
            ours_cell, ours_head = cell, head
        x = lib.tensor(np.random.default_rng(1).standard_normal((7, 2, 4)))
        cell.double(), head.double()
        outputs = lib.zeros(7, 2, 5, dtype=lib.float64)
        h = lib.zeros(2, 6, dtype=lib.float64)
        for t in range(7):
            h = cell(x[t], h)
            outputs[t] = head(h)
        outputs.log_softmax(-1)[..., 0].sum().backward()
        grads.append([p.grad.numpy().copy() for p in list(cell.parameters()) + list(head.parameters())])
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_views_of_graph_tensors_and_shape_changes_raise():
    w = tb.tensor(W0.copy(), requires_grad=True)
    s = w * 2
    with pytest.raises(NotImplementedError, match=r"mul_: in-place change of a view \(made by getitem\) of a tensor "
                                                  r"that is part of a graph is not supported"):
        s[0].mul_(2)
    with pytest.raises(NotImplementedError, match=r"zero_|fill_: in-place change of a view \(made by reshape\)"):
        s.reshape(12).zero_()
    s[[0, 0]].mul_(2)  # advanced indexing copies, in PyTorch too: fine
    buf = tb.zeros(2, 3, 4, dtype=tb.float64)
    with pytest.raises(NotImplementedError, match="__setitem__: writing a value that requires grad into a tensor "
                                                  "that shares memory with another"):
        buf.detach()[0] = s
    with pytest.raises(RuntimeError, match=r"add_: output with shape \[3, 1\] doesn't match the broadcast shape "
                                           r"\[3, 4\]"):
        (w[:, :1] * 1).add_(s)
    with pytest.raises(RuntimeError, match="add_: a leaf Variable that requires grad is being used in an in-place"):
        w.add_(1)


@pytest.mark.parametrize("fn", [lambda lib, w: (w * 1).sigmoid().mul_(2).sum(),
                                lambda lib, w: (w * 0.5).sigmoid_().tanh_().exp_().sum(),
                                lambda lib, w: lib.nn.Sequential(lib.nn.ReLU(inplace=True),
                                                                 lib.nn.LeakyReLU(0.1, inplace=True))(w * 1).sum()],
                         ids=["sigmoid-mul_", "sigmoid_-tanh_-exp_", "relu_-leaky_relu_"])
def test_where_torch_refuses_a_saved_value_changed_in_place_the_gradient_is_right(fn):
    # PyTorch raises here (a backward saved the value the next in-place op changed in memory);
    # tinybptt keeps the old array (the in-place op's result gets a new one), so the gradient is right
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        fn(torch, torch.tensor(W0.copy(), requires_grad=True)).backward()
    assert gradcheck(lambda w: fn(tb, w), (tb.tensor(W0.copy(), requires_grad=True),))


def test_graph_with_in_place_ops_renders():
    w = tb.tensor(W0.copy(), requires_grad=True)
    s = w * 2
    e = s.exp()
    s.relu_()
    loss = (e + s).sum()
    src = tb.viz.draw(loss).source
    assert "Relu" in src and "Exp" in src


def test_filling_an_outputs_tensor_keeps_memory_linear_in_steps():
    import tracemalloc
    w = tb.tensor(np.random.default_rng(0).standard_normal((8, 1000)), requires_grad=True)
    outputs = tb.zeros(100, 8, 1000, dtype=tb.float64)  # 6.4 MB
    tracemalloc.start()
    for t in range(100):
        outputs[t] = w * t  # each step's value: 64 kB
    loss = (outputs * outputs).sum()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # writing into the buffer, as PyTorch does; a copy per assignment would hold 100 x 6.4 MB
    assert peak < 4 * outputs.detach().numpy().nbytes
    loss.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.detach().numpy() * sum(t * t for t in range(100)))
    # a view alive (here one a record uses): the assignment must not write under it, so it copies;
    # the view keeps its values (README: views taken before an in-place change keep the old values)
    buf = tb.zeros(3, 8, 1000, dtype=tb.float64)
    buf[0] = w * 5
    view = buf[0]
    kept = (view * view).sum()
    buf[0] = w * 0
    assert np.array_equal(view.detach().numpy(), 5 * w.detach().numpy())
    w.grad = None
    kept.backward()
    np.testing.assert_allclose(w.grad.numpy(), 50 * w.detach().numpy())


def test_a_change_in_memory_before_an_in_place_op_in_the_graph_is_still_caught():
    w = tb.tensor(W0.copy(), requires_grad=True)
    s = w * 2
    y = (s * w).sum()  # Mul saved s's array
    with tb.no_grad():
        s.mul_(10)  # changes that array in memory
    s.add_(1)  # recorded: s takes a new array
    with pytest.raises(RuntimeError, match="saved by Mul .*modified by an in-place operation; it is at version 1; "
                                           "expected version 0"):
        y.backward()


@pytest.mark.parametrize("name, args", [("sin_", ()), ("cos_", ()), ("triu_", (1,)), ("tril_", (-1,)),
                                        ("clip_", (-0.5, 0.5)), ("cumsum_", (1,)), ("cumprod_", (0,)),
                                        ("square_", ()), ("log1p_", ()), ("reciprocal_", ()), ("fmod_", (0.3,)),
                                        ("remainder_", (0.3,)), ("multiply_", (3.0,)), ("subtract_", (1.0,)),
                                        ("divide_", (4.0,)), ("true_divide_", (4.0,)), ("round_", ()),
                                        ("floor_", ()), ("ceil_", ()), ("trunc_", ()), ("sign_", ())])
def test_generated_in_place_forms_match_torch_in_a_graph(name, args):
    results = []
    for lib in (tb, torch):
        w = lib.tensor(np.abs(W0) + 0.1 if name == "log1p_" else W0.copy(), requires_grad=True)
        s = w * 1
        assert getattr(s, name)(*args) is s
        (s * s * w).sum().backward()
        results.append((s.detach().numpy(), w.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_in_place_result_of_another_kind_raises_like_torch():
    for lib in (tb, torch):
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
            lib.tensor([1, 2, 3]).add_(1.5)
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
            lib.tensor([1, 2, 3]).sin_()
    flags = tb.tensor([1.0, 2.0, 3.0])
    assert flags.lt_(2.5).tolist() == [1.0, 1.0, 0.0] and flags.dtype == np.float32


def test_detach_in_place_lets_go_of_the_values_before_in_place_ops():
    w = tb.tensor(W0.copy(), requires_grad=True)
    state = tb.zeros(3, 4, dtype=tb.float64)
    state.copy_(w * 2)  # a stateful module carrying its state in one tensor
    old = state._rebased[-1][1]
    alive = __import__("weakref").ref(old)
    state.detach_()
    del old
    assert alive() is None and state.is_leaf and not state.requires_grad
    with pytest.raises(RuntimeError, match="Can't detach views in-place"):
        (w * 1)[None].detach_()


@pytest.mark.parametrize("graph", [False, True], ids=["plain", "graph"])
def test_bad_assignments_name_the_op_and_shapes(graph):
    w = tb.tensor(W0.copy(), requires_grad=True)
    target = w * 1 if graph else tb.zeros(3, 4, dtype=tb.float64)
    with pytest.raises(IndexError, match=r"setitem: index 5 is out of bounds for dimension 0 with size 3"):
        target[5] = w[0]
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(4\) must match the size of tensor b \(5\) at "
                                           r"non-singleton dimension 1"):
        target[0] = tb.ones(5, dtype=tb.float64)
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(4\) must match the size of tensor b \(5\)"):
        target.copy_(tb.ones(5, dtype=tb.float64))
    for lib in (torch,):  # the same exception types as torch's
        t = lib.zeros(3, 4)
        with pytest.raises(IndexError):
            t[5] = 1.0
        with pytest.raises(RuntimeError, match=r"The size of tensor a \(4\) must match the size of tensor b \(5\)"):
            t.copy_(lib.ones(5))


def test_assigning_into_a_layer_output_that_shares_memory_with_its_saved_states_matches_torch():
    # the fused LSTM's output rows are views of the buffer its steps saved: the assignment must copy
    grads = []
    for lib in (tb, torch):
        lib.manual_seed(0)
        lstm = lib.nn.LSTM(3, 4, dtype=lib.float64)
        if lib is torch:
            lstm.load_state_dict(ours.state_dict())
        else:
            ours = lstm
        x = lib.tensor(np.random.default_rng(2).standard_normal((5, 2, 3)))
        out, (h, c) = lstm(x)
        out[1] = out[3] * 2
        (out.sum() + h.sum() + c.sum()).backward()
        grads.append([p.grad.numpy().copy() for p in lstm.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_a_refused_assignment_into_a_view_leaves_the_base_unchanged():
    w = tb.tensor(W0.copy(), requires_grad=True)
    s = w * 2
    before = s.detach().numpy().copy()
    v = s[0]  # a view (numpy shares s's memory) that only this tensor holds
    with pytest.raises(NotImplementedError, match="in-place change of a view"):
        v[1] = w[0, 0] * 5
    np.testing.assert_array_equal(s.detach().numpy(), before)
