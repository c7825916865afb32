"""Parity with PyTorch: state_dicts move both ways; outputs and every gradient agree."""
import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import tinybptt as tb
from tinybptt import nn

torch.manual_seed(0)

LAYER_CASES = {
    "rnn_tanh": (nn.RNN, torch.nn.RNN, {}),
    "rnn_relu": (nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, torch.nn.LSTM, {}),
    "gru": (nn.GRU, torch.nn.GRU, {}),
    "lstm_proj": (nn.LSTM, torch.nn.LSTM, {"proj_size": 4}),
}
CONFIGS = [dict(), dict(num_layers=2), dict(bidirectional=True), dict(num_layers=3, bidirectional=True),
           dict(batch_first=True), dict(num_layers=2, bidirectional=True, batch_first=True), dict(bias=False)]


def to_torch_state(m):
    return {k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()}


def from_torch_state(tm):
    return {k: v.detach().numpy().copy() for k, v in tm.state_dict().items()}


def pair(kind, direction, dtype=np.float64, **kw):
    """Our layer and torch's with the same weights, copied ``direction`` ('to_torch' or 'from_torch')."""
    ours, theirs, extra = LAYER_CASES[kind]
    m = ours(5, 6, dtype=dtype, **extra, **kw)
    tm = theirs(5, 6, **extra, **kw).to(torch.float64 if dtype == np.float64 else torch.float32)
    if direction == "to_torch":
        tm.load_state_dict(to_torch_state(m))
    else:
        m.load_state_dict(from_torch_state(tm))
    assert list(m.state_dict()) == list(tm.state_dict())
    return m, tm


def run_ours(m, x, hx, cot, lengths=None):
    m.zero_grad()
    xs = tb.tensor(x, requires_grad=True)
    hs = [tb.tensor(h, requires_grad=True) for h in hx]
    out, h = m(xs, tuple(hs) if len(hs) == 2 else hs[0], lengths=lengths)
    finals = h if isinstance(h, tuple) else (h,)
    loss = sum((t * tb.tensor(c)).sum() for t, c in zip((out, *finals), cot))
    loss.backward()
    return [t.detach().numpy() for t in (out, *finals)], [xs.grad.numpy()] + [h.grad.numpy() for h in hs], \
        {n: p.grad.numpy() for n, p in m.named_parameters()}


def run_torch(tm, x, hx, cot, lengths=None):
    tm.zero_grad()
    xs = torch.tensor(x, requires_grad=True)
    hs = [torch.tensor(h, requires_grad=True) for h in hx]
    inp = xs
    if lengths is not None:
        inp = pack_padded_sequence(xs, torch.tensor(lengths), batch_first=tm.batch_first, enforce_sorted=False)
    out, h = tm(inp, tuple(hs) if len(hs) == 2 else hs[0])
    if lengths is not None:
        out, _ = pad_packed_sequence(out, batch_first=tm.batch_first, total_length=x.shape[1 if tm.batch_first else 0])
    finals = h if isinstance(h, tuple) else (h,)
    loss = sum((t * torch.tensor(c)).sum() for t, c in zip((out, *finals), cot))
    loss.backward()
    return [t.detach().numpy() for t in (out, *finals)], [xs.grad.numpy()] + [h.grad.numpy() for h in hs], \
        {n: p.grad.numpy() for n, p in tm.named_parameters()}


def assert_same(a, b, atol):
    (out_a, in_a, p_a), (out_b, in_b, p_b) = a, b
    for u, v in zip(out_a + in_a, out_b + in_b):
        np.testing.assert_allclose(u, v, rtol=0, atol=atol)
    assert list(p_a) == list(p_b)
    for name in p_a:
        np.testing.assert_allclose(p_a[name], p_b[name], rtol=0, atol=atol, err_msg=name)


def inputs(rng, m, batched=True, steps=7, batch=3):
    d = 2 if m.bidirectional else 1
    xshape = (batch, steps, 5) if m.batch_first else (steps, batch, 5)
    sizes = [m.proj_size or 6, 6][:2 if m.mode == "LSTM" else 1]  # h (projected or not), and c
    hshapes = [(m.num_layers * d, batch, n) if batched else (m.num_layers * d, n) for n in sizes]
    if not batched:
        xshape = (steps, 5)
    x = rng.standard_normal(xshape)
    hx = [rng.standard_normal(s) * 0.5 for s in hshapes]
    out_shape = xshape[:-1] + (sizes[0] * d,)
    cot = [rng.standard_normal(out_shape)] + [rng.standard_normal(s) for s in hshapes]
    return x, hx, cot


@pytest.mark.parametrize("kind", list(LAYER_CASES))
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("fused", [True, False])
def test_layer_parity_float64(kind, config, fused, rng):
    direction = "to_torch" if fused else "from_torch"
    m, tm = pair(kind, direction, **config)
    m.fused = fused
    x, hx, cot = inputs(rng, m)
    assert_same(run_ours(m, x, hx, cot), run_torch(tm, x, hx, cot), 1e-10)


@pytest.mark.parametrize("kind", list(LAYER_CASES))
@pytest.mark.parametrize("config", [dict(), dict(num_layers=2, bidirectional=True)])
def test_unbatched_parity(kind, config, rng):
    m, tm = pair(kind, "from_torch", **config)
    x, hx, cot = inputs(rng, m, batched=False)
    assert_same(run_ours(m, x, hx, cot), run_torch(tm, x, hx, cot), 1e-10)


@pytest.mark.parametrize("kind", list(LAYER_CASES))
@pytest.mark.parametrize("config", [dict(), dict(bidirectional=True), dict(num_layers=2, bidirectional=True,
                                                                           batch_first=True)])
@pytest.mark.parametrize("fused", [True, False])
def test_lengths_parity_with_packed_sequences(kind, config, fused, rng):
    m, tm = pair(kind, "to_torch", **config)
    m.fused = fused
    x, hx, cot = inputs(rng, m, batch=4)
    lengths = [3, 7, 1, 5]  # unsorted; torch packs with enforce_sorted=False
    assert_same(run_ours(m, x, hx, cot, lengths), run_torch(tm, x, hx, cot, lengths), 1e-10)


@pytest.mark.parametrize("kind", list(LAYER_CASES))
def test_float32_parity_and_default_state(kind, rng):
    m, tm = pair(kind, "from_torch", dtype=np.float32, num_layers=2, bidirectional=True)
    x = rng.standard_normal((20, 4, 5)).astype(np.float32)
    out, h = m(tb.tensor(x))
    tout, th = tm(torch.from_numpy(x))
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), atol=2e-5)
    for a, b in zip(h if isinstance(h, tuple) else (h,), th if isinstance(th, tuple) else (th,)):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=2e-5)
    assert out.dtype == np.float32


def test_state_dict_round_trip_both_ways(rng):
    tm = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True)
    m = nn.LSTM(5, 6, num_layers=2, bidirectional=True)
    m.load_state_dict(from_torch_state(tm))
    tm2 = torch.nn.LSTM(5, 6, num_layers=2, bidirectional=True)
    tm2.load_state_dict(to_torch_state(m))
    for k, v in tm.state_dict().items():
        assert torch.equal(v, tm2.state_dict()[k])
        assert m.state_dict()[k].shape == tuple(v.shape) and m.state_dict()[k].dtype == np.float32


# ---------------------------------------------------------------- cells
CELL_CASES = {
    "rnn_tanh": (nn.RNNCell, torch.nn.RNNCell, {}),
    "rnn_relu": (nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (nn.GRUCell, torch.nn.GRUCell, {}),
}


@pytest.mark.parametrize("kind", list(CELL_CASES))
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_parity(kind, fused, bias, batched, rng):
    ours, theirs, extra = CELL_CASES[kind]
    tc = theirs(5, 6, bias=bias, **extra).double()
    c = ours(5, 6, bias=bias, fused=fused, dtype=tb.float64, **extra)
    c.load_state_dict(from_torch_state(tc))
    lead = (3,) if batched else ()
    x = rng.standard_normal((*lead, 5))
    n_state = 2 if kind == "lstm" else 1
    hx = [rng.standard_normal((*lead, 6)) for _ in range(n_state)]
    cot = [rng.standard_normal((*lead, 6)) for _ in range(n_state)]

    results = []
    for lib, cell in ((tb, c), (torch, tc)):
        xs = lib.tensor(x, requires_grad=True)
        hs = [lib.tensor(h, requires_grad=True) for h in hx]
        out = cell(xs, tuple(hs) if n_state == 2 else hs[0])
        outs = out if isinstance(out, tuple) else (out,)
        sum((o * lib.tensor(v)).sum() for o, v in zip(outs, cot)).backward()
        results.append(([o.detach().numpy() for o in outs], [xs.grad.numpy()] + [h.grad.numpy() for h in hs],
                        {n: p.grad.numpy() for n, p in cell.named_parameters()}))
    assert_same(*results, 1e-10)


@pytest.mark.parametrize("kind", list(LAYER_CASES))
@pytest.mark.parametrize("p", [1.0, 0.0])
def test_train_mode_dropout_sits_where_torchs_does(kind, p, rng):
    """p = 1 zeroes everything a dropout touches, so the numbers say where it is applied:
    between layers (deeper layers see zero input), never after the last one."""
    m, tm = pair(kind, "from_torch", num_layers=3, bidirectional=True, dropout=p)
    m.train()
    tm.train()
    x, hx, cot = inputs(rng, m)
    assert_same(run_ours(m, x, hx, cot), run_torch(tm, x, hx, cot), 1e-10)


# ---------------------------------------------------------------- errors and repr as PyTorch's
MSG_T0 = "Expected sequence length to be larger than 0 in RNN"


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("name", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("shape, batch_first", [((0, 3, 10), False), ((3, 0, 10), True), ((0, 10), False)])
def test_zero_length_sequence_raises_like_torch(name, fused, shape, batch_first):
    with pytest.raises(RuntimeError, match=MSG_T0):
        getattr(torch.nn, name)(10, 20, batch_first=batch_first)(torch.randn(*shape))
    with pytest.raises(RuntimeError, match=MSG_T0):
        getattr(nn, name)(10, 20, batch_first=batch_first, fused=fused)(tb.randn(*shape))


@pytest.mark.parametrize("name", ["RNN", "GRU"])
@pytest.mark.parametrize("proj", [0, 5])
def test_proj_size_keyword_rejected_for_rnn_and_gru_like_torch(name, proj):
    msg = "proj_size argument is only supported for LSTM, not RNN or GRU"
    with pytest.raises(ValueError, match=msg):
        getattr(torch.nn, name)(10, 20, proj_size=proj)
    with pytest.raises(ValueError, match=msg):
        getattr(nn, name)(10, 20, proj_size=proj)


@pytest.mark.parametrize("arg", ["bias", "batch_first"])
def test_non_bool_flags_raise_type_error_like_torch(arg):
    msg = f"{arg} should be of type bool, got: int"
    with pytest.raises(TypeError, match=msg):
        torch.nn.LSTM(10, 20, **{arg: 1})
    with pytest.raises(TypeError, match=msg):
        nn.LSTM(10, 20, **{arg: 1})


def test_rnn_repr_matches_torch_with_relu():
    kw = dict(num_layers=2, nonlinearity="relu")
    assert repr(nn.RNN(3, 4, **kw)) == repr(torch.nn.RNN(3, 4, **kw))


def test_nonpositive_length_message_is_torchs():
    # torch.nn.utils.rnn.pack_padded_sequence's wording (capital L), which users match on
    with pytest.raises(ValueError, match="Length of all samples has to be greater than 0"):
        nn.GRU(3, 4)(tb.randn(5, 2, 3), lengths=[0, 5])


def _raises_like_torch(make):
    """make(lib) must raise in both libraries, the same exception type; returns our message."""
    with pytest.raises(Exception) as theirs:
        make(torch)
    with pytest.raises(Exception) as ours:
        make(tb)
    assert type(ours.value) is type(theirs.value), (theirs.value, ours.value)
    return str(ours.value)


@pytest.mark.parametrize("case", ["lstm_3_states", "lstm_1_state", "lstm_tensor_hx", "gru_tuple_hx", "lstmcell_tensor_hx",
                                  "lstmcell_1_state", "gru_h0_dtype", "lstm_c0_dtype", "grucell_input_dtype",
                                  "lstmcell_h_dtype", "rnncell_bad_nonlinearity", "grucell_negative_hidden"])
def test_hidden_state_and_dtype_errors_match_torch(case):
    """Wrong hidden states (count, container, dtype) raise PyTorch's exception types, naming the problem."""
    def make(lib):
        z = lib.zeros
        if case == "lstm_3_states":
            return lib.nn.LSTM(2, 3)(z(4, 1, 2), (z(1, 1, 3),) * 3)
        if case == "lstm_1_state":
            return lib.nn.LSTM(2, 3)(z(4, 1, 2), (z(1, 1, 3),))
        if case == "lstm_tensor_hx":
            return lib.nn.LSTM(2, 3)(z(4, 1, 2), z(1, 1, 3))
        if case == "gru_tuple_hx":
            return lib.nn.GRU(2, 3)(z(4, 1, 2), (z(1, 1, 3), z(1, 1, 3)))
        if case == "lstmcell_tensor_hx":
            return lib.nn.LSTMCell(2, 3)(z(4, 2), z(4, 3))
        if case == "lstmcell_1_state":
            return lib.nn.LSTMCell(2, 3)(z(4, 2), (z(4, 3),))
        if case == "gru_h0_dtype":
            return lib.nn.GRU(2, 3)(z(4, 1, 2), z(1, 1, 3, dtype=lib.float64))
        if case == "lstm_c0_dtype":
            return lib.nn.LSTM(2, 3)(z(4, 1, 2), (z(1, 1, 3), z(1, 1, 3, dtype=lib.float64)))
        if case == "grucell_input_dtype":
            return lib.nn.GRUCell(2, 3)(z(4, 2, dtype=lib.float64))
        if case == "lstmcell_h_dtype":
            return lib.nn.LSTMCell(2, 3)(z(4, 2), (z(4, 3, dtype=lib.float64), z(4, 3)))
        if case == "rnncell_bad_nonlinearity":
            cell = lib.nn.RNNCell(2, 3, nonlinearity="sigmoid")  # accepted: forward raises
            return cell(z(4, 2))
        return lib.nn.GRUCell(4, -1)
    msg = _raises_like_torch(make)
    expected = {"lstm_3_states": "expects two hidden states", "lstm_1_state": "got 1 of them",
                "lstm_tensor_hx": "expects two hidden states", "gru_tuple_hx": "hx should be a Tensor, got a tuple",
                "lstmcell_tensor_hx": "must be tuple of Tensors, not Tensor", "lstmcell_1_state": "got 1 of them",
                "gru_h0_dtype": "got Double and Float", "lstm_c0_dtype": "got Double and Float",
                "grucell_input_dtype": "got Double and Float", "lstmcell_h_dtype": "got Double and Float",
                "rnncell_bad_nonlinearity": "Unknown nonlinearity: sigmoid", "grucell_negative_hidden": "negative"}
    assert expected[case] in msg


def test_layer_mode_attribute_matches_torch():
    """``mode`` names the cell as PyTorch: RNN_TANH / RNN_RELU, LSTM, GRU; the relu layer still computes relu."""
    for kind, (ours, theirs, extra) in LAYER_CASES.items():
        assert ours(5, 6, **extra).mode == theirs(5, 6, **extra).mode
    m, tm = pair("rnn_relu", "to_torch")
    x = np.random.RandomState(0).randn(4, 2, 5)
    np.testing.assert_allclose(m(tb.tensor(x))[0].detach().numpy(), tm(torch.tensor(x))[0].detach().numpy(),
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", list(LAYER_CASES))
@pytest.mark.parametrize("config", [dict(), dict(num_layers=2, bidirectional=True), dict(bias=False, num_layers=3)])
def test_all_weights_names_and_flat_weights_like_torch(kind, config):
    """``_all_weights`` (names per layer/direction, used by forget-gate bias init recipes), ``_flat_weights``
    and ``all_weights`` match PyTorch's (``_all_weights`` and ``_flat_weights`` were missing)."""
    m, tm = pair(kind, "from_torch", **config)
    assert m._all_weights == tm._all_weights
    assert [n for names in m._all_weights for n in names] == m._flat_weights_names == tm._flat_weights_names
    for ours, theirs in zip(m._flat_weights, tm._flat_weights):
        np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    assert [[p.shape for p in ps] for ps in m.all_weights] == [[tuple(p.shape) for p in ps] for ps in tm.all_weights]
    for names in m._all_weights:  # the recipe: forget-gate biases to 1
        for name in filter(lambda n: "bias" in n, names):
            bias = getattr(m, name)
            n = bias.size(0)
            bias.data[n // 4:n // 2].fill_(1.0)
    if config.get("bias", True) and kind.startswith("lstm"):
        assert (m.bias_hh_l0.detach().numpy()[6:12] == 1).all()
