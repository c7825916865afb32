"""Parity audit of the recurrent layers against torch 2.13: cases the other parity files leave out.

Regressions (each failed before its fix): an empty batch through the fused layers and cells, torch's
dtype names and exception types for a few bad inputs, pad_packed_sequence's total_length as a 0-d tensor,
pad_sequence of 0-d tensors, PackedSequence's dtype/device methods.  The rest pins down behaviour no
other file compared with torch: losses on h_n or c_n alone, learned (expanded, strided) initial states,
frozen parameter subsets, tied weights, packed input with bias=False/3 layers/dropout, and the
truncated-BPTT loop a PyTorch user writes, step by step.
"""
import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn

import tinybptt as tb
from tinybptt import nn
from tinybptt.nn.utils import rnn as orn

TOL = 1e-10
KINDS = {"rnn_tanh": ("RNN", {}), "rnn_relu": ("RNN", {"nonlinearity": "relu"}), "lstm": ("LSTM", {}),
         "gru": ("GRU", {}), "lstm_proj": ("LSTM", {"proj_size": 3})}


def pair(kind, fused=True, **config):
    """Our float64 layer and torch's with the same weights (copied from torch's)."""
    name, extra = KINDS[kind]
    tm = getattr(torch.nn, name)(3, 4, **extra, **config).double()
    m = getattr(nn, name)(3, 4, dtype=tb.float64, fused=fused, **extra, **config)
    m.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    return m, tm


def state_sizes(m):
    """The feature sizes of h (projected or not) and, for an LSTM, c."""
    return [m.proj_size or 4, 4][:2 if m.mode == "LSTM" else 1]


def states(h):
    return h if isinstance(h, tuple) else (h,)


def assert_close(ours, theirs, atol=TOL):
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert (a is None) == (b is None), i
        if a is not None:
            a, b = a.detach().numpy(), b.detach().numpy()
            assert a.shape == b.shape and a.dtype == b.dtype, (i, a.shape, b.shape, a.dtype, b.dtype)
            np.testing.assert_allclose(a, b, rtol=0, atol=atol, err_msg=str(i))


def grads(module):
    return [p.grad for p in module.parameters()]


def raises_like_torch(make):
    """make(lib) raises in both libraries, the same exception type; returns (ours, torch's) message."""
    with pytest.raises(Exception) as theirs:
        make(torch)
    with pytest.raises(type(theirs.value)) as ours:
        make(tb)
    return str(ours.value), str(theirs.value)


# ---------------------------------------------------------------- an empty batch
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("config", [dict(), dict(batch_first=True), dict(num_layers=2, bidirectional=True)],
                         ids=["default", "batch_first", "2_layers_bidir"])
def test_empty_batch_runs_forward_and_backward_like_torch(kind, fused, config):
    """torch runs a batch of 0 sequences (outputs and gradients of size 0, parameter gradients zero);
    the fused backward used to fail in numpy (reshape of an empty array to (0, -1))."""
    m, tm = pair(kind, fused, **config)
    dirs = 2 if m.bidirectional else 1
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        x = lib.zeros(*((0, 5, 3) if m.batch_first else (5, 0, 3)), dtype=lib.float64, requires_grad=True)
        hx = [lib.zeros(m.num_layers * dirs, 0, n, dtype=lib.float64, requires_grad=True) for n in state_sizes(m)]
        out, h = mod(x, tuple(hx) if len(hx) == 2 else hx[0])
        (out.sum() + sum(s.sum() for s in states(h))).backward()
        results.append([out, *states(h), x.grad, *(s.grad for s in hx), *grads(mod)])
    assert_close(*results)


@pytest.mark.parametrize("kind", list(KINDS))
def test_empty_batch_with_empty_lengths(kind):
    """lengths=[] for an empty batch is the empty batch (no max() of nothing)."""
    m, _ = pair(kind)
    x = tb.zeros(5, 0, 3, dtype=tb.float64, requires_grad=True)
    out, h = m(x, lengths=[])
    (out.sum() + sum(s.sum() for s in states(h))).backward()
    assert out.shape == (5, 0, m.proj_size or 4) and x.grad.shape == (5, 0, 3)
    assert all((p.grad.numpy() == 0).all() for p in m.parameters())


@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("fused", [True, False])
def test_cells_on_an_empty_batch_like_torch(name, fused):
    tc = getattr(torch.nn, name)(3, 4).double()
    c = getattr(nn, name)(3, 4, dtype=tb.float64, fused=fused)
    c.load_state_dict({k: v.detach().numpy().copy() for k, v in tc.state_dict().items()})
    results = []
    for lib, cell in ((tb, c), (torch, tc)):
        x = lib.zeros(0, 3, dtype=lib.float64, requires_grad=True)
        new = states(cell(x))
        sum(s.sum() for s in new).backward()
        results.append([*new, x.grad, *grads(cell)])
    assert_close(*results)


# ---------------------------------------------------------------- exception types and texts
@pytest.mark.parametrize("name", ["RNNCell", "LSTMCell", "GRUCell"])
def test_integer_input_to_a_cell_names_the_dtype_as_torch(name):
    ours, theirs = raises_like_torch(lambda lib: getattr(lib.nn, name)(2, 3)(lib.zeros(4, 2, dtype=lib.int64)))
    assert "mat1 and mat2 must have the same dtype, but got Long and Float" in theirs
    assert "mat1 and mat2 must have the same dtype, but got Long and Float" in ours


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_packed_input_of_another_dtype_raises_torchs_exception_type(name):
    """torch's packed LSTM checks nothing before its matmul (RuntimeError); RNN and GRU raise ValueError."""
    def make(lib):
        utils = trnn if lib is torch else orn
        packed = utils.pack_padded_sequence(lib.zeros(5, 3, 4, dtype=lib.float64), [5, 3, 2])
        return getattr(lib.nn, name)(4, 5)(packed)
    ours, theirs = raises_like_torch(make)
    assert ("mat1 and mat2" in ours) == ("mat1 and mat2" in theirs) == (name == "LSTM")


@pytest.mark.parametrize("name, op", [("RNN", "rnn_tanh"), ("LSTM", "lstm"), ("GRU", "gru")])
def test_non_bool_bidirectional_raises_type_error_at_forward_like_torch(name, op):
    for lib in (torch, tb):
        m = getattr(lib.nn, name)(3, 4, bidirectional=1)  # the constructor takes it, as torch's does
        with pytest.raises(TypeError, match=rf"^{op}\(\)"):
            m(lib.zeros(5, 2, 3))


def test_pad_packed_sequence_total_length_as_a_0d_integer_tensor_or_bool_like_torch():
    x = np.arange(30.0).reshape(5, 3, 2)
    for lib, utils in ((torch, trnn), (tb, orn)):
        packed = utils.pack_padded_sequence(lib.tensor(x), [5, 3, 2])
        padded, _ = utils.pad_packed_sequence(packed, total_length=lib.tensor(7))
        assert tuple(padded.shape) == (7, 3, 2)
        padded, _ = utils.pad_packed_sequence(packed, total_length=lib.tensor(6, dtype=lib.int32))
        assert tuple(padded.shape) == (6, 3, 2)
        with pytest.raises(TypeError, match="must be int, not Tensor"):
            utils.pad_packed_sequence(packed, total_length=lib.tensor(7.0))
        with pytest.raises(TypeError, match="must be int, not Tensor"):
            utils.pad_packed_sequence(packed, total_length=lib.tensor([7]))
        with pytest.raises(ValueError, match="but got total_length=True and max sequence length being 5"):
            utils.pad_packed_sequence(packed, total_length=True)  # a bool is an int to torch


def test_pad_sequence_of_0d_tensors_raises_runtime_error_like_torch():
    ours, _ = raises_like_torch(lambda lib: (trnn if lib is torch else orn).pad_sequence([lib.ones(()), lib.ones(())]))
    assert "pad_sequence" in ours and "0-d" in ours


def test_packed_sequence_dtype_and_device_methods_like_torch():
    x = np.arange(10.0).reshape(5, 2)
    tp = trnn.pack_sequence([torch.tensor(x), torch.tensor(x[:3])])
    p = orn.pack_sequence([tb.tensor(x), tb.tensor(x[:3])])
    for method in ("long", "int", "double", "float"):
        a, b = getattr(p, method)(), getattr(tp, method)()
        assert a.data.dtype.name == str(b.data.dtype).replace("torch.", "")
        np.testing.assert_array_equal(a.data.numpy(), b.data.numpy())
        np.testing.assert_array_equal(a.batch_sizes.numpy(), b.batch_sizes.numpy())
    assert p.is_pinned() is tp.is_pinned() is False and p.is_cuda is tp.is_cuda is False
    with pytest.raises(AssertionError, match="CUDA"):
        p.cuda()


# ---------------------------------------------------------------- gradients through h_n / c_n alone
@pytest.mark.parametrize("kind, target", [(k, "h_n") for k in KINDS] + [("lstm", "c_n"), ("lstm_proj", "c_n")])
@pytest.mark.parametrize("fused", [True, False])
def test_loss_on_the_final_state_alone_like_torch(kind, target, fused, rng):
    """No gradient reaches the outputs: the fused steps get theirs only through the state (or c only)."""
    m, tm = pair(kind, fused, num_layers=2, bidirectional=True)
    x = rng.standard_normal((6, 3, 3))
    hx = [rng.standard_normal((4, 3, n)) for n in state_sizes(m)]
    cot = rng.standard_normal((4, 3, 4 if target == "c_n" else m.proj_size or 4))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xs, hs = lib.tensor(x, requires_grad=True), [lib.tensor(h, requires_grad=True) for h in hx]
        _, h = mod(xs, tuple(hs) if len(hs) == 2 else hs[0])
        (states(h)[-1 if target == "c_n" else 0] * lib.tensor(cot)).sum().backward()
        results.append([*states(h), xs.grad, *(s.grad for s in hs), *grads(mod)])
    assert_close(*results)


# ---------------------------------------------------------------- initial states that are views
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("layout", ["expanded", "transposed"])
def test_learned_initial_state_as_a_view_like_torch(kind, fused, layout):
    """h0 = param.expand(L, B, H) (stride 0) or a transposed parameter: values and the parameter's gradient."""
    m, tm = pair(kind, fused, num_layers=2, bidirectional=True)
    n = m.proj_size or 4
    x = np.random.default_rng(0).standard_normal((5, 3, 3))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        if layout == "expanded":
            p0 = lib.tensor(np.linspace(-1, 1, n).reshape(1, 1, n), requires_grad=True)
            h0 = p0.expand(4, 3, n)
        else:
            p0 = lib.tensor(np.linspace(-1, 1, 3 * 4 * n).reshape(3, 4, n), requires_grad=True)
            h0 = p0.transpose(0, 1)
        c0 = lib.tensor(np.full((4, 3, 4), 0.3))
        out, h = mod(lib.tensor(x), (h0, c0) if m.mode == "LSTM" else h0)
        ((out ** 2).sum() + states(h)[0].sum()).backward()
        results.append([out, *states(h), p0.grad, *grads(mod)])
    assert_close(*results)


# ---------------------------------------------------------------- frozen subsets, tied weights
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("trainable", ["bias", "weight_hh", "weight_ih"])
def test_frozen_parameter_subsets_like_torch(kind, fused, trainable, rng):
    """Only the parameters whose name holds ``trainable`` get a gradient, equal to torch's; the rest stay None."""
    m, tm = pair(kind, fused, num_layers=2, bidirectional=True)
    for mod in (m, tm):
        for name, p in mod.named_parameters():
            p.requires_grad_(trainable in name)
    x = rng.standard_normal((5, 2, 3))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        out, h = mod(lib.tensor(x))
        ((out ** 2).sum() + states(h)[-1].sum()).backward()
        results.append([out, *grads(mod)])
    assert_close(*results)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", [True, False])
def test_tied_weights_and_a_layer_used_twice_like_torch(kind, fused, rng):
    """b shares a's weight_hh_l0; a runs twice in one graph, b continues from a's state."""
    (a, ta), (b, tb_) = pair(kind, fused), pair(kind, fused)
    b.weight_hh_l0, tb_.weight_hh_l0 = a.weight_hh_l0, ta.weight_hh_l0
    x1, x2 = rng.standard_normal((5, 2, 3)), rng.standard_normal((4, 2, 3))
    results = []
    for lib, first, second in ((tb, a, b), (torch, ta, tb_)):
        o1, h1 = first(lib.tensor(x1))
        o2, _ = second(lib.tensor(x2), h1)
        o3, _ = first(lib.tensor(x2))
        ((o1 ** 2).sum() + (o2 ** 3).sum() + o3.sum()).backward()
        results.append([o2, *grads(first), *grads(second)])
    assert_close(*results)


# ---------------------------------------------------------------- packed input, more options
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("config", [dict(num_layers=3, bias=False), dict(num_layers=3, bidirectional=True, dropout=1.0),
                                    dict(num_layers=2, bidirectional=True, bias=False, batch_first=True)],
                         ids=["3_layers_no_bias", "3_layers_bidir_dropout_1", "bidir_no_bias_batch_first"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("how", ["pack_sequence", "PackedSequence"])
def test_packed_input_with_more_options_like_torch(kind, config, fused, how, rng):
    """Unsorted sequences packed by pack_sequence, or a PackedSequence(data, batch_sizes, sorted_indices) made
    by hand; train mode (dropout=1 zeroes every deeper layer's input), hx in the original batch order."""
    m, tm = pair(kind, fused, **config)
    m.train(), tm.train()
    lengths = [2, 5, 1, 5]
    seqs = [rng.standard_normal((n, 3)) for n in lengths]
    dirs = 2 if m.bidirectional else 1
    hx = [rng.standard_normal((m.num_layers * dirs, 4, n)) for n in state_sizes(m)]
    cot = rng.standard_normal((sum(lengths), (m.proj_size or 4) * dirs))
    order = sorted(range(4), key=lambda i: -lengths[i])
    results = []
    for lib, utils, mod in ((tb, orn, m), (torch, trnn, tm)):
        xs, hs = [lib.tensor(s, requires_grad=True) for s in seqs], [lib.tensor(h, requires_grad=True) for h in hx]
        if how == "pack_sequence":
            packed = utils.pack_sequence(xs, enforce_sorted=False)
        else:
            by_length = utils.pack_sequence([xs[i] for i in order])
            packed = utils.PackedSequence(by_length.data, by_length.batch_sizes, lib.tensor(order))
        out, h = mod(packed, tuple(hs) if len(hs) == 2 else hs[0])
        ((out.data * lib.tensor(cot)).sum() + sum((s ** 2).sum() for s in states(h))).backward()
        results.append([out.data, *states(h), *(x.grad for x in xs), *(s.grad for s in hs), *grads(mod)])
    assert_close(*results)


# ---------------------------------------------------------------- the hand-written truncated-BPTT loop
OPTIMIZERS = {"SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3), "Adam": dict(lr=0.01, amsgrad=True),
              "RMSprop": dict(lr=0.01, momentum=0.5, centered=True)}


@pytest.mark.parametrize("kind, config", [("rnn_tanh", dict(num_layers=3, bias=False)),
                                          ("lstm", dict(num_layers=2, bidirectional=True, batch_first=True)),
                                          ("gru", dict(num_layers=2, batch_first=True)),
                                          ("lstm_proj", dict(num_layers=2))], ids=["rnn", "lstm", "gru", "lstm_proj"])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
@pytest.mark.parametrize("fused", [True, False])
def test_truncated_bptt_loop_matches_torch_after_every_step(kind, config, optimizer, fused, rng):
    """hidden = tuple(h.detach() for h in hidden) between windows of 4 steps, a Linear head, clipping and an
    optimizer step per window: the loss and every weight after every step as torch's."""
    m, tm = pair(kind, fused, **config)
    width = (m.proj_size or 4) * (2 if m.bidirectional else 1)
    th = torch.nn.Linear(width, 1).double()
    head = nn.Linear(width, 1, dtype=tb.float64)
    head.load_state_dict({k: v.detach().numpy().copy() for k, v in th.state_dict().items()})
    shape = (2, 12) if m.batch_first else (12, 2)
    x, y = rng.standard_normal((*shape, 3)), rng.standard_normal((*shape, 1))
    runs = []
    for lib, mod, lin in ((tb, m, head), (torch, tm, th)):
        params = list(mod.parameters()) + list(lin.parameters())
        opt, hidden, steps = getattr(lib.optim, optimizer)(params, **OPTIMIZERS[optimizer]), None, []
        for start in range(0, 12, 4):
            window = (slice(None), slice(start, start + 4)) if m.batch_first else (slice(start, start + 4),)
            if hidden is not None:
                hidden = tuple(h.detach() for h in hidden) if isinstance(hidden, tuple) else hidden.detach()
            opt.zero_grad()
            out, hidden = mod(lib.tensor(x[window]), hidden)
            loss = ((lin(out) - lib.tensor(y[window])) ** 2).mean()
            loss.backward()
            lib.nn.utils.clip_grad_norm_(params, 0.5)
            opt.step()
            steps.append([loss.detach(), *(p.detach().clone() for p in params)])
        runs.append(steps)
    for ours, theirs in zip(*runs, strict=True):
        assert_close(ours, theirs)
