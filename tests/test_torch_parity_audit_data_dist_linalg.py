"""Adversarial parity audit against torch 2.13 of tinybptt.utils.data, tinybptt.distributions, tinybptt.linalg and
tinybptt.utils.checkpoint, used the way training code uses them: a DataLoader with a padding collate_fn feeding
a packed LSTM, REINFORCE over Categorical LSTM logits, dtype promotion in Normal, gradient-norm clipping through
linalg.vector_norm, checkpointed functions returning non-tensors.  Values, gradients, dtypes, shapes and
exception types are compared with torch."""
import collections
import warnings

import numpy as np
import pytest
import torch
import torch.distributions as TD
import torch.utils.checkpoint as TC
import torch.utils.data as TUD

import tinybptt as tb
import tinybptt.distributions as D
import tinybptt.nn as nn
import tinybptt.utils.checkpoint as C
import tinybptt.utils.data as UD
from parity import assert_close, numpy_of, raises_alike, to_torch

F, TF = nn.functional, torch.nn.functional


def structure(x):
    """A batch as comparable plain data: tensors as (dtype, shape, values), containers by kind."""
    if isinstance(x, (tb.Tensor, torch.Tensor)):
        return ("tensor", str(x.dtype).replace("torch.", ""), tuple(x.shape), numpy_of(x).tolist())
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return (type(x).__name__,) + tuple(structure(v) for v in x)
    if isinstance(x, (tuple, list)):
        return (type(x).__name__,) + tuple(structure(v) for v in x)
    if isinstance(x, dict):
        return {k: structure(v) for k, v in x.items()}
    return x


def as_torch(x):
    """Our samples with torch tensors in place of tinybptt ones (other leaves unchanged)."""
    if isinstance(x, tb.Tensor):
        return torch.from_numpy(np.array(x.numpy()))
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*map(as_torch, x))
    if isinstance(x, (tuple, list)):
        return type(x)(map(as_torch, x))
    if isinstance(x, dict):
        return {k: as_torch(v) for k, v in x.items()}
    return x


# ====================================================================== utils.data
Pair = collections.namedtuple("Pair", ["features", "label"])


def _samples(kind):
    rng = np.random.default_rng(3)
    if kind == "dict":
        return [{"x": rng.standard_normal(3).astype(np.float32), "len": i, "w": 0.5 * i, "id": f"s{i}"} for i in range(3)]
    if kind == "namedtuple":
        return [Pair(rng.standard_normal((2, 2)), np.int64(i)) for i in range(3)]
    if kind == "nested lists":
        return [[rng.standard_normal(2), [np.float32(i), tb.tensor(float(i))]] for i in range(3)]
    if kind == "0-d tensors":
        return [(tb.tensor(i), tb.tensor(0.5 * i, dtype=tb.float64), tb.tensor(i % 2 == 0)) for i in range(3)]
    if kind == "dict of namedtuples":
        return [{"a": Pair(tb.tensor([1.0, i]), i), "b": [np.array(i, np.int32)]} for i in range(3)]
    if kind == "0-d numpy arrays":
        return [(np.array(1.5 * i), np.array(i, np.int16), np.bool_(i > 0)) for i in range(3)]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["dict", "namedtuple", "nested lists", "0-d tensors", "dict of namedtuples",
                                  "0-d numpy arrays"])
def test_default_collate_of_structured_samples_matches_torch(kind):
    samples = _samples(kind)
    ours, theirs = UD.default_collate(samples), TUD.default_collate(as_torch(samples))
    assert structure(ours) == structure(theirs)
    # the DataLoader collates the same way, with a shorter last batch
    ours = [structure(b) for b in UD.DataLoader(samples, batch_size=2)]
    theirs = [structure(b) for b in TUD.DataLoader(as_torch(samples), batch_size=2)]
    assert ours == theirs


def test_default_collate_keeps_namedtuple_type_and_float32_of_numpy():
    batch = UD.default_collate(_samples("namedtuple"))
    assert type(batch) is Pair and batch.features.dtype == np.float64 and batch.label.dtype == np.int64
    tbatch = TUD.default_collate(_samples("namedtuple"))
    assert type(tbatch) is Pair and tbatch.features.dtype == torch.float64


def test_default_collate_mismatched_samples_raise_as_torch():
    raises_alike(lambda: UD.default_collate([tb.ones(2), tb.ones(3)]),
                 lambda: TUD.default_collate([torch.ones(2), torch.ones(3)]), match="stack")
    raises_alike(lambda: UD.default_collate([[1, 2], [3]]), lambda: TUD.default_collate([[1, 2], [3]]),
                 match="equal size")
    raises_alike(lambda: UD.default_collate([{"a": 1}, {"b": 1}]), lambda: TUD.default_collate([{"a": 1}, {"b": 1}]))
    raises_alike(lambda: UD.default_collate([object()]), lambda: TUD.default_collate([object()]),
                 match="default_collate")


LOADER_OPTIONS = [dict(batch_size=None), dict(batch_size=1), dict(batch_size=3), dict(batch_size=3, drop_last=True),
                  dict(batch_size=7, drop_last=True), dict(batch_size=8), dict(batch_size=8, drop_last=True),
                  dict(batch_size=2, sampler=[6, 0, 3]), dict(batch_size=2, sampler=[6, 0, 3], drop_last=True),
                  dict(batch_size=None, sampler=[5, 1]), dict(batch_sampler=[[6, 0], [3], [1, 2, 4]])]


@pytest.mark.parametrize("options", LOADER_OPTIONS)
def test_loader_len_and_batches_over_a_tensor_dataset_match_torch(options):
    x, y = np.arange(14.0).reshape(7, 2), np.arange(7)
    ours = UD.DataLoader(UD.TensorDataset(tb.tensor(x), tb.tensor(y)), **options)
    theirs = TUD.DataLoader(TUD.TensorDataset(torch.tensor(x), torch.tensor(y)), **options)
    assert len(ours) == len(theirs)
    assert [structure(b) for b in ours] == [structure(b) for b in theirs]
    it = iter(ours)
    assert len(it) == len(theirs)


class _Stream(UD.IterableDataset):
    def __iter__(self):
        return iter(range(5))

    def __len__(self):
        return 5


class _TorchStream(TUD.IterableDataset):
    def __iter__(self):
        return iter(range(5))

    def __len__(self):
        return 5


@pytest.mark.parametrize("options", [dict(batch_size=None), dict(batch_size=2), dict(batch_size=2, drop_last=True),
                                     dict(batch_size=5, drop_last=True), dict(batch_size=6, drop_last=True)])
def test_loader_len_over_an_iterable_dataset_matches_torch(options):
    ours, theirs = UD.DataLoader(_Stream(), **options), TUD.DataLoader(_TorchStream(), **options)
    assert len(ours) == len(theirs)
    assert [structure(b) for b in ours] == [structure(b) for b in theirs]


def test_loader_batch_size_none_conflicts_and_bad_sizes_raise_as_torch():
    ds, tds = UD.TensorDataset(tb.ones(4, 2)), TUD.TensorDataset(torch.ones(4, 2))
    for kw in (dict(batch_size=None, drop_last=True), dict(batch_size=0), dict(batch_size=-1), dict(batch_size=2.0),
               dict(batch_sampler=[[0]], drop_last=True), dict(batch_sampler=[[0]], batch_size=2)):
        raises_alike(lambda: UD.DataLoader(ds, **kw), lambda: TUD.DataLoader(tds, **kw))
    with pytest.raises(TypeError):  # no len() when the dataset has none, as torch
        len(UD.DataLoader(UD.Dataset()))


def test_tensor_dataset_indexing_and_random_split_sizes_match_torch():
    x = np.arange(12.0).reshape(6, 2)
    ds, tds = UD.TensorDataset(tb.tensor(x), tb.arange(6)), TUD.TensorDataset(torch.tensor(x), torch.arange(6))
    for index in (-1, 2, slice(1, 4), [0, 5]):
        assert structure(ds[index]) == structure(tds[index])
    for lengths in ([0.5, 0.5], [0.3, 0.3, 0.4], [2, 4], [1.0]):
        ours = UD.random_split(ds, lengths, generator=tb.Generator().manual_seed(1))
        theirs = TUD.random_split(tds, lengths, generator=torch.Generator().manual_seed(1))
        assert [len(s) for s in ours] == [len(s) for s in theirs]
        assert sorted(i for s in ours for i in s.indices) == list(range(6))
        assert all(type(s[0]) is tuple for s in ours if len(s))
    raises_alike(lambda: UD.TensorDataset(tb.ones(3), tb.ones(4)), lambda: TUD.TensorDataset(torch.ones(3), torch.ones(4)))


# ---------------------------------------------------------------------- a padded LSTM training loop
LENGTHS = [5, 2, 4, 1, 3, 5, 2, 3]


def _sequence_data():
    rng = np.random.default_rng(7)
    n, width = len(LENGTHS), max(LENGTHS)
    x = rng.standard_normal((n, width, 3))
    for i, n_i in enumerate(LENGTHS):
        x[i, n_i:] = 0.0
    return x, np.array(LENGTHS), rng.integers(0, 3, n)


def _pad_collate(lib, rnn):
    """A collate_fn for (sequence, label) samples of different lengths: pad to the longest in the batch."""
    def collate(samples):
        seqs, labels = zip(*samples)
        lengths = lib.tensor([len(s) for s in seqs])
        return rnn.pad_sequence(list(seqs), batch_first=True), lengths, lib.stack(labels)
    return collate


def _trim_collate(lib):
    """A collate_fn for TensorDataset (x padded to the longest overall, length, label) samples: stack, then
    cut the padding no sequence of the batch needs."""
    def collate(samples):
        x, lengths, labels = (lib.stack(list(s)) for s in zip(*samples))
        return x[:, :int(lengths.max())], lengths, labels
    return collate


class _Classifier:
    """An LSTM over packed sequences and a linear head on the last hidden state, in either library."""

    def __init__(self, lib_nn, lstm=None, head=None):
        self.nn = lib_nn
        self.lstm = lstm or lib_nn.LSTM(3, 5, num_layers=2, batch_first=True)
        self.head = head or lib_nn.Linear(5, 3)

    def parameters(self):
        return list(self.lstm.parameters()) + list(self.head.parameters())

    def __call__(self, x, lengths):
        packed = self.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h, c) = self.lstm(packed)
        padded, out_lengths = self.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
        return self.head(h[-1]), padded, out_lengths


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("dataset", ["list of variable-length sequences", "tensor dataset of padded sequences"])
def test_lstm_training_loop_with_padding_collate_matches_torch(dataset, dtype):
    x, lengths, labels = _sequence_data()
    x = x.astype(dtype)
    if dataset == "list of variable-length sequences":
        ours_data = [(tb.tensor(x[i, :n]), tb.tensor(labels[i])) for i, n in enumerate(LENGTHS)]
        theirs_data = [(torch.tensor(x[i, :n]), torch.tensor(labels[i])) for i, n in enumerate(LENGTHS)]
        ours_collate, theirs_collate = _pad_collate(tb, nn.utils.rnn), _pad_collate(torch, torch.nn.utils.rnn)
    else:
        ours_data = UD.TensorDataset(tb.tensor(x), tb.tensor(lengths), tb.tensor(labels))
        theirs_data = TUD.TensorDataset(torch.tensor(x), torch.tensor(lengths), torch.tensor(labels))
        ours_collate, theirs_collate = _trim_collate(tb), _trim_collate(torch)
    ours_loader = UD.DataLoader(ours_data, batch_size=3, sampler=UD.SequentialSampler(ours_data),
                                collate_fn=ours_collate)
    theirs_loader = TUD.DataLoader(theirs_data, batch_size=3, sampler=TUD.SequentialSampler(theirs_data),
                                   collate_fn=theirs_collate)
    assert len(ours_loader) == len(theirs_loader) == 3

    ours = _Classifier(nn)
    ours.lstm.to(dtype), ours.head.to(dtype)
    theirs = _Classifier(torch.nn, torch.nn.LSTM(3, 5, num_layers=2, batch_first=True),
                         torch.nn.Linear(5, 3))
    theirs.lstm.to(getattr(torch, np.dtype(dtype).name)), theirs.head.to(getattr(torch, np.dtype(dtype).name))
    theirs.lstm.load_state_dict(to_torch(ours.lstm))
    theirs.head.load_state_dict(to_torch(ours.head))
    ours_opt = tb.optim.SGD(ours.parameters(), lr=0.5, momentum=0.9)
    theirs_opt = torch.optim.SGD(theirs.parameters(), lr=0.5, momentum=0.9)
    for epoch in range(2):
        for (xa, la, ya), (xt, lt, yt) in zip(ours_loader, theirs_loader, strict=True):
            assert structure(xa) == structure(xt) and structure(la) == structure(lt) and structure(ya) == structure(yt)
            for model, opt in ((ours, ours_opt), (theirs, theirs_opt)):
                opt.zero_grad()
            logits_a, out_a, len_a = ours(xa, la)
            logits_t, out_t, len_t = theirs(xt, lt)
            assert_close(out_a, out_t, dtype, what="padded LSTM output")
            assert structure(len_a) == structure(len_t)
            loss_a = F.cross_entropy(logits_a, ya) + 0.1 * out_a.pow(2).mean()
            loss_t = TF.cross_entropy(logits_t, yt) + 0.1 * out_t.pow(2).mean()
            assert_close(loss_a, loss_t, dtype, what="loss")
            loss_a.backward()
            loss_t.backward()
            for (name, p), q in zip(list(ours.lstm.named_parameters()) + list(ours.head.named_parameters()),
                                    theirs.parameters()):
                assert_close(p.grad, q.grad, dtype, what=f"gradient of {name}")
            # clip the total gradient norm computed by hand through linalg.vector_norm of a stack, as clip_grad_norm_
            total_a = tb.linalg.vector_norm(tb.stack([tb.linalg.vector_norm(p.grad) for p in ours.parameters()]))
            total_t = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad)
                                                            for p in theirs.parameters()]))
            assert_close(total_a, total_t, dtype, what="total gradient norm")
            for params, total in ((ours.parameters(), total_a), (theirs.parameters(), total_t)):
                scale = (0.5 / (total + 1e-6)).clamp(max=1.0)
                for p in params:
                    p.grad.mul_(scale)
            ours_opt.step()
            theirs_opt.step()
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p, q, dtype, what="trained parameter")


# ====================================================================== distributions
class _Policy:
    """An LSTM whose outputs a linear layer turns into logits over 4 actions, with the same weights in both
    libraries (float64)."""

    def __init__(self):
        self.lstm, self.head = nn.LSTM(3, 6).double(), nn.Linear(6, 4).double()
        self.tlstm, self.thead = torch.nn.LSTM(3, 6).double(), torch.nn.Linear(6, 4).double()
        self.tlstm.load_state_dict(to_torch(self.lstm))
        self.thead.load_state_dict(to_torch(self.head))
        self.x = np.random.default_rng(11).standard_normal((5, 2, 3))  # (time, batch, features)

    def logits(self):
        """(ours, torch's) logits of shape (5, 2, 4)."""
        return self.head(self.lstm(tb.tensor(self.x))[0]), self.thead(self.tlstm(torch.tensor(self.x))[0])

    def check_gradients(self, what):
        ours = list(self.lstm.named_parameters()) + list(self.head.named_parameters())
        for (name, p), q in zip(ours, list(self.tlstm.parameters()) + list(self.thead.parameters())):
            assert_close(p.grad, q.grad, what=f"{what}: gradient of {name}")


@pytest.mark.parametrize("value_shape", [(5, 2), (2,), (), (1, 1), (3, 5, 2), (3, 1, 1), (3, 5, 1)])
@pytest.mark.parametrize("param", ["logits", "probs"])
def test_categorical_log_prob_of_int64_targets_broadcasts_as_torch(value_shape, param):
    policy = _Policy()
    ours_logits, theirs_logits = policy.logits()
    if param == "probs":
        ours_logits, theirs_logits = ours_logits.softmax(-1), theirs_logits.softmax(-1)
    targets = np.random.default_rng(2).integers(0, 4, value_shape)
    ours = D.Categorical(**{param: ours_logits}).log_prob(tb.tensor(targets))
    theirs = TD.Categorical(**{param: theirs_logits}).log_prob(torch.tensor(targets))
    assert_close(ours, theirs, what="log_prob")
    up = np.random.default_rng(3).uniform(0.5, 1.5, tuple(theirs.shape))
    ours.backward(tb.tensor(up))
    theirs.backward(torch.tensor(up))
    policy.check_gradients("log_prob")


def test_categorical_log_prob_of_unbroadcastable_targets_raises_as_torch():
    logits = np.random.default_rng(0).standard_normal((3, 4, 5))
    for validate in (True, False):
        raises_alike(lambda: D.Categorical(logits=tb.tensor(logits), validate_args=validate).log_prob(tb.zeros(3, 5).long()),
                     lambda: TD.Categorical(logits=torch.tensor(logits), validate_args=validate).log_prob(
                         torch.zeros(3, 5).long()))
    raises_alike(lambda: D.Categorical(logits=tb.tensor(logits)).log_prob(tb.tensor(5)),
                 lambda: TD.Categorical(logits=torch.tensor(logits)).log_prob(torch.tensor(5)), match="support")


def test_categorical_entropy_and_reinforce_gradients_match_torch():
    policy = _Policy()
    ours_logits, theirs_logits = policy.logits()
    ours, theirs = D.Categorical(logits=ours_logits), TD.Categorical(logits=theirs_logits)
    actions = ours.sample()
    assert actions.dtype == np.int64 and actions.shape == (5, 2) and not actions.requires_grad
    rewards = np.random.default_rng(4).standard_normal((5, 2))
    returns = np.cumsum(rewards[::-1], 0)[::-1].copy()  # reward-to-go
    losses = []
    for dist, lib in ((ours, tb), (theirs, torch)):
        advantage = lib.tensor(returns) - lib.tensor(returns).mean()
        log_prob = dist.log_prob(lib.tensor(actions.numpy()))
        losses.append(-(log_prob * advantage.detach()).sum(0).mean() - 0.01 * dist.entropy().mean())
    assert_close(*losses, what="REINFORCE loss")
    for loss in losses:
        loss.backward()
    policy.check_gradients("REINFORCE")

    policy = _Policy()  # the entropy alone, with a logit of -inf (a forbidden action) in it
    ours_logits, theirs_logits = policy.logits()
    mask = np.zeros((5, 2, 4), bool)
    mask[:, :, 0] = True
    ours = D.Categorical(logits=ours_logits.masked_fill(tb.tensor(mask), -np.inf)).entropy()
    theirs = TD.Categorical(logits=theirs_logits.masked_fill(torch.tensor(mask), -np.inf)).entropy()
    assert_close(ours, theirs, what="entropy")
    ours.sum().backward()
    theirs.sum().backward()
    policy.check_gradients("entropy")


def test_categorical_sampling_repeats_under_manual_seed():
    policy = _Policy()
    dist = D.Categorical(logits=policy.logits()[0])
    tb.manual_seed(123)
    first = [dist.sample().numpy(), dist.sample((7,)).numpy()]
    tb.manual_seed(123)
    second = [dist.sample().numpy(), dist.sample((7,)).numpy()]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert first[1].shape == (7, 5, 2) and first[1].dtype == np.int64 and first[1].min() >= 0 and first[1].max() < 4
    tb.manual_seed(124)  # another seed, other draws
    assert not np.array_equal(dist.sample((7,)).numpy(), first[1])
    onehot = D.OneHotCategorical(logits=policy.logits()[0])
    tb.manual_seed(9)
    a = onehot.sample((3,))
    tb.manual_seed(9)
    np.testing.assert_array_equal(a.numpy(), onehot.sample((3,)).numpy())
    assert a.shape == (3, 5, 2, 4) and a.dtype == np.float64 and (a.numpy().sum(-1) == 1).all()


@pytest.mark.parametrize("make", [lambda lib, d, p: d.Normal(p, 0.5), lambda lib, d, p: d.Uniform(p, p + 1),
                                  lambda lib, d, p: d.Bernoulli(logits=p),
                                  lambda lib, d, p: d.Independent(d.Normal(p, 1.0), 1)])
def test_sampling_repeats_under_manual_seed_with_torchs_shapes_and_dtypes(make):
    p = np.random.default_rng(9).standard_normal((2, 3)).astype(np.float32)
    ours, theirs = make(tb, D, tb.tensor(p, requires_grad=True)), make(torch, TD, torch.tensor(p, requires_grad=True))
    for shape in ((), (4,), (2, 1)):
        tb.manual_seed(31)
        a = ours.sample(shape)
        tb.manual_seed(31)
        b = ours.sample(shape)
        t = theirs.sample(shape)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.shape == tuple(t.shape) and str(a.dtype) == str(t.dtype).replace("torch.", "")
        assert not a.requires_grad and not t.requires_grad
        if theirs.has_rsample:
            r, rt = ours.rsample(shape), theirs.rsample(shape)
            assert r.requires_grad == rt.requires_grad and r.shape == tuple(rt.shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_with_a_python_float_scale_matches_torch(dtype):
    loc = np.array([[0.3, -1.2, 2.0]], dtype)
    value = np.array([[0.1], [-0.4]], dtype)
    ours_loc, theirs_loc = tb.tensor(loc, requires_grad=True), torch.tensor(loc, requires_grad=True)
    ours, theirs = D.Normal(ours_loc, 0.7), TD.Normal(theirs_loc, 0.7)
    assert_close(ours.scale, theirs.scale, dtype, what="scale")
    assert ours.batch_shape == tuple(theirs.batch_shape) == (1, 3)
    for name in ("mean", "stddev", "variance"):
        assert_close(getattr(ours, name), getattr(theirs, name), dtype, what=name)
    lp_a, lp_t = ours.log_prob(tb.tensor(value)), theirs.log_prob(torch.tensor(value))
    assert_close(lp_a, lp_t, dtype, what="log_prob")
    (lp_a.sum() + ours.entropy().sum()).backward()
    (lp_t.sum() + theirs.entropy().sum()).backward()
    assert_close(ours_loc.grad, theirs_loc.grad, dtype, what="loc gradient")
    assert_close(ours.cdf(tb.tensor(value)), theirs.cdf(torch.tensor(value)), dtype, what="cdf")
    scalar_a, scalar_t = D.Normal(0.0, 2.0), TD.Normal(0.0, 2.0)
    assert scalar_a.batch_shape == () and scalar_a.loc.dtype == np.float32
    assert_close(scalar_a.log_prob(tb.tensor(value)), scalar_t.log_prob(torch.tensor(value)), dtype)
    assert_close(scalar_a.log_prob(tb.tensor(0.5)), scalar_t.log_prob(torch.tensor(0.5)), np.float32)


@pytest.mark.parametrize("params,value", [(np.float64, np.float32), (np.float32, np.float64)])
def test_normal_log_prob_promotes_mixed_dtypes_as_torch(params, value):
    rng = np.random.default_rng(5)
    loc, scale, x = rng.standard_normal(4).astype(params), rng.uniform(0.5, 2, 4).astype(params), \
        rng.standard_normal((3, 4)).astype(value)
    ours_in = [tb.tensor(a, requires_grad=True) for a in (loc, scale, x)]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in (loc, scale, x)]
    ours, theirs = D.Normal(*ours_in[:2]).log_prob(ours_in[2]), TD.Normal(*theirs_in[:2]).log_prob(theirs_in[2])
    assert_close(ours, theirs, np.float32, what="log_prob")
    ours.sum().backward()
    theirs.sum().backward()
    for a, t in zip(ours_in, theirs_in):
        assert_close(a.grad, t.grad, np.float32, what="gradient")
    assert_close(D.Normal(*ours_in[:2]).cdf(ours_in[2]), TD.Normal(*theirs_in[:2]).cdf(theirs_in[2]), np.float32)
    assert_close(D.Uniform(ours_in[0], ours_in[0] + 3, validate_args=False).log_prob(ours_in[2]),
                 TD.Uniform(theirs_in[0], theirs_in[0] + 3, validate_args=False).log_prob(theirs_in[2]), np.float32)


def test_normal_unbroadcastable_parameters_raise_as_torch():
    raises_alike(lambda: D.Normal(tb.zeros(2), tb.ones(3)), lambda: TD.Normal(torch.zeros(2), torch.ones(3)))
    raises_alike(lambda: D.Uniform(tb.zeros(2), tb.ones(3)), lambda: TD.Uniform(torch.zeros(2), torch.ones(3)))
    raises_alike(lambda: D.Normal(tb.zeros(2), -1.0), lambda: TD.Normal(torch.zeros(2), -1.0), match="scale")


def _kl_pairs(lib, dist, p_params, q_params):
    """(p, q) pairs of expanded distributions, built from the given leaves."""
    loc, scale, logits, other_logits, low = p_params
    qloc, qscale = q_params
    return {
        "Normal expanded vs Normal": (dist.Normal(loc, scale).expand((3, 2)), dist.Normal(qloc, qscale)),
        "Normal vs expanded Normal": (dist.Normal(qloc, qscale), dist.Normal(loc, scale).expand((3, 2))),
        "Categorical expanded vs Categorical": (dist.Categorical(logits=logits).expand((2, 3)),
                                                dist.Categorical(logits=other_logits)),
        "Independent expanded": (dist.Independent(dist.Normal(loc, scale), 1).expand((3,)),
                                 dist.Independent(dist.Normal(qloc, qscale), 1)),
        "Bernoulli expanded": (dist.Bernoulli(logits=loc).expand((3, 2)), dist.Bernoulli(logits=qloc)),
        "OneHotCategorical expanded": (dist.OneHotCategorical(logits=logits).expand((2, 3)),
                                       dist.OneHotCategorical(logits=other_logits)),
        "Uniform expanded": (dist.Uniform(low, low + 1).expand((3, 2)), dist.Uniform(low - 1, low + scale + 1)),
        "Uniform vs Normal": (dist.Uniform(low, low + 1).expand((3, 2)), dist.Normal(qloc, qscale)),
        "Normal vs Uniform": (dist.Normal(loc, scale).expand((3, 2)), dist.Uniform(low - 1, low + 1)),
    }


@pytest.mark.parametrize("pair", ["Normal expanded vs Normal", "Normal vs expanded Normal",
                                  "Categorical expanded vs Categorical", "Independent expanded", "Bernoulli expanded",
                                  "OneHotCategorical expanded", "Uniform expanded", "Uniform vs Normal",
                                  "Normal vs Uniform"])
def test_kl_divergence_between_expanded_distributions_matches_torch(pair):
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(2), rng.uniform(0.5, 1.5, 2), rng.standard_normal(4), rng.standard_normal((2, 3, 4)),
              rng.standard_normal(2)]
    q_arrays = [rng.standard_normal((3, 2)), rng.uniform(0.5, 1.5, (3, 1))]
    ours_in = [tb.tensor(a, requires_grad=True) for a in arrays + q_arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays + q_arrays]
    ours = D.kl_divergence(*_kl_pairs(tb, D, ours_in[:5], ours_in[5:])[pair])
    theirs = TD.kl_divergence(*_kl_pairs(torch, TD, theirs_in[:5], theirs_in[5:])[pair])
    assert_close(ours, theirs, what="kl")
    if theirs.requires_grad:
        ours.sum().backward()
        theirs.sum().backward()
        for i, (a, t) in enumerate(zip(ours_in, theirs_in)):
            if t.grad is None:
                assert a.grad is None or not a.grad.numpy().any(), f"argument {i}: torch has no gradient"
            else:
                assert_close(a.grad, t.grad, what=f"gradient of argument {i}")
    else:
        assert not ours.requires_grad


# ====================================================================== linalg
LTOL = {np.float64: dict(rtol=1e-9, atol=1e-10), np.float32: dict(rtol=2e-4, atol=2e-5)}


def linalg_check(ours, theirs, arrays, dtype):
    """ours(*tinybptt leaves) vs theirs(*torch leaves): every output (a tensor or a tuple of them) and the
    gradients of the inputs after backward of a fixed random weighting of all floating outputs."""
    arrays = [np.asarray(a, dtype) for a in arrays]
    ours_in = [tb.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    ya, yt = ours(*ours_in), theirs(*theirs_in)
    ya, yt = (ya, yt) if isinstance(yt, tuple) else ((ya,), (yt,))
    assert len(ya) == len(yt)
    loss_a, loss_t, rng = 0, 0, np.random.default_rng(8)
    for i, (a, t) in enumerate(zip(ya, yt)):
        assert_close(a, t, what=f"output {i}", **LTOL[dtype])
        if t.requires_grad and t.dtype.is_floating_point:
            w = rng.uniform(0.5, 1.5, tuple(t.shape)).astype(dtype)
            loss_a, loss_t = loss_a + (a * tb.tensor(w)).sum(), loss_t + (t * torch.tensor(w)).sum()
    if isinstance(loss_t, torch.Tensor):
        loss_a.backward()
        loss_t.backward()
        for i, (a, t) in enumerate(zip(ours_in, theirs_in)):
            if t.grad is None:
                assert a.grad is None or not a.grad.numpy().any(), f"input {i}: torch gives no gradient"
            else:
                assert_close(a.grad, t.grad, what=f"gradient of input {i}", **LTOL[dtype])


def _mat(*shape, seed=0, spd=False):
    a = np.random.default_rng(seed).standard_normal(shape)
    if spd:
        a = a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    return a


# functions of (lib, A) whose outputs do not depend on a sign/ordering convention of the decomposition
FLOAT32_CASES = {
    "det": lambda m, a: m.linalg.det(a),
    "slogdet": lambda m, a: tuple(m.linalg.slogdet(a)),
    "inv": lambda m, a: m.linalg.inv(a),
    "inv_ex": lambda m, a: tuple(m.linalg.inv_ex(a)),
    "cholesky": lambda m, a: m.linalg.cholesky(a @ a.mT + 3 * m.eye(3)),
    "cholesky upper": lambda m, a: m.linalg.cholesky(a @ a.mT + 3 * m.eye(3), upper=True),
    "qr": lambda m, a: tuple(m.linalg.qr(a)),
    "eigvalsh": lambda m, a: m.linalg.eigvalsh(a + a.mT),
    "eigh reconstruction": lambda m, a: (lambda l, v: (l, (v * l.unsqueeze(-2)) @ v.mT))(*m.linalg.eigh(a + a.mT)),
    "svdvals": lambda m, a: m.linalg.svdvals(a),
    "svd reconstruction": lambda m, a: (lambda u, s, vh: (s, (u * s.unsqueeze(-2)) @ vh))(
        *m.linalg.svd(a, full_matrices=False)),
    "pinv": lambda m, a: m.linalg.pinv(a[..., :2, :]),
    "matrix_power 3": lambda m, a: m.linalg.matrix_power(a, 3),
    "matrix_power -2": lambda m, a: m.linalg.matrix_power(a, -2),
    "matrix_exp": lambda m, a: m.linalg.matrix_exp(a),
    "matrix_norm nuc": lambda m, a: m.linalg.matrix_norm(a, "nuc"),
    "matrix_norm 2": lambda m, a: m.linalg.matrix_norm(a, 2),
    "matrix_norm -inf keepdim": lambda m, a: m.linalg.matrix_norm(a, -np.inf, keepdim=True),
    "norm": lambda m, a: m.linalg.norm(a, dim=(0, 2)),
    "multi_dot": lambda m, a: m.linalg.multi_dot([a[0, 0], a[1], a[0], a[1, :, 1]]),
    "vecdot": lambda m, a: m.linalg.vecdot(a, a[0, 1]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(FLOAT32_CASES))
def test_linalg_on_float32_and_float64_inputs_matches_torch(name, dtype):
    fn = FLOAT32_CASES[name]
    linalg_check(lambda a: fn(tb, a), lambda a: fn(torch, a), [_mat(2, 3, 3, seed=1)], dtype)


SOLVE_SHAPES = [((2, 1, 3, 3), (4, 3, 2)), ((3, 3), (5, 3, 1)), ((2, 3, 3), (3,)), ((2, 3, 3), (2, 3)),
                ((4, 1, 3, 3), (2, 3)), ((1, 3, 3), (2, 3, 4)), ((2, 3, 3), (1, 3, 2)), ((3, 3), (3, 3))]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("a_shape,b_shape", SOLVE_SHAPES)
def test_solve_broadcasts_batches_as_torch(a_shape, b_shape, left, dtype):
    if not left and b_shape[-1] != 3 and len(b_shape) > 1 and b_shape != (2, 3):
        b_shape = b_shape[:-2] + (b_shape[-1], 3)
    A = _mat(*a_shape, seed=2) + 3 * np.eye(3)
    B = _mat(*b_shape, seed=3)
    try:
        torch.linalg.solve(torch.tensor(A), torch.tensor(B), left=left)
    except RuntimeError:
        raises_alike(lambda: tb.linalg.solve(tb.tensor(A), tb.tensor(B), left=left),
                     lambda: torch.linalg.solve(torch.tensor(A), torch.tensor(B), left=left), match="solve")
        return
    linalg_check(lambda a, b: tb.linalg.solve(a, b, left=left), lambda a, b: torch.linalg.solve(a, b, left=left),
                 [A, B], dtype)


def test_solve_and_vecdot_dtype_errors_match_torch():
    a32, a64 = np.eye(3, dtype=np.float32), np.eye(3)
    raises_alike(lambda: tb.linalg.solve(tb.tensor(a64), tb.tensor(a32[0])),
                 lambda: torch.linalg.solve(torch.tensor(a64), torch.tensor(a32[0])), match="solve")
    raises_alike(lambda: tb.linalg.vecdot(tb.ones(3, dtype=tb.int64), tb.ones(3, dtype=tb.int64)),
                 lambda: torch.linalg.vecdot(torch.ones(3, dtype=torch.int64), torch.ones(3, dtype=torch.int64)),
                 match="vecdot")
    raises_alike(lambda: tb.linalg.vecdot(tb.ones(3), tb.ones(3, dtype=tb.float64)),
                 lambda: torch.linalg.vecdot(torch.ones(3), torch.ones(3, dtype=torch.float64)), match="vecdot")
    raises_alike(lambda: tb.linalg.vecdot(tb.ones(3), tb.ones(4)), lambda: torch.linalg.vecdot(torch.ones(3), torch.ones(4)))


NORMS_OF_ZERO = {
    "vector_norm": lambda m, d: m.linalg.vector_norm(d),
    "vector_norm 1": lambda m, d: m.linalg.vector_norm(d, 1),
    "vector_norm 3": lambda m, d: m.linalg.vector_norm(d, 3),
    "vector_norm 0.5": lambda m, d: m.linalg.vector_norm(d, 0.5),
    "vector_norm inf": lambda m, d: m.linalg.vector_norm(d, np.inf),
    "vector_norm dim": lambda m, d: m.linalg.vector_norm(d, dim=1, keepdim=True),
    "linalg.norm": lambda m, d: m.linalg.norm(d),
    "linalg.norm fro": lambda m, d: m.linalg.norm(d, "fro"),
    "matrix_norm": lambda m, d: m.linalg.matrix_norm(d),
    "torch.norm": lambda m, d: m.norm(d),
    "torch.norm dim": lambda m, d: m.norm(d, dim=0),
    "Tensor.norm 1": lambda m, d: d.norm(1),
    "Tensor.norm 0": lambda m, d: d.norm(0),
    "Tensor.norm -1 dim": lambda m, d: d.norm(-1, dim=1),
    "torch.norm -inf": lambda m, d: m.norm(d, -np.inf),
    "Tensor.norm -0.5 of a partly zero difference": lambda m, d: (d + m.eye(3, 4, dtype=d.dtype)).norm(-0.5, dim=0),
    "Tensor.norm fro dims": lambda m, d: d.norm("fro", dim=(0, 1)),
    "dist": lambda m, d: m.dist(d, m.zeros_like(d)),
    "squared norm": lambda m, d: m.linalg.vector_norm(d).pow(2),
}


@pytest.mark.parametrize("name", list(NORMS_OF_ZERO))
def test_norm_of_a_difference_of_equal_tensors_has_torchs_gradient(name):
    fn = NORMS_OF_ZERO[name]
    x = _mat(3, 4, seed=4)
    linalg_check(lambda a, b: fn(tb, a - b), lambda a, b: fn(torch, a - b), [x, x.copy()], np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ord", [2, 1, 3, np.inf, -np.inf, 0, -1, 0.5])
@pytest.mark.parametrize("dim,keepdim", [((0, 2), True), ((0, 2), False), ((-1, 0), False), ([1, 2], True),
                                         ((2,), True), (None, True), ((0, 1, 2), False)])
def test_vector_norm_over_dim_tuples_matches_torch(dim, keepdim, ord, dtype):
    linalg_check(lambda a: tb.linalg.vector_norm(a, ord, dim, keepdim),
                 lambda a: torch.linalg.vector_norm(a, ord, dim, keepdim), [_mat(2, 3, 4, seed=5)], dtype)


def test_vector_norm_bad_dims_and_dtype_raise_as_torch():
    a, t = tb.ones(2, 3), torch.ones(2, 3)
    raises_alike(lambda: tb.linalg.vector_norm(a, dim=(0, 0)), lambda: torch.linalg.vector_norm(t, dim=(0, 0)))
    raises_alike(lambda: tb.linalg.vector_norm(a, dim=2), lambda: torch.linalg.vector_norm(t, dim=2), match="vector_norm")
    raises_alike(lambda: tb.linalg.vector_norm(a, dtype=tb.int64), lambda: torch.linalg.vector_norm(t, dtype=torch.int64))
    raises_alike(lambda: tb.linalg.vector_norm(tb.ones(2, dtype=tb.float64), dtype=tb.float32),
                 lambda: torch.linalg.vector_norm(torch.ones(2, dtype=torch.float64), dtype=torch.float32))
    raises_alike(lambda: tb.linalg.vector_norm(tb.arange(3)), lambda: torch.linalg.vector_norm(torch.arange(3)))
    ours = tb.linalg.vector_norm(tb.ones(2, 3), dtype=tb.float64)
    assert ours.dtype == np.float64 and ours.item() == torch.linalg.vector_norm(t, dtype=torch.float64).item()


@pytest.mark.parametrize("norm_type", [2.0, 1.0, np.inf, 3.0])
def test_total_gradient_norm_through_vector_norm_of_a_stack_matches_torch_and_clip_grad_norm(norm_type):
    shapes = [(4, 3), (4,), (2, 2, 2)]
    arrays = [_mat(*s, seed=10 + i) for i, s in enumerate(shapes)]

    def total(lib):
        return lambda *ps: lib.linalg.vector_norm(lib.stack([lib.linalg.vector_norm(p, norm_type) for p in ps]),
                                                  norm_type)
    linalg_check(total(tb), total(torch), arrays, np.float64)
    linalg_check(total(tb), total(torch), arrays, np.float32)
    # the same number as clip_grad_norm_ reports, and the same clipped gradients
    params = [tb.zeros(s, requires_grad=True) for s in shapes]
    tparams = [torch.zeros(s, requires_grad=True) for s in shapes]
    for p, q, a in zip(params, tparams, arrays):
        p.grad, q.grad = tb.tensor(a.astype(np.float32)), torch.tensor(a.astype(np.float32))
    by_hand = total(tb)(*[p.grad for p in params])
    ours = nn.utils.clip_grad_norm_(params, 1.0, norm_type)
    theirs = torch.nn.utils.clip_grad_norm_(tparams, 1.0, norm_type)
    assert_close(ours, theirs, np.float32)
    assert_close(by_hand, theirs, np.float32)
    for p, q in zip(params, tparams):
        assert_close(p.grad, q.grad, np.float32)


TENSOR_FORMS = {
    "tb.det": lambda m, a: m.det(a),
    "x.det": lambda m, a: a.det(),
    "x.inverse": lambda m, a: a.inverse(),
    "tb.inverse": lambda m, a: m.inverse(a),
    "tb.svd": lambda m, a: (lambda u, s, v: (s, (u * s.unsqueeze(-2)) @ v.mT))(*m.svd(a)),
    "x.svd some=False": lambda m, a: (lambda u, s, v: (s, (u[..., :3] * s.unsqueeze(-2)) @ v.mT))(*a.svd(some=False)),
    "tb.svd compute_uv=False": lambda m, a: m.svd(a, compute_uv=False)[1],
    "x.norm nuc": lambda m, a: a[0].norm(p="nuc"),
    "x.norm nuc dim": lambda m, a: a.norm(p="nuc", dim=(0, 2)),
    "x.norm fro dim": lambda m, a: a.norm(p="fro", dim=(1, 2)),
    "tb.norm nuc keepdim": lambda m, a: m.norm(a, p="nuc", dim=(1, 2), keepdim=True),
    "x.norm inf dim": lambda m, a: a.norm(p=np.inf, dim=1),
    "tb.norm p=None": lambda m, a: m.norm(a, p=None, dim=(0, 2)),
    "x.norm 3 over a dim pair": lambda m, a: a.norm(3, dim=(0, 1), keepdim=True),
    "x.slogdet": lambda m, a: tuple(a.slogdet()),
    "tb.logdet": lambda m, a: m.logdet(a @ a.mT),
    "x.logdet": lambda m, a: a.logdet(),
    "x.pinverse": lambda m, a: a[..., :2].pinverse(),
    "x.matrix_power": lambda m, a: a.matrix_power(2),
    "tb.matrix_exp": lambda m, a: m.matrix_exp(a),
    "x.matrix_exp": lambda m, a: a.matrix_exp(),
    "x.cholesky": lambda m, a: (a @ a.mT + m.eye(3)).cholesky(),
    "tb.qr": lambda m, a: tuple(m.qr(a)),
    "x.qr some=False": lambda m, a: tuple(a[..., :2, :].qr(some=False)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(TENSOR_FORMS))
def test_torch_and_tensor_forms_match_torch(name, dtype):
    fn = TENSOR_FORMS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation warnings for torch.svd / torch.cholesky
        linalg_check(lambda a: fn(tb, a), lambda a: fn(torch, a), [_mat(2, 3, 3, seed=6)], dtype)


def test_torch_norm_bad_orders_and_dims_raise_as_torch():
    a, t = tb.ones(2, 3, 3), torch.ones(2, 3, 3)
    raises_alike(lambda: a.norm("nuc", dim=0), lambda: t.norm("nuc", dim=0), match="matrix_norm")
    raises_alike(lambda: a.norm("nuc"), lambda: t.norm("nuc"), match="matrix_norm")
    raises_alike(lambda: a.norm("fro", dim=(0, 1, 2)), lambda: t.norm("fro", dim=(0, 1, 2)), match="matrix_norm")
    raises_alike(lambda: a.norm("abc"), lambda: t.norm("abc"), match="abc")
    raises_alike(lambda: tb.norm(tb.arange(3)), lambda: torch.norm(torch.arange(3)), match="norm")


def test_matrix_rank_tol_overload_matches_torch():
    a = np.ones((3, 3))
    a[0, 0] = 1.05
    for args, kwargs in (((0.1,), {}), ((), dict(tol=0.01)), ((), dict(atol=0.01)), ((), dict(rtol=0.1)),
                         ((0.01, True), {}), ((), dict(tol=0.01, hermitian=True))):
        assert_close(tb.linalg.matrix_rank(tb.tensor(a), *args, **kwargs),
                     torch.linalg.matrix_rank(torch.tensor(a), *args, **kwargs))
    raises_alike(lambda: tb.linalg.matrix_rank(tb.tensor(a), tol=0.1, atol=0.1),
                 lambda: torch.linalg.matrix_rank(torch.tensor(a), tol=0.1, atol=0.1))


# ====================================================================== utils.checkpoint
def _run_both(body):
    """body(lib, checkpoint module) in both libraries, torch's warnings silenced; (ours, theirs)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return body(tb, C), body(torch, TC)


X = np.random.default_rng(12).standard_normal((2, 3))


def _tuple_fn(x, w, scale=2.0):
    y = (x * w).tanh()
    return y * scale, "tag", 3, y.sum(), None


@pytest.mark.parametrize("reentrant", [True, False])
def test_checkpoint_of_a_function_returning_non_tensors_matches_torch(reentrant):
    def body(lib, ckpt):
        x, w = lib.tensor(X, requires_grad=True), lib.tensor(X[0], requires_grad=True)
        out = ckpt.checkpoint(_tuple_fn, x, w, use_reentrant=reentrant)
        assert out[1:3] == ("tag", 3) and out[4] is None and out[0].requires_grad and out[3].requires_grad
        (out[0].pow(2).sum() + out[3]).backward()
        return out[0], out[3], x.grad, w.grad
    for a, t in zip(*_run_both(body)):
        assert_close(a, t)


def test_checkpoint_keyword_arguments_match_torch():
    def body(lib, ckpt):
        x, w = lib.tensor(X, requires_grad=True), lib.tensor(X[0], requires_grad=True)
        out = ckpt.checkpoint(_tuple_fn, x, w, use_reentrant=False, scale=lib.tensor(3.0))
        out[0].sum().backward()
        return out[0], x.grad, w.grad
    for a, t in zip(*_run_both(body)):
        assert_close(a, t)
    raises_alike(lambda: C.checkpoint(_tuple_fn, tb.tensor(X), tb.tensor(X[0]), use_reentrant=True, scale=3.0),
                 lambda: TC.checkpoint(_tuple_fn, torch.tensor(X), torch.tensor(X[0]), use_reentrant=True, scale=3.0),
                 match="keyword")


@pytest.mark.parametrize("reentrant", [True, False])
def test_checkpoint_inside_no_grad_and_without_grad_inputs_matches_torch(reentrant):
    def body(lib, ckpt):
        x, w = lib.tensor(X, requires_grad=True), lib.tensor(X[0], requires_grad=True)
        with lib.no_grad():
            inside = ckpt.checkpoint(_tuple_fn, x, w, use_reentrant=reentrant)
        plain = ckpt.checkpoint(_tuple_fn, lib.tensor(X), lib.tensor(X[0]), use_reentrant=reentrant)
        return [(t.requires_grad, numpy_of(t)) for t in (inside[0], inside[3], plain[0], plain[3])]
    for (ga, a), (gt, t) in zip(*_run_both(body)):
        assert ga == gt
        np.testing.assert_allclose(a, t, rtol=1e-12)


@pytest.mark.parametrize("reentrant", [True, False])
def test_checkpoint_with_some_inputs_not_requiring_grad_and_a_module_matches_torch(reentrant):
    def body(lib, ckpt):
        lin = (nn if lib is tb else torch.nn).Linear(3, 3).double()
        with lib.no_grad():
            lin.weight.copy_(lib.tensor(X.T @ X / 3))
            lin.bias.copy_(lib.tensor(X[1]))
        x, w = lib.tensor(X), lib.tensor(X[0], requires_grad=True)
        out = ckpt.checkpoint(lambda a, b: lin(a * b).sin(), x, w, use_reentrant=reentrant)
        out.pow(2).sum().backward()
        return out, x.grad, w.grad, lin.weight.grad, lin.bias.grad
    for a, t in zip(*_run_both(body)):
        assert (a is None) == (t is None)
        if t is not None:
            assert_close(a, t)


@pytest.mark.parametrize("outer,inner", [(True, True), (False, False), (True, False), (False, True)])
def test_nested_checkpoints_match_torch(outer, inner):
    def body(lib, ckpt):
        x, w = lib.tensor(X, requires_grad=True), lib.tensor(X[0], requires_grad=True)

        def block(a, b):
            h = ckpt.checkpoint(lambda p, q: (p * q).sin(), a, b, use_reentrant=inner)
            return ckpt.checkpoint(lambda p, q: (p + q).exp(), h, b, use_reentrant=inner) * 2

        out = ckpt.checkpoint(block, x, w, use_reentrant=outer)
        out.sum().backward()
        return out, x.grad, w.grad
    for a, t in zip(*_run_both(body)):
        assert_close(a, t)


def test_checkpoint_of_an_lstm_step_returning_its_state_matches_torch():
    """The usual truncated-BPTT use: checkpoint each chunk of an LSTM, passing (h, c) flat and getting them back."""
    x = np.random.default_rng(13).standard_normal((6, 2, 3))

    def body(lib, ckpt):
        lstm = (nn if lib is tb else torch.nn).LSTM(3, 4).double()
        if lib is tb:
            body.state = to_torch(lstm)
        else:
            lstm.load_state_dict(body.state)
        h = c = lib.zeros(1, 2, 4, dtype=lib.float64)
        outs = []
        for chunk in lib.tensor(x).split(2):
            def step(inp, h0, c0):
                y, (h1, c1) = lstm(inp, (h0, c0))
                return y, h1, c1, "chunk"
            y, h, c, tag = ckpt.checkpoint(step, chunk, h, c, use_reentrant=False)
            outs.append(y)
        loss = lib.cat(outs).pow(2).mean() + h.sum()
        loss.backward()
        return [loss] + [p.grad for p in lstm.parameters()]
    for a, t in zip(*_run_both(body)):
        assert_close(a, t)


def test_reentrant_checkpoint_refuses_autograd_grad_as_torch():
    def grad_through(lib, ckpt, with_inputs):
        x = lib.tensor(X, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = ckpt.checkpoint(lambda a: a.exp(), x, use_reentrant=True)
        if with_inputs:
            return out.sum().backward(inputs=[x])
        return lib.autograd.grad(out.sum(), x)
    for with_inputs in (False, True):
        raises_alike(lambda: grad_through(tb, C, with_inputs), lambda: grad_through(torch, TC, with_inputs),
                     match="use_reentrant")
    x = tb.tensor(X, requires_grad=True)
    (g,) = tb.autograd.grad(C.checkpoint(lambda a: a.exp(), x, use_reentrant=False).sum(), x)
    assert_close(g, torch.tensor(X).exp())
