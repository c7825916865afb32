"""Second parity audit of the recurrent layers and cells against torch 2.13: how users really use them.

Weights replaced or edited between forwards, dtype casts after construction, copies and pickles of
layers and trained models, one graph walked twice (retain_graph), partial use of the outputs, options
the other parity files leave out (dropout in eval mode, bias=False, relu with large values, unbatched
cells), packed input round trips, a 2,000-step sequence, and a 20-window truncated-BPTT training loop
with Adam, clipping and StepLR.
"""
import copy
import pickle

import numpy as np
import pytest
import torch
import torch.nn.utils.rnn as trnn

import tinybptt as tb
from tinybptt import nn
from tinybptt.nn.utils import rnn as orn
from test_torch_parity_audit_rnn import assert_close, grads, raises_like_torch  # shared helpers

TOL = 1e-10
KINDS = {"rnn_tanh": ("RNN", {}), "rnn_relu": ("RNN", {"nonlinearity": "relu"}), "lstm": ("LSTM", {}),
         "gru": ("GRU", {}), "lstm_proj": ("LSTM", {"proj_size": 3})}
CELLS = {"rnn_tanh": ("RNNCell", {}), "rnn_relu": ("RNNCell", {"nonlinearity": "relu"}), "lstm": ("LSTMCell", {}),
         "gru": ("GRUCell", {})}


def copy_weights(m, tm):
    m.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})


def pair(kind, fused=True, **config):
    """Our float64 layer and torch's with the same weights (copied from torch's)."""
    name, extra = KINDS[kind]
    tm = getattr(torch.nn, name)(3, 4, **extra, **config).double()
    m = getattr(nn, name)(3, 4, dtype=tb.float64, fused=fused, **extra, **config)
    copy_weights(m, tm)
    return m, tm


def cell_pair(kind, fused=True, **config):
    """Our float64 cell and torch's with the same weights."""
    name, extra = CELLS[kind]
    tm = getattr(torch.nn, name)(3, 4, **extra, **config).double()
    m = getattr(nn, name)(3, 4, dtype=tb.float64, fused=fused, **extra, **config)
    copy_weights(m, tm)
    return m, tm


def state_sizes(m):
    """The feature sizes of h (projected or not) and, for an LSTM, c."""
    return [m.proj_size or 4, 4][:2 if m.mode == "LSTM" else 1]


def states(h):
    return h if isinstance(h, tuple) else (h,)


def hidden(lib, arrays, requires_grad=False):
    hs = [lib.tensor(a, requires_grad=requires_grad) for a in arrays]
    return hs, (tuple(hs) if len(hs) == 2 else hs[0])


def outputs_and_grads(m, tm, x):
    """[output, final states, parameter gradients] of ours and torch's after backward of sum(out^2) + sum(h_n)."""
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        out, h = mod(lib.tensor(x))
        ((out ** 2).sum() + states(h)[0].sum()).backward()
        results.append([out, *states(h), *grads(mod)])
    return results


BOTH = [True, False]


# ---------------------------------------------------------------- weights replaced or edited between forwards
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", BOTH)
def test_weight_replaced_by_assignment_between_forwards(kind, fused, rng):
    """``m.weight_hh_l0 = nn.Parameter(...)``: the next forward uses it, it gets the gradient, the old one
    keeps none, and _flat_weights / all_weights / parameters() list the new one in the same place."""
    m, tm = pair(kind, fused, num_layers=2)
    x = rng.standard_normal((5, 2, 3))
    new = rng.standard_normal(tuple(tm.weight_hh_l0.shape)) * 0.3
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        mod(lib.tensor(x))
        old = mod.weight_hh_l0
        mod.weight_hh_l0 = lib.nn.Parameter(lib.tensor(new))
        out, h = mod(lib.tensor(x))
        ((out ** 2).sum() + states(h)[0].sum()).backward()
        assert old.grad is None
        assert mod._flat_weights[1] is mod.weight_hh_l0 and mod.all_weights[0][1] is mod.weight_hh_l0
        assert list(mod.parameters())[1] is mod.weight_hh_l0
        results.append([out, *states(h), *grads(mod)])
    assert_close(*results)


@pytest.mark.parametrize("kind", ["lstm", "gru", "lstm_proj"])
@pytest.mark.parametrize("fused", BOTH)
def test_initialisation_through_data(kind, fused, rng):
    """Init code: the forget-gate bias set through ``b.data[H:2H].fill_(1)``, a weight swapped with
    ``w.data = ...``, an identity-like weight_hh through ``.data.copy_``: the layer then trains as torch's."""
    m, tm = pair(kind, fused)
    new_ih = rng.standard_normal(tuple(tm.weight_ih_l0.shape)) * 0.2
    x = rng.standard_normal((5, 2, 3))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        for b in (mod.bias_ih_l0, mod.bias_hh_l0):
            b.data[4:8].fill_(1.0)
        mod.weight_ih_l0.data = lib.tensor(new_ih)
        mod.weight_hh_l0.data.copy_(lib.tensor(np.tile(np.eye(4, mod.weight_hh_l0.shape[1]), (GATES[kind], 1))))
        out, h = mod(lib.tensor(x))
        ((out ** 2).sum() + states(h)[-1].sum()).backward()
        assert type(mod.weight_ih_l0).__name__ == "Parameter" and mod.weight_ih_l0.requires_grad
        results.append([out, *states(h), *mod.parameters(), *grads(mod)])
    assert_close(*results)


GATES = {"lstm": 4, "gru": 3, "lstm_proj": 4}


def test_weight_replaced_by_a_plain_tensor_raises_like_torch():
    def make(lib):
        lib.nn.LSTM(3, 4).weight_hh_l0 = lib.zeros(16, 4)
    ours, theirs = raises_like_torch(make)
    assert "weight_hh_l0" in ours and "weight_hh_l0" in theirs


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", BOTH)
def test_weights_edited_in_place_under_no_grad_between_forwards(kind, fused, rng):
    """A hand-written update (p -= lr * p.grad under no_grad), then zero_grad and a second forward/backward."""
    m, tm = pair(kind, fused, bidirectional=True)
    x = rng.standard_normal((4, 2, 3))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        for _ in range(3):
            out, h = mod(lib.tensor(x))
            ((out ** 2).sum() + states(h)[-1].sum()).backward()
            with lib.no_grad():
                for p in mod.parameters():
                    p -= 0.1 * p.grad
                    p.grad.zero_()
                mod.bias_hh_l0_reverse.mul_(0.5) if hasattr(mod, "bias_hh_l0_reverse") else None
        out, h = mod(lib.tensor(x))
        results.append([out, *states(h), *mod.parameters()])
    assert_close(*results)



@pytest.mark.parametrize("kind, fused", [(k, f) for k in KINDS for f in BOTH])
def test_weight_edited_in_place_before_backward_raises_like_torch(kind, fused, rng):
    """Changing a weight the graph saved, between forward and backward, is an error in both (the fused
    steps save W itself; the primitive cells, and the projected LSTM which runs them, save the view W.T)."""
    m, tm = pair(kind, fused)
    x = rng.standard_normal((4, 2, 3))

    def make(lib):
        mod = m if lib is tb else tm
        out, _ = mod(lib.tensor(x))
        with lib.no_grad():
            mod.weight_hh_l0.add_(1.0)
        out.sum().backward()
    ours, theirs = raises_like_torch(make)
    assert "in-place" in ours or "inplace" in ours


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", BOTH)
@pytest.mark.parametrize("frozen", ["weight_hh_l0", "bias_hh_l0", "weight_ih_l0", "bias_ih_l0_reverse",
                                    "weight_hh_l1_reverse"])
def test_one_frozen_parameter(kind, fused, frozen, rng):
    """``requires_grad_(False)`` on one weight or bias: its .grad stays None, the rest equal torch's."""
    m, tm = pair(kind, fused, num_layers=2, bidirectional=True)
    for mod in (m, tm):
        getattr(mod, frozen).requires_grad_(False)
    x, hx = rng.standard_normal((5, 2, 3)), [rng.standard_normal((4, 2, n)) for n in state_sizes(m)]
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xs = lib.tensor(x, requires_grad=True)
        hs, h0 = hidden(lib, hx, True)
        out, h = mod(xs, h0)
        ((out ** 2).sum() + states(h)[0].sum()).backward()
        assert getattr(mod, frozen).grad is None
        results.append([out, *states(h), xs.grad, *(s.grad for s in hs), *grads(mod)])
    assert_close(*results)


# ---------------------------------------------------------------- dtype casts after construction
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("cast", ["double", "to_float64", "to_dtype_kw", "float_back"])
def test_dtype_cast_after_construction(kind, cast, rng):
    """A float32 layer cast with .double() / .to(float64) / .to(dtype=...) (or cast back with .float())
    computes in that dtype; weights loaded from torch's float32 layer agree after the cast."""
    name, extra = KINDS[kind]
    tm = getattr(torch.nn, name)(3, 4, num_layers=2, **extra)
    m = getattr(nn, name)(3, 4, num_layers=2, **extra)
    copy_weights(m, tm)
    for lib, mod in ((tb, m), (torch, tm)):
        if cast == "double":
            mod.double()
        elif cast == "to_float64":
            mod.to(lib.float64)
        elif cast == "to_dtype_kw":
            mod.to(dtype=lib.float64)
        else:
            mod.double().float()
    want = np.float32 if cast == "float_back" else np.float64
    assert all(p.dtype == want for p in m.parameters())
    x = rng.standard_normal((5, 2, 3)).astype(want)
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        out, h = mod(lib.tensor(x))
        ((out ** 2).sum() + states(h)[0].sum()).backward()
        results.append([out, *states(h), *grads(mod)])
    assert_close(*results, atol=TOL if want == np.float64 else 1e-5)


# ---------------------------------------------------------------- deepcopy and pickle
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
@pytest.mark.parametrize("fused", BOTH)
def test_copies_of_a_trained_layer_run_alike_and_are_independent(kind, how, fused, rng):
    """A layer with gradients, copied: the copy keeps values, grads, flags and options, runs like the
    original (and like torch), and training the copy leaves the original alone."""
    m, tm = pair(kind, fused, num_layers=2, bidirectional=True, batch_first=True)
    x = rng.standard_normal((2, 5, 3))
    for lib, mod in ((tb, m), (torch, tm)):
        out, _ = mod(lib.tensor(x))
        out.sum().backward()
    m.weight_ih_l0.requires_grad_(False)
    tm.weight_ih_l0.requires_grad_(False)
    dup = copy.deepcopy(m) if how == "deepcopy" else pickle.loads(pickle.dumps(m))
    tdup = copy.deepcopy(tm) if how == "deepcopy" else pickle.loads(pickle.dumps(tm))
    assert type(dup) is type(m) and repr(dup) == repr(m)
    assert [n for n, _ in dup.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [p.requires_grad for p in dup.parameters()] == [p.requires_grad for p in tdup.parameters()]
    assert_close(list(dup.parameters()), list(tdup.parameters()))
    assert_close([p.grad for p in dup.parameters()], [p.grad for p in tdup.parameters()])
    assert all(a is not b for a, b in zip(dup.parameters(), m.parameters()))
    assert dup._flat_weights[0] is dup.weight_ih_l0
    before = [p.detach().numpy().copy() for p in m.parameters()]
    results = []
    for lib, mod in ((tb, dup), (torch, tdup)):
        mod.zero_grad()
        out, h = mod(lib.tensor(x))
        ((out ** 2).sum() + states(h)[0].sum()).backward()
        with lib.no_grad():
            for p in mod.parameters():
                if p.grad is not None:
                    p -= p.grad
        results.append([out, *states(h), *mod.parameters()])
    assert_close(*results)
    for a, b in zip(m.parameters(), before):
        np.testing.assert_array_equal(a.detach().numpy(), b)


def tagger(lib, name):
    """A small model class (embedding, 2-layer LSTM, head) of ``lib``'s modules, picklable as ``name``."""
    class Model(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = lib.nn.Embedding(7, 3)
            self.rnn = lib.nn.LSTM(3, 4, num_layers=2, batch_first=True)
            self.head = lib.nn.Linear(4, 7)

        def forward(self, tokens, state=None):
            out, state = self.rnn(self.emb(tokens), state)
            return self.head(out), state
    Model.__name__ = Model.__qualname__ = name
    return Model


TaggerTB, TaggerTorch = tagger(tb, "TaggerTB"), tagger(torch, "TaggerTorch")


def test_deepcopy_and_pickle_of_a_trained_model_with_its_optimizer(rng):
    """A model trained 3 Adam steps, copied mid-training with its optimizer state: the copies continue alike."""
    tm = TaggerTorch().double()
    m = TaggerTB().double()
    copy_weights(m, tm)
    tokens = rng.integers(0, 7, (2, 6))
    runs = []
    for lib, mod in ((tb, m), (torch, tm)):
        opt = lib.optim.Adam(mod.parameters(), lr=0.01)
        for _ in range(3):
            opt.zero_grad()
            logits, _ = mod(lib.tensor(tokens))
            lib.nn.functional.cross_entropy(logits.reshape(-1, 7), lib.tensor(tokens).reshape(-1)).backward()
            opt.step()
        copies = [copy.deepcopy(mod), pickle.loads(pickle.dumps(mod))]
        losses = []
        for dup in copies:
            o = lib.optim.Adam(dup.parameters(), lr=0.01)
            o.load_state_dict(copy.deepcopy(opt.state_dict()))  # torch's load aliases the state tensors
            for _ in range(2):
                o.zero_grad()
                logits, _ = dup(lib.tensor(tokens))
                loss = lib.nn.functional.cross_entropy(logits.reshape(-1, 7), lib.tensor(tokens).reshape(-1))
                loss.backward()
                o.step()
                losses.append(loss.detach())
        runs.append(losses + [p for dup in copies for p in dup.parameters()])
    assert_close(*runs)


# ---------------------------------------------------------------- one graph, used twice / walked twice
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", BOTH)
def test_encoder_for_two_inputs_backward_once(kind, fused, rng):
    """A siamese encoder: the same layer on two batches, the distance of the final states backward once."""
    m, tm = pair(kind, fused, bidirectional=True, batch_first=True)
    a, b = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 3, 3))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xa, xb = lib.tensor(a, requires_grad=True), lib.tensor(b, requires_grad=True)
        oa, ha = mod(xa)
        ob, hb = mod(xb)
        loss = ((states(ha)[0] - states(hb)[0]) ** 2).sum() + (oa[:, -1] * ob[:, -1]).sum()
        loss.backward()
        results.append([loss, xa.grad, xb.grad, *grads(mod)])
    assert_close(*results)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", BOTH)
def test_retain_graph_and_two_backward_calls_accumulate(kind, fused, rng):
    """backward(retain_graph=True) then backward again (another loss of the same graph): .grad sums both."""
    m, tm = pair(kind, fused, num_layers=2, bidirectional=True)
    x, hx = rng.standard_normal((5, 2, 3)), [rng.standard_normal((4, 2, n)) for n in state_sizes(m)]
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xs = lib.tensor(x, requires_grad=True)
        hs, h0 = hidden(lib, hx, True)
        out, h = mod(xs, h0)
        (out ** 2).sum().backward(retain_graph=True)
        first = [p.grad.clone() for p in mod.parameters()]
        (out.sum() + states(h)[-1].sum()).backward(retain_graph=True)
        out.sum().backward()
        results.append([*first, xs.grad, *(s.grad for s in hs), *grads(mod)])
    assert_close(*results)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
@pytest.mark.parametrize("fused", BOTH)
def test_second_backward_without_retain_graph_raises_like_torch(kind, fused, rng):
    m, tm = pair(kind, fused)
    x = rng.standard_normal((4, 2, 3))

    def make(lib):
        out, _ = (m if lib is tb else tm)(lib.tensor(x))
        loss = (out ** 2).sum()
        loss.backward()
        loss.backward()
    raises_like_torch(make)


# ---------------------------------------------------------------- states: batch_first, grad, views
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", BOTH)
@pytest.mark.parametrize("layout", ["contiguous", "expanded", "sliced", "permuted"])
def test_hx_of_batch_first_layers_and_its_gradient(kind, fused, layout, rng):
    """batch_first does not apply to hx (L*D, B, H): given as a leaf, an expand, a slice or a permuted
    tensor, its gradient (through the view) as torch's."""
    m, tm = pair(kind, fused, num_layers=2, bidirectional=True, batch_first=True)
    x = rng.standard_normal((3, 5, 3))
    base = {"contiguous": (4, 3), "expanded": (1, 1), "sliced": (4, 6), "permuted": (3, 4)}[layout]
    raw = [rng.standard_normal((*base, n)) for n in state_sizes(m)]
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        leaves = [lib.tensor(r, requires_grad=True) for r in raw]
        view = {"contiguous": lambda t: t, "expanded": lambda t: t.expand(4, 3, t.shape[-1]),
                "sliced": lambda t: t[:, ::2], "permuted": lambda t: t.permute(1, 0, 2)}[layout]
        hs = [view(t) for t in leaves]
        out, h = mod(lib.tensor(x), tuple(hs) if len(hs) == 2 else hs[0])
        ((out ** 2).sum() + sum((s * s).sum() for s in states(h))).backward()
        results.append([out, *states(h), *(t.grad for t in leaves), *grads(mod)])
    assert_close(*results)


@pytest.mark.parametrize("shape", [(2, 1, 4), (3, 1, 4), (2, 1, 2, 4), (3, 1, 2, 4), (2, 1, 3, 4), (1, 1, 2, 4),
                                   (2, 2, 4)])
@pytest.mark.parametrize("fused", BOTH)
def test_lstm_hx_as_one_stacked_tensor_like_torch(shape, fused, rng):
    """hx = torch.stack([h0, c0]): PyTorch takes hx[0] and hx[1]; fine for unbatched input (values and the
    stacked tensor's gradient), for batched input its shape checks, then a TypeError (not a tuple)."""
    m, tm = pair("lstm", fused)
    x = rng.standard_normal((5, 3) if len(shape) == 3 else (5, 2, 3))
    h = rng.standard_normal(shape)
    if len(shape) == 3 and shape[1:] == (1, 4):
        results = []
        for lib, mod in ((tb, m), (torch, tm)):
            hs = lib.tensor(h, requires_grad=True)
            out, (hn, cn) = mod(lib.tensor(x), hs)
            ((out ** 2).sum() + cn.sum()).backward()
            results.append([out, hn, cn, hs.grad, *grads(mod)])
        assert_close(*results)
    else:
        raises_like_torch(lambda lib: (m if lib is tb else tm)(lib.tensor(x), lib.tensor(h)))


# ---------------------------------------------------------------- outputs used in part
PARTS = {"h_n_only": lambda out, h, d: states(h)[0].sum(),
         "last_step": lambda out, h, d: (out[-1] ** 2).sum(),
         "first_step": lambda out, h, d: (out[0] ** 2).sum(),
         "reverse_half": lambda out, h, d: (out[..., out.shape[-1] // 2:] ** 2).sum(),
         "forward_half_last_step": lambda out, h, d: out[-1, :, :out.shape[-1] // 2].sum(),
         "c_n_only": lambda out, h, d: states(h)[-1][-1].sum()}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("part", list(PARTS))
@pytest.mark.parametrize("fused", BOTH)
def test_outputs_used_in_part(kind, part, fused, rng):
    """A loss on part of the result of a bidirectional 2-layer layer (the rest gets no gradient)."""
    m, tm = pair(kind, fused, num_layers=2, bidirectional=True)
    x = rng.standard_normal((5, 2, 3))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xs = lib.tensor(x, requires_grad=True)
        out, h = mod(xs)
        PARTS[part](out, h, 2).backward()
        results.append([out, *states(h), xs.grad, *grads(mod)])
    assert_close(*results)


# ---------------------------------------------------------------- options
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", BOTH)
def test_dropout_is_off_in_eval_mode(kind, fused, rng):
    """dropout=0.7 between 3 layers does nothing after .eval(), in both."""
    m, tm = pair(kind, fused, num_layers=3, dropout=0.7, bidirectional=True)
    m.eval(), tm.eval()
    x = rng.standard_normal((5, 2, 3))
    assert_close(*outputs_and_grads(m, tm, x))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", BOTH)
def test_three_layers_train_mode_dropout_zero(kind, fused, rng):
    m, tm = pair(kind, fused, num_layers=3, dropout=0.0)
    m.train(), tm.train()
    x = rng.standard_normal((5, 2, 3))
    assert_close(*outputs_and_grads(m, tm, x))


@pytest.mark.parametrize("kind", ["rnn_tanh", "rnn_relu", "gru"])
@pytest.mark.parametrize("fused", BOTH)
@pytest.mark.parametrize("bidirectional", BOTH)
def test_rnn_and_gru_without_bias(kind, fused, bidirectional, rng):
    m, tm = pair(kind, fused, bias=False, num_layers=2, bidirectional=bidirectional)
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in tm.named_parameters()]
    dirs = 2 if bidirectional else 1
    x, h0 = rng.standard_normal((5, 2, 3)), rng.standard_normal((2 * dirs, 2, 4))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xs, hs = lib.tensor(x, requires_grad=True), lib.tensor(h0, requires_grad=True)
        out, h = mod(xs, hs)
        ((out ** 2).sum() + h.sum()).backward()
        results.append([out, h, xs.grad, hs.grad, *grads(mod)])
    assert_close(*results)


@pytest.mark.parametrize("fused", BOTH)
@pytest.mark.parametrize("scale", [30.0, 1e3])
def test_relu_rnn_with_large_values(fused, scale, rng):
    """relu never saturates: values grow to ~scale^T; relative agreement with torch, gradients included."""
    m, tm = pair("rnn_relu", fused, num_layers=2)
    x = rng.standard_normal((6, 2, 3)) * scale
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xs = lib.tensor(x, requires_grad=True)
        out, h = mod(xs)
        ((out ** 2).sum() + h.sum()).backward()
        results.append([t.detach().numpy() for t in (out, h, xs.grad, *grads(mod))])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11 * np.abs(b).max())


@pytest.mark.parametrize("fused", BOTH)
def test_bidirectional_with_proj_size_and_three_layers(fused, rng):
    """proj_size with 3 bidirectional layers (the deeper layers take 2 * proj_size features)."""
    m, tm = pair("lstm", fused, num_layers=3, bidirectional=True, proj_size=2, batch_first=True)
    assert [tuple(p.shape) for p in m.parameters()] == [tuple(p.shape) for p in tm.parameters()]
    x = rng.standard_normal((2, 5, 3))
    hx = [rng.standard_normal((6, 2, 2)), rng.standard_normal((6, 2, 4))]
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xs = lib.tensor(x, requires_grad=True)
        hs, h0 = hidden(lib, hx, True)
        out, (h, c) = mod(xs, h0)
        ((out ** 2).sum() + h.sum() + (c ** 2).sum()).backward()
        results.append([out, h, c, xs.grad, *(s.grad for s in hs), *grads(mod)])
    assert_close(*results)


# ---------------------------------------------------------------- cells
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("fused", BOTH)
@pytest.mark.parametrize("bias", BOTH)
def test_cells_unrolled_on_unbatched_input_without_hx(kind, fused, bias, rng):
    """A cell on 1-D inputs, hx omitted at the first step, unrolled 4 steps: values, shapes, every gradient."""
    m, tm = cell_pair(kind, fused, bias=bias)
    x = rng.standard_normal((4, 3))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xs = lib.tensor(x, requires_grad=True)
        state, outs = None, []
        for t in range(4):
            state = mod(xs[t], state)
            outs.append(states(state)[0])
        assert tuple(outs[0].shape) == (4,)
        (lib.stack(outs) ** 2).sum().backward()
        results.append([*outs, *states(state), xs.grad, *grads(mod)])
    assert_close(*results)


@pytest.mark.parametrize("kind", list(CELLS))
def test_packed_sequence_into_a_cell_raises_like_torch(kind):
    name, extra = CELLS[kind]

    def make(lib):
        utils = orn if lib is tb else trnn
        packed = utils.pack_sequence([lib.ones(3, 3), lib.ones(2, 3)])
        getattr(lib.nn, name)(3, 4, **extra)(packed)
    raises_like_torch(make)


@pytest.mark.parametrize("kind", list(CELLS))
def test_cell_with_weights_replaced_and_frozen(kind, rng):
    m, tm = cell_pair(kind)
    new = rng.standard_normal(tuple(tm.weight_ih.shape))
    x, h0 = rng.standard_normal((2, 3)), rng.standard_normal((2, 4))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        mod.weight_ih = lib.nn.Parameter(lib.tensor(new))
        mod.bias_hh.requires_grad_(False)
        hs = lib.tensor(h0, requires_grad=True)
        out = mod(lib.tensor(x), (hs, hs * 0.5) if kind == "lstm" else hs)
        sum((s ** 2).sum() for s in states(out)).backward()
        assert mod.bias_hh.grad is None
        results.append([*states(out), hs.grad, *grads(mod)])
    assert_close(*results)


# ---------------------------------------------------------------- packing round trips
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fused", BOTH)
@pytest.mark.parametrize("batch_first", BOTH)
def test_pack_sequence_layer_pad_with_padding_value_and_total_length(kind, fused, batch_first, rng):
    m, tm = pair(kind, fused, bidirectional=True, num_layers=2, batch_first=batch_first)
    lengths = [3, 6, 1]
    seqs = [rng.standard_normal((n, 3)) for n in lengths]
    results = []
    for lib, utils, mod in ((tb, orn, m), (torch, trnn, tm)):
        xs = [lib.tensor(s, requires_grad=True) for s in seqs]
        out, h = mod(utils.pack_sequence(xs, enforce_sorted=False))
        padded, lens = utils.pad_packed_sequence(out, batch_first=batch_first, padding_value=-7.5, total_length=8)
        (padded ** 2).sum().backward()
        assert lens.dtype == (tb.int64 if lib is tb else torch.int64)
        results.append([padded, lens, *states(h), *(x.grad for x in xs), *grads(mod)])
    assert_close(*results)


@pytest.mark.parametrize("batch_first", BOTH)
def test_unpack_and_unpad_sequence_carry_gradients(batch_first, rng):
    lengths = [4, 2, 5]
    seqs = [rng.standard_normal((n, 2)) for n in lengths]
    results = []
    for lib, utils in ((tb, orn), (torch, trnn)):
        xs = [lib.tensor(s, requires_grad=True) for s in seqs]
        back = utils.unpack_sequence(utils.pack_sequence(xs, enforce_sorted=False))
        padded = utils.pad_sequence(xs, batch_first=batch_first)
        parts = utils.unpad_sequence(padded, lib.tensor(lengths), batch_first=batch_first)
        loss = sum((b ** 2 * (i + 1)).sum() for i, b in enumerate(back)) + sum((p ** 3).sum() for p in parts)
        loss.backward()
        results.append([*back, *parts, *(x.grad for x in xs)])
    assert_close(*results)


# ---------------------------------------------------------------- a long sequence
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "lstm_proj"])
@pytest.mark.parametrize("fused", BOTH)
def test_two_thousand_steps_backward_without_recursion_error(kind, fused, rng):
    """T=2000, batch 1, hidden 8: forward and backward run (no recursion limit) and match torch."""
    name, extra = KINDS[kind]
    tm = getattr(torch.nn, name)(2, 8, **extra).double()
    m = getattr(nn, name)(2, 8, dtype=tb.float64, fused=fused, **extra)
    copy_weights(m, tm)
    x = rng.standard_normal((2000, 1, 2))
    results = []
    for lib, mod in ((tb, m), (torch, tm)):
        xs = lib.tensor(x, requires_grad=True)
        out, h = mod(xs)
        ((out[:10] ** 2).sum() + out[-1].sum() + states(h)[-1].sum()).backward()
        results.append([out, *states(h), xs.grad, *grads(mod)])
    assert_close(*results, atol=1e-9)


# ---------------------------------------------------------------- truncated BPTT over a stateful LSTM
@pytest.mark.parametrize("fused", BOTH)
@pytest.mark.parametrize("config", [dict(num_layers=2), dict(num_layers=2, batch_first=True, dropout=0.0),
                                    dict(proj_size=2)], ids=["2_layers", "batch_first", "proj"])
def test_tbptt_loop_with_adam_clipping_and_steplr_for_20_windows(fused, config, rng):
    """A language-model style loop: state detached every k=5 steps, Adam, clip_grad_norm_, StepLR;
    losses, learning rates and final weights as torch's after 20 windows."""
    tm = torch.nn.LSTM(3, 4, **config).double()
    m = nn.LSTM(3, 4, dtype=tb.float64, fused=fused, **config)
    copy_weights(m, tm)
    width = config.get("proj_size") or 4
    th = torch.nn.Linear(width, 3).double()
    head = nn.Linear(width, 3, dtype=tb.float64)
    copy_weights(head, th)
    k, batch = 5, 2
    series = rng.standard_normal((20 * k + 1, batch, 3))
    bf = config.get("batch_first", False)
    runs = []
    for lib, mod, lin in ((tb, m, head), (torch, tm, th)):
        params = list(mod.parameters()) + list(lin.parameters())
        opt = lib.optim.Adam(params, lr=0.02)
        sched = lib.optim.lr_scheduler.StepLR(opt, step_size=6, gamma=0.5)
        state, record = None, []
        for w in range(20):
            x, y = series[w * k:(w + 1) * k], series[w * k + 1:(w + 1) * k + 1]
            if bf:
                x, y = x.transpose(1, 0, 2), y.transpose(1, 0, 2)
            if state is not None:
                state = tuple(s.detach() for s in state)
            opt.zero_grad()
            out, state = mod(lib.tensor(x), state)
            loss = lib.nn.functional.mse_loss(lin(out), lib.tensor(y))
            loss.backward()
            norm = lib.nn.utils.clip_grad_norm_(params, 0.1)
            opt.step()
            sched.step()
            record += [loss.detach(), norm.detach(), lib.tensor(sched.get_last_lr()[0])]
        runs.append(record + [p.detach() for p in params] + list(state))
    assert_close(*runs)


CUTS = {"detach_": lambda h: [s.detach_() for s in h] and h, "data": lambda h: tuple(s.data for s in h),
        "clone_detach": lambda h: tuple(s.clone().detach() for s in h)}


@pytest.mark.parametrize("cut", list(CUTS))
@pytest.mark.parametrize("kind", ["lstm", "lstm_proj"])
@pytest.mark.parametrize("fused", BOTH)
def test_older_ways_to_cut_the_graph_between_windows(cut, kind, fused, rng):
    """Code written for older PyTorch cuts the state with h.detach_() in place, h.data, or clone().detach();
    a hand-written SGD step between windows: losses, final state flags and weights as torch's."""
    m, tm = pair(kind, fused, num_layers=2)
    xs = rng.standard_normal((3, 4, 2, 3))
    runs = []
    for lib, mod in ((tb, m), (torch, tm)):
        state, record = None, []
        for x in xs:
            if state is not None:
                state = CUTS[cut](state)
            mod.zero_grad()
            out, state = mod(lib.tensor(x), state)
            loss = (out ** 2).sum() + state[1].sum()
            loss.backward()
            with lib.no_grad():
                for p in mod.parameters():
                    p -= 0.1 * p.grad
            record.append(loss.detach())
        assert state[0].requires_grad and not state[0].is_leaf
        runs.append(record + list(mod.parameters()) + list(state))
    assert_close(*runs)


# ---------------------------------------------------------------- flatten_parameters, _flat_weights, all_weights
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("config", [dict(), dict(num_layers=2, bidirectional=True), dict(bias=False, num_layers=2)])
def test_flatten_parameters_flat_weights_and_all_weights(kind, config):
    m, tm = pair(kind, **config)
    assert m.flatten_parameters() is None and tm.flatten_parameters() is None
    assert m._flat_weights_names == tm._flat_weights_names
    assert m._all_weights == tm._all_weights
    assert_close(m._flat_weights, tm._flat_weights)
    assert [len(group) for group in m.all_weights] == [len(group) for group in tm.all_weights]
    assert_close([p for g in m.all_weights for p in g], [p for g in tm.all_weights for p in g])
    assert all(a is b for a, b in zip(m._flat_weights, m.parameters()))


@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
def test_bool_num_layers_raises_type_error_at_forward_like_torch(name):
    """num_layers=True is accepted by both constructors (one layer of weights); forward refuses it."""
    ours, theirs = raises_like_torch(lambda lib: getattr(lib.nn, name)(3, 4, num_layers=True)(lib.zeros(2, 1, 3)))
    assert "num_layers" in ours


def test_linear_weight_edited_before_backward_raises_like_torch(rng):
    """nn.Linear saves the view W.T: an in-place change of W reaches it (views count their base's changes)."""
    x = rng.standard_normal((3, 4))

    def make(lib):
        lin = lib.nn.Linear(4, 2).double()
        y = lin(lib.tensor(x, requires_grad=True))
        with lib.no_grad():
            lin.weight.mul_(2.0)
        y.sum().backward()
    ours, _ = raises_like_torch(make)
    assert "modified by an inplace operation" in ours


def test_weight_changed_before_the_product_is_recorded_is_no_error(rng):
    """A view taken, its base changed, then the product recorded: the product used the new values (no error)."""
    lin = tb.nn.Linear(4, 2).double()
    wt = lin.weight.T
    with tb.no_grad():
        lin.weight.mul_(2.0)
    x = tb.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    (x @ wt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones((3, 2)) @ lin.weight.detach().numpy(), rtol=1e-15)
