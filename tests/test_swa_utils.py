"""tinybptt.optim.swa_utils against torch.optim.swa_utils: averaged weights, SWALR, update_bn, errors."""
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn, optim
from tinybptt.optim import lr_scheduler, swa_utils

STEPS = 6


def make_net(lib, dtype, with_buffers=False):
    """An LSTM followed by a Linear head (with a float and an int64 buffer when asked), in either library."""
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = lib.nn.LSTM(3, 5, batch_first=True)
            self.head = lib.nn.Linear(5, 2)
            if with_buffers:
                self.register_buffer("scale", lib.ones(2, dtype=getattr(lib, dtype)))
                self.register_buffer("count", lib.zeros(2, dtype=lib.int64))

        def forward(self, x):
            out, _ = self.lstm(x)
            y = self.head(out[:, -1])
            return y * self.scale if with_buffers else y

    return Net().to(getattr(lib, dtype))


def twin_nets(dtype, with_buffers=False):
    tnet, onet = make_net(torch, dtype, with_buffers), make_net(tb, dtype, with_buffers)
    onet.load_state_dict({k: v.numpy() for k, v in tnet.state_dict().items()})
    return tnet, onet


def data(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((4, 6, 3)).astype(dtype), rng.standard_normal((4, 2)).astype(dtype))
            for _ in range(STEPS)]


def train_step(lib, net, opt, x, y, step):
    opt.zero_grad()
    lib.nn.functional.mse_loss(net(lib.tensor(x)), lib.tensor(y)).backward()
    opt.step()
    if hasattr(net, "scale"):  # buffers that change during training, as running statistics do
        with lib.no_grad():
            net.scale.mul_(1.5).add_(0.25 * step)
            net.count.add_(step + 1)


def train_both(nets, opts, x, y, step, dtype):
    """One step of each; float32 LSTM gradients differ in the last bits, so ours then takes torch's
    weights: the averaging is compared from identical inputs."""
    (tnet, onet), (topt, oopt) = nets, opts
    train_step(torch, tnet, topt, x, y, step)
    train_step(tb, onet, oopt, x, y, step)
    loose = dict(rtol=1e-11, atol=1e-12) if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)
    for k, v in tnet.state_dict().items():
        np.testing.assert_allclose(onet.state_dict()[k], v.numpy(), **loose, err_msg=k)
    onet.load_state_dict({k: v.numpy() for k, v in tnet.state_dict().items()})


def tol(dtype):
    """float32 averages are bit for bit torch's; float64 ones within its fused multiply-adds."""
    return dict(rtol=1e-12, atol=1e-13) if dtype == "float64" else dict(rtol=0, atol=0)


def assert_same_state(tmodel, omodel, dtype):
    tsd, osd = tmodel.state_dict(), omodel.state_dict()
    assert list(osd) == list(tsd)
    for k, v in tsd.items():
        assert osd[k].dtype == v.numpy().dtype, k
        np.testing.assert_allclose(osd[k], v.numpy(), **tol(dtype), err_msg=k)


AVERAGINGS = {
    "swa-default": lambda m: {},
    "swa-avg_fn": lambda m: dict(avg_fn=m.get_swa_avg_fn()),
    "swa-multi": lambda m: dict(multi_avg_fn=m.get_swa_multi_avg_fn()),
    "ema-avg_fn": lambda m: dict(avg_fn=m.get_ema_avg_fn(0.8)),
    "ema-multi": lambda m: dict(multi_avg_fn=m.get_ema_multi_avg_fn(0.8)),
    "ema-multi-default-decay": lambda m: dict(multi_avg_fn=m.get_ema_multi_avg_fn()),
    "custom-avg_fn": lambda m: dict(avg_fn=lambda a, c, n: 0.25 * a + 0.75 * c + n),
}


def train_and_average(kind, dtype, lr, with_buffers=False, **options):
    """SGD on the twin nets, each averaged (averaging ``kind``, AveragedModel ``options``) after every step; the
    averaged models must agree with torch's from the start and after each update.  Returns (tavg, oavg, onet)."""
    tnet, onet = twin_nets(dtype, with_buffers)
    tavg = torch.optim.swa_utils.AveragedModel(tnet, **options, **AVERAGINGS[kind](torch.optim.swa_utils))
    oavg = swa_utils.AveragedModel(onet, **options, **AVERAGINGS[kind](swa_utils))
    assert_same_state(tavg, oavg, dtype)
    topt, oopt = torch.optim.SGD(tnet.parameters(), lr=lr), optim.SGD(onet.parameters(), lr=lr)
    for step, (x, y) in enumerate(data(dtype)):
        train_both((tnet, onet), (topt, oopt), x, y, step, dtype)
        tavg.update_parameters(tnet)
        oavg.update_parameters(onet)
        assert_same_state(tavg, oavg, dtype)
        assert int(oavg.n_averaged) == step + 1 and oavg.n_averaged.dtype == np.int64
    return tavg, oavg, onet


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", list(AVERAGINGS))
def test_averaged_lstm_model_matches_torch_every_step(kind, dtype):
    """SGD on an LSTM + Linear in both libraries, the averaged copy updated after every step."""
    tavg, oavg, onet = train_and_average(kind, dtype, lr=0.2)
    # the copy is the averaged model, apart from the trained one, and the forward is the copy's
    assert not np.allclose(oavg.module.head.weight.detach().numpy(), onet.head.weight.detach().numpy())
    assert oavg.module is not onet and oavg.module.head.weight is not onet.head.weight
    x = data(dtype, seed=1)[0][0]
    np.testing.assert_allclose(oavg(tb.tensor(x)).detach().numpy(), tavg(torch.tensor(x)).detach().numpy(),
                               **(tol(dtype) if dtype == "float64" else dict(rtol=1e-5, atol=1e-6)))
    assert oavg.module.head.weight.requires_grad and oavg.module.head.weight.grad is None


def test_swa_default_is_the_plain_mean_of_the_snapshots():
    _, onet = twin_nets("float64")
    avg = swa_utils.AveragedModel(onet)
    snaps = []
    for k in range(4):
        with tb.no_grad():
            for p in onet.parameters():
                p.add_(0.1 * (k + 1))
        snaps.append([p.detach().numpy().copy() for p in onet.parameters()])
        avg.update_parameters(onet)
    for p, *values in zip(avg.parameters(), *snaps):
        np.testing.assert_allclose(p.detach().numpy(), np.mean(values, axis=0), rtol=1e-13, atol=1e-14)


def test_swa_multi_avg_fn_weight_is_float32_like_torch():
    """torch divides 1 by the int64 n_averaged tensor: the weight is a float32 number even for float64 tensors."""
    a, b = np.zeros(3), np.array([1.0, -2.0, 3.0])
    ta, oa = torch.tensor(a), tb.tensor(a)
    torch.optim.swa_utils.get_swa_multi_avg_fn()([ta], [torch.tensor(b)], torch.tensor(2))
    swa_utils.get_swa_multi_avg_fn()([oa], [tb.tensor(b)], tb.tensor(2))
    np.testing.assert_array_equal(oa.numpy(), ta.numpy())
    assert oa.numpy()[0] != 1 / 3  # float32(1/3), as torch
    ta, oa = torch.tensor(a), tb.tensor(a)  # a Python int count gives the exact weight
    torch.optim.swa_utils.get_swa_multi_avg_fn()([ta], [torch.tensor(b)], 2)
    swa_utils.get_swa_multi_avg_fn()([oa], [tb.tensor(b)], 2)
    np.testing.assert_array_equal(oa.numpy(), ta.numpy())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("use_buffers", [False, True])
@pytest.mark.parametrize("kind", ["swa-default", "ema-avg_fn", "ema-multi"])
def test_use_buffers_averages_or_copies_buffers_like_torch(kind, use_buffers, dtype):
    """Float and int64 buffers: averaged with use_buffers=True (ints truncated), copied otherwise."""
    _, oavg, onet = train_and_average(kind, dtype, lr=0.1, with_buffers=True, use_buffers=use_buffers)
    copied = oavg.module.scale.numpy() == onet.scale.numpy()
    assert copied.all() != use_buffers  # after STEPS > 1 updates


def test_swa_multi_avg_fn_refuses_integer_buffers_like_torch():
    tnet, onet = twin_nets("float64", with_buffers=True)
    for lib, net, m in ((torch, tnet, torch.optim.swa_utils), (tb, onet, swa_utils)):
        avg = m.AveragedModel(net, use_buffers=True, multi_avg_fn=m.get_swa_multi_avg_fn())
        avg.update_parameters(net)
        with pytest.raises(RuntimeError):
            avg.update_parameters(net)
    with pytest.raises(RuntimeError, match="swa_update: integer tensors"):
        swa_utils.get_swa_multi_avg_fn()([tb.zeros(2, dtype=tb.int64)], [tb.ones(2, dtype=tb.int64)], 1)


def test_averaged_model_state_dict_keys_and_interchange_with_torch():
    tnet, onet = twin_nets("float64")
    tavg, oavg = torch.optim.swa_utils.AveragedModel(tnet), swa_utils.AveragedModel(onet)
    assert list(oavg.state_dict()) == list(tavg.state_dict()) == \
        ["n_averaged"] + [f"module.{k}" for k in tnet.state_dict()]
    topt = torch.optim.SGD(tnet.parameters(), lr=0.2)
    for step, (x, y) in enumerate(data("float64")[:3]):
        train_step(torch, tnet, topt, x, y, step)
        tavg.update_parameters(tnet)
    oavg.load_state_dict(tavg.state_dict())  # torch's averaged state continues in ours
    assert int(oavg.n_averaged) == 3
    onet.load_state_dict({k: v.numpy() for k, v in tnet.state_dict().items()})
    oopt = optim.SGD(onet.parameters(), lr=0.2)
    for step, (x, y) in enumerate(data("float64")[3:]):
        train_both((tnet, onet), (topt, oopt), x, y, step, "float64")
        tavg.update_parameters(tnet)
        oavg.update_parameters(onet)
    assert_same_state(tavg, oavg, "float64")
    tavg2 = torch.optim.swa_utils.AveragedModel(make_net(torch, "float64"))
    tavg2.load_state_dict(oavg.state_dict())  # and ours loads into torch's
    assert_same_state(tavg2, oavg, "float64")
    assert repr(oavg).splitlines()[:2] == ["AveragedModel(", "  (module): Net("]


def test_averaging_functions_on_tensors_match_torch():
    rng = np.random.default_rng(5)
    for dtype in (np.float64, np.float32):
        a, b = rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)
        for n in (0, 1, 7):
            for name, args in (("get_ema_avg_fn", (0.37,)), ("get_swa_avg_fn", ()), ("get_ema_avg_fn", ())):
                t = getattr(torch.optim.swa_utils, name)(*args)(torch.tensor(a), torch.tensor(b), torch.tensor(n))
                o = getattr(swa_utils, name)(*args)(tb.tensor(a), tb.tensor(b), tb.tensor(n))
                assert o.dtype == dtype and not o.requires_grad
                np.testing.assert_array_equal(o.numpy(), t.numpy())
            for name, args in (("get_ema_multi_avg_fn", (0.37,)), ("get_ema_multi_avg_fn", (0.6,)),
                               ("get_swa_multi_avg_fn", ())):
                ta, oa = [torch.tensor(a), torch.tensor(b)], [tb.tensor(a), tb.tensor(b)]
                getattr(torch.optim.swa_utils, name)(*args)(ta, [torch.tensor(b), torch.tensor(a)], torch.tensor(n))
                getattr(swa_utils, name)(*args)(oa, [tb.tensor(b), tb.tensor(a)], tb.tensor(n))
                for t, o in zip(ta, oa):  # float32 bit for bit; float64 within torch's fused multiply-add
                    np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-14 if dtype == np.float64 else 0,
                                               atol=1e-16 if dtype == np.float64 else 0)
    ints = np.array([5, -7, 9])  # integers: EMA in float, truncated on the way back
    ta, oa = torch.zeros(3, dtype=torch.int64), tb.zeros(3, dtype=tb.int64)
    torch.optim.swa_utils.get_ema_multi_avg_fn(0.5)([ta], [torch.tensor(ints)], torch.tensor(1))
    swa_utils.get_ema_multi_avg_fn(0.5)([oa], [tb.tensor(ints)], tb.tensor(1))
    np.testing.assert_array_equal(oa.numpy(), ta.numpy())


def test_averaged_model_errors_match_torch():
    for m in (torch.optim.swa_utils, swa_utils):
        for bad in (-0.1, 1.5):
            for fn in (m.get_ema_avg_fn, m.get_ema_multi_avg_fn):
                with pytest.raises(ValueError, match=rf"Invalid decay value {bad} provided. Please provide a value "
                                                     r"in \[0,1\] range."):
                    fn(bad)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
        swa_utils.AveragedModel(nn.Linear(2, 2), avg_fn=swa_utils.get_ema_avg_fn(),
                                multi_avg_fn=swa_utils.get_ema_multi_avg_fn())
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
        torch.optim.swa_utils.AveragedModel(torch.nn.Linear(2, 2), avg_fn=torch.optim.swa_utils.get_ema_avg_fn(),
                                            multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn())
    # buffers are copied pairwise: a model with other buffers is refused (torch's strict zip)
    _, with_buffers = twin_nets("float64", with_buffers=True)
    avg = swa_utils.AveragedModel(with_buffers)
    with pytest.raises(ValueError, match="zip"):
        avg.update_parameters(twin_nets("float64")[1])
    assert swa_utils.AveragedModel(nn.Linear(2, 2), device="cpu").module.weight.shape == (2, 2)


# ---------------------------------------------------------------- SWALR
def sgd_pair(lr=0.5, groups=1):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(3) for _ in range(groups)]
    topt = torch.optim.SGD([{"params": [torch.tensor(a, requires_grad=True)], "lr": lr * (i + 1)}
                            for i, a in enumerate(arrays)], lr=lr)
    oopt = optim.SGD([{"params": [nn.Parameter(a)], "lr": lr * (i + 1)} for i, a in enumerate(arrays)], lr=lr)
    return topt, oopt


def assert_same_lrs(tsched, osched, topt, oopt):
    assert osched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14, abs=1e-16)
    assert [g["lr"] for g in oopt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups], rel=1e-14,
                                                                 abs=1e-16)
    assert (osched.last_epoch, osched._step_count) == (tsched.last_epoch, tsched._step_count)


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("anneal_epochs", [0, 1, 3, 10])
@pytest.mark.parametrize("swa_lr", [0.05, [0.05, 2.0]])
def test_swalr_learning_rates_match_torch(strategy, anneal_epochs, swa_lr):
    topt, oopt = sgd_pair(groups=2)
    tsched = torch.optim.swa_utils.SWALR(topt, swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    osched = swa_utils.SWALR(oopt, swa_lr, anneal_epochs=anneal_epochs, anneal_strategy=strategy)
    assert [g["swa_lr"] for g in oopt.param_groups] == [g["swa_lr"] for g in topt.param_groups]
    assert_same_lrs(tsched, osched, topt, oopt)
    for _ in range(anneal_epochs + 4):
        topt.step(), oopt.step(), tsched.step(), osched.step()
        assert_same_lrs(tsched, osched, topt, oopt)
    assert oopt.param_groups[1]["lr"] == pytest.approx(oopt.param_groups[1]["swa_lr"])


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_after_other_schedulers_matches_torch(strategy):
    """The documented pattern: another scheduler for the first epochs, then SWALR takes over from its lr."""
    topt, oopt = sgd_pair(lr=0.3)
    tcos = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=12)
    ocos = lr_scheduler.CosineAnnealingLR(oopt, T_max=12)
    tmul = torch.optim.lr_scheduler.MultiplicativeLR(topt, lambda e: 0.9)
    omul = lr_scheduler.MultiplicativeLR(oopt, lambda e: 0.9)
    tswa = torch.optim.swa_utils.SWALR(topt, swa_lr=0.02, anneal_epochs=4, anneal_strategy=strategy)
    oswa = swa_utils.SWALR(oopt, swa_lr=0.02, anneal_epochs=4, anneal_strategy=strategy)
    assert_same_lrs(tswa, oswa, topt, oopt)
    for epoch in range(16):
        topt.step(), oopt.step()
        if epoch > 6:
            tswa.step(), oswa.step()
            assert_same_lrs(tswa, oswa, topt, oopt)
        else:
            tcos.step(), ocos.step(), tmul.step(), omul.step()
        assert [g["lr"] for g in oopt.param_groups] == pytest.approx([g["lr"] for g in topt.param_groups],
                                                                     rel=1e-14)


def test_swalr_state_dict_warnings_and_resume_match_torch():
    topt, oopt = sgd_pair()
    tsched = torch.optim.swa_utils.SWALR(topt, 0.1, anneal_epochs=5, anneal_strategy="linear")
    osched = swa_utils.SWALR(oopt, 0.1, anneal_epochs=5, anneal_strategy="linear")
    for _ in range(2):
        topt.step(), oopt.step(), tsched.step(), osched.step()
    tsd, osd = tsched.state_dict(), osched.state_dict()
    assert osd.keys() == tsd.keys() and "anneal_func" not in osd
    for k in ("anneal_epochs", "_anneal_strategy", "last_epoch", "_step_count", "base_lrs"):
        assert osd[k] == tsd[k], k
    fresh = swa_utils.SWALR(sgd_pair()[1], 0.3)  # cos by default: the linear strategy comes back with the state
    fresh.load_state_dict(tsd)
    assert fresh.anneal_func(0.25) == 0.25 and fresh.anneal_epochs == 5
    for lib, sched in ((torch, tsched), (tb, osched)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sched.get_lr()
        assert [str(w.message) for w in caught] == [
            "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."]
    assert swa_utils.SWALR._cosine_anneal(0.5) == torch.optim.swa_utils.SWALR._cosine_anneal(0.5)


def test_swalr_errors_match_torch():
    topt, oopt = sgd_pair(groups=2)
    for m, opt in ((torch.optim.swa_utils, topt), (swa_utils, oopt)):
        with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got exp"):
            m.SWALR(opt, 0.1, anneal_strategy="exp")
        for bad in (-1, 2.0):
            with pytest.raises(ValueError, match=f"anneal_epochs must be equal or greater than 0, got {bad}"):
                m.SWALR(opt, 0.1, anneal_epochs=bad)
        with pytest.raises(ValueError, match="swa_lr must have the same length as optimizer.param_groups. swa_lr "
                                             "has 3 values, param_groups has 2."):
            m.SWALR(opt, [0.1, 0.2, 0.3])
    for m in (torch.optim.swa_utils, swa_utils):
        with pytest.raises(AttributeError, match="param_groups"):
            m.SWALR(object(), 0.1)


# ---------------------------------------------------------------- update_bn
class StandInBatchNorm(tb.nn.Module):
    """The running-statistics part of a 1-d batch norm (no affine), as torch's BatchNorm1d keeps them:
    momentum None means the cumulative mean over the batches seen since the last reset."""

    def __init__(self, n, momentum=0.1, eps=1e-5):
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("running_mean", tb.zeros(n, dtype=tb.float64))
        self.register_buffer("running_var", tb.ones(n, dtype=tb.float64))
        self.register_buffer("num_batches_tracked", tb.tensor(0, dtype=tb.int64))

    def reset_running_stats(self):
        self.running_mean.zero_()
        self.running_var.fill_(1)
        self.num_batches_tracked.zero_()

    def forward(self, x):
        if not self.training:
            return (x - self.running_mean) / (self.running_var + self.eps).sqrt()
        self.num_batches_tracked += 1
        f = 1.0 / int(self.num_batches_tracked) if self.momentum is None else self.momentum
        mean, var = x.mean(0), x.var(0, unbiased=False)
        with tb.no_grad():
            self.running_mean.copy_(f * mean + (1 - f) * self.running_mean)
            self.running_var.copy_(f * x.var(0) + (1 - f) * self.running_var)
        return (x - mean) / (var + self.eps).sqrt()


def bn_nets():
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4, affine=False, momentum=0.3),
                               torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    onet = nn.Sequential(nn.Linear(3, 4), StandInBatchNorm(4, momentum=0.3), nn.Tanh(), nn.Linear(4, 2)).double()
    onet.load_state_dict({k: v.numpy() for k, v in tnet.state_dict().items()})
    return tnet, onet


def assert_same_stats(tnet, onet):
    for k in ("1.running_mean", "1.running_var", "1.num_batches_tracked"):
        np.testing.assert_allclose(onet.state_dict()[k], tnet.state_dict()[k].numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("as_tuples", [False, True])
@pytest.mark.parametrize("training", [True, False])
def test_update_bn_recomputes_running_stats_like_torch(as_tuples, training):
    rng = np.random.default_rng(2)
    batches = [rng.standard_normal((n, 3)) * 2 + 1 for n in (5, 8, 3, 6)]
    tnet, onet = bn_nets()
    for x in batches[:2]:  # some history that update_bn must forget
        tnet(torch.tensor(x)), onet(tb.tensor(x))
    tnet.train(training), onet.train(training)
    tloader = [(torch.tensor(x), torch.zeros(len(x))) if as_tuples else torch.tensor(x) for x in batches]
    oloader = [[tb.tensor(x), tb.zeros(len(x))] if as_tuples else tb.tensor(x) for x in batches]
    torch.optim.swa_utils.update_bn(tloader, tnet)
    swa_utils.update_bn(oloader, onet, device="cpu")
    assert_same_stats(tnet, onet)
    # the plain mean over all batches (momentum None during the pass), the momentum put back, the mode restored
    feats = [onet[0](tb.tensor(x)).detach().numpy() for x in batches]
    np.testing.assert_allclose(onet[1].running_mean.numpy(), np.mean([f.mean(0) for f in feats], axis=0), rtol=1e-12)
    assert onet[1].momentum == tnet[1].momentum == 0.3
    assert onet.training == tnet.training == training and onet[1].training == training
    x = batches[0]
    ours, theirs = onet.eval()(tb.tensor(x)), tnet.eval()(torch.tensor(x))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-11, atol=1e-12)


def test_update_bn_on_an_averaged_model_like_torch():
    """The documented flow: average the weights, then recompute the averaged copy's statistics."""
    rng = np.random.default_rng(4)
    batches = [rng.standard_normal((6, 3)) for _ in range(3)]
    tnet, onet = bn_nets()
    tavg, oavg = torch.optim.swa_utils.AveragedModel(tnet), swa_utils.AveragedModel(onet)
    for k in range(3):
        with torch.no_grad(), tb.no_grad():
            for tp, op in zip(tnet.parameters(), onet.parameters()):
                tp.mul_(1.1).add_(0.05 * k)
                op.mul_(1.1).add_(0.05 * k)
        tnet(torch.tensor(batches[k])), onet(tb.tensor(batches[k]))
        tavg.update_parameters(tnet)
        oavg.update_parameters(onet)
    assert_same_state(tavg, oavg, "float64")  # the statistics were copied from the trained model
    torch.optim.swa_utils.update_bn([torch.tensor(x) for x in batches], tavg)
    swa_utils.update_bn([tb.tensor(x) for x in batches], oavg)
    assert_same_state(tavg, oavg, "float64")


def test_update_bn_without_batch_norm_does_not_run_the_model():
    calls = []
    model = nn.Sequential(nn.Linear(3, 2))
    model.register_forward_hook(lambda *a: calls.append(1))
    model.eval()
    swa_utils.update_bn([tb.ones(2, 3)], model)
    assert calls == [] and not model.training
    model.train()
    model(tb.ones(2, 3))
    assert calls == [1]
