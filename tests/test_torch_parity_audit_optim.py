"""Audit of optimizers, schedulers, clipping and the autograd engine against torch 2.13: the cases the
other parity files leave out (float64 default dtype, tensor learning rates, state_dict hooks, in-place
changes of views of leaves, post-accumulate-grad hooks, argument types)."""
import copy
import math
import warnings

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn, optim
from tinybptt.nn.utils import get_total_norm
from tinybptt.optim import lr_scheduler

TL = torch.optim.lr_scheduler


@pytest.fixture
def float64_default():
    """torch's and tinybptt's default dtype set to float64 for one test."""
    torch_old, ours_old = torch.get_default_dtype(), tb.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    tb.set_default_dtype(tb.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(torch_old)
        tb.set_default_dtype(ours_old)


def lstm_pair(seed=0):
    """A torch LSTM + Linear and ours with the same float64 weights, as ((lstm, head), (lstm, head))."""
    torch.manual_seed(seed)
    theirs = (torch.nn.LSTM(3, 5, num_layers=2, batch_first=True).double(), torch.nn.Linear(5, 2).double())
    ours = (nn.LSTM(3, 5, num_layers=2, batch_first=True, dtype=tb.float64), nn.Linear(5, 2, dtype=tb.float64))
    for t, o in zip(theirs, ours):
        o.load_state_dict({k: tb.tensor(v.detach().numpy().copy()) for k, v in t.state_dict().items()})
    return theirs, ours


def loss_of(model, x):
    out, _ = model[0](x)
    return (model[1](out) ** 2).mean()


# ------------------------------------------------------------------ optimizers
SCALAR_STATE = [
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
    ("ASGD", dict(lr=0.01, t0=5, weight_decay=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Rprop", dict(lr=0.01)),
    ("Adafactor", dict(lr=0.01)),
]


@pytest.mark.parametrize("name,kw", SCALAR_STATE, ids=[f"{n}-{kw}" for n, kw in SCALAR_STATE])
def test_scalar_state_follows_a_float64_default_dtype_like_torch(float64_default, name, kw):
    """With float64 as the default dtype torch keeps 'step', NAdam's mu_product and ASGD's eta and mu in
    float64 (float32 otherwise), which changes NAdam's and ASGD's steps at ~1e-10.  An LSTM + Linear model
    trained 20 steps: a second group added at step 3, one gradient missing every 4 steps, and our
    optimizer replaced by a fresh one loading its state_dict at step 12."""
    theirs, ours = lstm_pair()
    tp, op = [list(m.parameters()) for m in theirs], [list(m.parameters()) for m in ours]
    topt = getattr(torch.optim, name)([{"params": tp[0]}], **kw)
    oopt = getattr(optim, name)([{"params": op[0]}], **kw)
    rng = np.random.default_rng(0)
    for step in range(20):
        if step == 3:
            topt.add_param_group({"params": tp[1], "lr": 0.005})
            oopt.add_param_group({"params": op[1], "lr": 0.005})
        if step == 12:
            fresh = getattr(optim, name)([{"params": op[0]}, {"params": op[1]}], **kw)
            fresh.load_state_dict(copy.deepcopy(oopt.state_dict()))
            oopt = fresh
        topt.zero_grad()
        oopt.zero_grad()
        x = rng.standard_normal((2, 4, 3))
        loss_of(theirs, torch.tensor(x)).backward()
        loss_of(ours, tb.tensor(x)).backward()
        if step % 4 == 1:
            tp[0][1].grad, op[0][1].grad = None, None
        topt.step()
        oopt.step()
        for t, o in zip(tp[0] + tp[1], op[0] + op[1]):
            np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-12, atol=1e-13)
    tsd, osd = topt.state_dict(), oopt.state_dict()
    assert osd["param_groups"] == tsd["param_groups"]
    for i, ts in tsd["state"].items():
        assert list(osd["state"][i]) == list(ts)
        for key, value in ts.items():
            if value.ndim == 0:  # the scalar state: same dtype, same value
                assert np.asarray(osd["state"][i][key]).dtype == np.float64 == value.numpy().dtype, key
                np.testing.assert_allclose(osd["state"][i][key], value.numpy(), rtol=1e-15, err_msg=key)


def test_loaded_step_keeps_its_dtype_and_a_number_step_takes_the_default():
    """A 'step' array keeps its floating dtype on loading (as torch keeps a step tensor's); a step given
    as a Python number becomes a 0-d array of the default scalar dtype."""
    p = nn.Parameter(np.zeros(3))
    opt = optim.Adam([p])
    group = dict(opt.state_dict()["param_groups"][0])
    state = {"exp_avg": np.ones(3), "exp_avg_sq": np.ones(3)}
    opt.load_state_dict({"state": {0: {"step": np.array(4.0), **state}}, "param_groups": [group]})
    assert opt.state[p]["step"].dtype == np.float64
    opt.load_state_dict({"state": {0: {"step": 4, **state}}, "param_groups": [group]})
    assert opt.state[p]["step"].dtype == np.float32 and float(opt.state[p]["step"]) == 4.0


def test_asgd_rounds_eta_and_mu_to_the_scalar_dtype_after_loading_a_wider_state():
    """A loaded ASGD state holds eta and mu in the parameter's dtype (float64), but torch still rounds
    each new value to float32 (the dtype of the default tensor it is copied from)."""
    rng = np.random.default_rng(0)
    a, grads = rng.standard_normal(4), rng.standard_normal((12, 4))
    t, o = torch.tensor(a, requires_grad=True), nn.Parameter(a.copy())
    topt, oopt = torch.optim.ASGD([t], lr=0.05, t0=2), optim.ASGD([o], lr=0.05, t0=2)
    for i, g in enumerate(grads):
        if i == 4:  # both reload their own state: eta and mu become float64 arrays
            topt.load_state_dict(topt.state_dict())
            oopt.load_state_dict(oopt.state_dict())
        t.grad, o.grad = torch.tensor(g), g.copy()
        topt.step()
        oopt.step()
    np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-14, atol=1e-15)
    for key in ("eta", "mu"):
        assert oopt.state[o][key].dtype == np.float64 == topt.state[t][key].numpy().dtype
        assert float(oopt.state[o][key]) == topt.state[t][key].item()


def test_optimizer_state_dict_hooks_like_torch():
    """register_state_dict_pre/post_hook and register_load_state_dict_pre/post_hook: calling order,
    prepend, results replacing the dict, removal, and hooks not surviving a deepcopy."""
    def run(lib, opt_lib, param):
        opt, log = opt_lib.SGD([param], lr=0.1, momentum=0.9), []
        opt.register_state_dict_pre_hook(lambda o: log.append("pre"))
        opt.register_state_dict_pre_hook(lambda o: log.append("pre-first"), prepend=True)
        opt.register_state_dict_post_hook(lambda o, sd: log.append(("post", sorted(sd))) or {**sd, "extra": 1})
        opt.register_state_dict_post_hook(lambda o, sd: log.append("removed")).remove()
        opt.register_load_state_dict_pre_hook(
            lambda o, sd: log.append(("load-pre", sorted(sd))) or {k: v for k, v in sd.items() if k != "extra"})
        opt.register_load_state_dict_post_hook(lambda o: log.append(("load-post", o.param_groups[0]["lr"])))
        param.grad = lib.ones(2)
        opt.step()
        sd = opt.state_dict()
        sd["param_groups"][0]["lr"] = 0.5
        opt.load_state_dict(sd)
        log.append(sorted(sd))  # the caller's dict is left as it was
        copy.deepcopy(opt).state_dict()
        return log

    ours = run(tb, optim, nn.Parameter(tb.zeros(2)))
    assert ours == run(torch, torch.optim, torch.zeros(2, requires_grad=True))
    assert ours[:3] == ["pre-first", "pre", ("post", ["param_groups", "state"])]


@pytest.mark.parametrize("name", ["SGD", "Adagrad", "RMSprop"])
def test_learning_rate_checks_like_torch(name):
    """A many-element tensor lr is torch's ValueError (these three raised an ambiguous-bool RuntimeError);
    NaN passes SGD's check (lr < 0) but not the others' (0 <= lr), as in torch."""
    for lib, opt_lib, param in [(torch, torch.optim, torch.zeros(2, requires_grad=True)),
                                (tb, optim, nn.Parameter(tb.zeros(2)))]:
        make = getattr(opt_lib, name)
        with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
            make([param], lr=lib.tensor([0.1, 0.2]))
        with pytest.raises(ValueError, match="Invalid learning rate: -1.0"):
            make([param], lr=-1.0)
        if name == "SGD":
            assert math.isnan(make([param], lr=math.nan).defaults["lr"])
        else:
            with pytest.raises(ValueError, match="Invalid learning rate: nan"):
                make([param], lr=math.nan)


def test_a_zero_dim_tensor_formats_as_its_value_like_torch():
    """f"{loss:.4f}" in a training loop; other tensors format as their str, and a format spec is a TypeError."""
    for lib in (torch, tb):
        assert f"{lib.tensor(2.5):.3f}|{lib.tensor(3):>4}|{lib.tensor(True)}" == "2.500|   3|True"
        assert f"{lib.tensor(0.1, dtype=lib.float32):.10f}" == "0.1000000015"
        assert f"{lib.tensor([1.0, 2.0])}" == "tensor([1., 2.])"
        with pytest.raises(TypeError, match="unsupported format string"):
            f"{lib.tensor([1.0, 2.0]):.2f}"


# ------------------------------------------------------------------ schedulers
TENSOR_LR_SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, 2, 0.5),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, 0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, 5, 0.001),
    "CosineAnnealingWarmRestarts": lambda m, o: m.CosineAnnealingWarmRestarts(o, 3, 2),
    "LinearLR": lambda m, o: m.LinearLR(o, 0.2, total_iters=4),
    "CyclicLR": lambda m, o: m.CyclicLR(o, 0.01, 0.1, 3, cycle_momentum=False),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, 0.1, total_steps=30, cycle_momentum=False),
    "SequentialLR": lambda m, o: m.SequentialLR(o, [m.LinearLR(o, 0.5, total_iters=3), m.ExponentialLR(o, 0.9)], [3]),
    "ChainedScheduler": lambda m, o: m.ChainedScheduler([m.StepLR(o, 2, 0.5), m.ExponentialLR(o, 0.9)]),
    "ReduceLROnPlateau": lambda m, o: m.ReduceLROnPlateau(o, patience=0),
    "LambdaLR": lambda m, o: m.LambdaLR(o, lambda e: 0.9 ** e),
}


@pytest.mark.parametrize("name", list(TENSOR_LR_SCHEDULERS))
def test_schedulers_fill_a_tensor_lr_in_place_like_torch(name):
    """A Tensor lr stays the same Tensor (filled in place, as torch does), holding torch's float32 values;
    get_last_lr() returns copies, not the group's tensor."""
    tp, op = torch.zeros(2, requires_grad=True), nn.Parameter(tb.zeros(2))
    topt, oopt = torch.optim.Adam([tp], lr=torch.tensor(0.05)), optim.Adam([op], lr=tb.tensor(0.05))
    ours_lr = oopt.param_groups[0]["lr"]
    tsched = TENSOR_LR_SCHEDULERS[name](TL, topt)
    osched = TENSOR_LR_SCHEDULERS[name](lr_scheduler, oopt)
    for _ in range(25):
        topt.step()
        oopt.step()
        if name == "ReduceLROnPlateau":
            tsched.step(1.0)
            osched.step(1.0)
        else:
            tsched.step()
            osched.step()
        assert oopt.param_groups[0]["lr"] is ours_lr
        assert float(ours_lr) == topt.param_groups[0]["lr"].item()
        last = osched.get_last_lr()[0]
        assert isinstance(last, tb.Tensor) and last is not ours_lr and float(last) == float(ours_lr)


def test_a_group_added_after_the_scheduler_raises_like_torch():
    """torch zips the groups with the scheduler's values strictly: a group added since is an error, not
    silently left on its own lr."""
    for opt_lib, sched, make in [(torch.optim, TL, lambda: torch.zeros(2, requires_grad=True)),
                                 (optim, lr_scheduler, lambda: nn.Parameter(tb.zeros(2)))]:
        opt = opt_lib.SGD([make()], lr=0.1)
        scheduler = sched.LambdaLR(opt, lambda e: 0.5 ** e)
        opt.add_param_group({"params": [make()]})
        opt.step()
        with pytest.raises(ValueError, match="zip"):
            scheduler.step()


# ------------------------------------------------------------------ clipping
def test_get_total_norm_with_a_missing_gradient_raises_like_torch():
    for lib in (torch, tb):
        with pytest.raises(RuntimeError, match="the 1-th Tensor is not"):
            (torch.nn.utils if lib is torch else tb.nn.utils).get_total_norm([lib.ones(2), None])
    assert get_total_norm([tb.ones(2), tb.ones(2)]).item() == 2.0


# ------------------------------------------------------------------ autograd engine
INPLACE_ON_LEAF = {  # each changes leaf x of library lib in place, directly or through a view
    "setitem int": lambda lib, x: x.__setitem__(0, 3.0),
    "setitem slice": lambda lib, x: x.__setitem__(slice(0, 1), 3.0),
    "setitem ellipsis": lambda lib, x: x.__setitem__(Ellipsis, 3.0),
    "setitem index tensor": lambda lib, x: x.__setitem__(lib.tensor([0]), 3.0),
    "fill_": lambda lib, x: x.fill_(1.0),
    "slice mul_": lambda lib, x: x[0:1].mul_(2),
    "view of view mul_": lambda lib, x: x.view(2)[0:1].mul_(2),
    "reshape add_": lambda lib, x: x.reshape(2).add_(2),
    "unsqueeze mul_": lambda lib, x: x.unsqueeze(0).mul_(2),
    "expand mul_": lambda lib, x: x.expand(2, 2).mul_(2),
    "slice fill_": lambda lib, x: x[0:1].fill_(2.0),
    "slice setitem": lambda lib, x: x[0:1].__setitem__(0, 1.0),
}


@pytest.mark.parametrize("case", list(INPLACE_ON_LEAF))
def test_in_place_change_of_a_leaf_or_a_view_of_it_raises_like_torch(case):
    """torch's RuntimeError, with its wording ('a view of a leaf Variable' when the change goes through
    a view), where tinybptt raised NotImplementedError for views or said 'a leaf Variable'."""
    messages = []
    for lib in (torch, tb):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError) as info:
            INPLACE_ON_LEAF[case](lib, x)
        messages.append(str(info.value))
        np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])
    assert messages[0] in messages[1], messages
    with tb.no_grad():  # allowed there, and it changes the leaf, as in torch
        x = tb.tensor([1.0, 2.0], requires_grad=True)
        x[0:1].mul_(3)
        assert x.tolist() == [3.0, 2.0]


def test_in_place_change_of_a_view_of_a_non_leaf_is_still_refused_as_unsupported():
    x = tb.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(NotImplementedError, match="in-place change of a view"):
        (x * 1)[0:1].mul_(2)


def test_backward_gradient_must_be_a_tensor_like_torch():
    """A Python list or number as the gradient is a TypeError in torch (tinybptt took lists as data)."""
    for lib in (torch, tb):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(TypeError, match="gradients can be either Tensors or None, but got"):
            (x * 2).backward([1.0, 2.0])
        with pytest.raises(TypeError, match="gradients can be either Tensors or None, but got"):
            lib.autograd.backward([x * 2], [[1.0, 2.0]])
        with pytest.raises(TypeError):
            (x * 2).sum().backward(2.0)
        assert x.grad is None
    x = tb.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).backward(np.array([1.0, 3.0], np.float32))  # numpy arrays are still taken as tensors
    assert x.grad.tolist() == [2.0, 6.0]


def test_grad_mode_and_grad_argument_errors_like_torch():
    for lib in (torch, tb):
        with pytest.raises(TypeError, match=r"set_grad_enabled\(\): argument 'enabled' \(position 1\) must be bool, "
                                            r"not str"):
            lib.set_grad_enabled("yes")
        with pytest.raises(TypeError, match="must be bool, not int"):
            lib.set_grad_enabled(1)
        assert lib.is_grad_enabled()
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        with pytest.raises(RuntimeError, match=r"`inputs` argument to `grad\(\)` cannot be empty\."):
            lib.autograd.grad((x * 2).sum(), [])


def test_post_accumulate_grad_hook_like_torch():
    """Runs after the leaf's .grad is accumulated (by backward, also with inputs=, not by autograd.grad),
    sees the tensor, after the ordinary hooks; removable; refused on non-leaves and on tensors not
    requiring grad."""
    logs = []
    for lib in (torch, tb):
        x, log = lib.tensor([1.0, 2.0], requires_grad=True), []
        x.register_hook(lambda g, log=log: log.append(("hook", g.tolist())))
        handle = x.register_post_accumulate_grad_hook(lambda t, log=log: log.append(("post", t.grad.tolist())))
        (x * 3).sum().backward()
        (x * x).sum().backward(inputs=[x])
        lib.autograd.grad((x * 5).sum(), x)
        handle.remove()
        (x * 3).sum().backward()
        logs.append(log)
        with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf tensors"):
            (x * 2).register_post_accumulate_grad_hook(print)
        with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't require gradient"):
            lib.ones(2).register_post_accumulate_grad_hook(print)
    assert logs[0] == logs[1]
    assert logs[1][:2] == [("hook", [3.0, 3.0]), ("post", [3.0, 3.0])]


def test_post_accumulate_grad_hook_can_step_an_optimizer_per_parameter():
    """The documented use: an optimizer per parameter stepped (and the gradient freed) inside the hook
    matches stepping one optimizer after backward."""
    rng = np.random.default_rng(3)
    a, xs = rng.standard_normal((3, 2)), rng.standard_normal((4, 5, 3))
    ref_w, hooked_w = nn.Parameter(a.copy()), nn.Parameter(a.copy())
    ref_opt = optim.Adam([ref_w], lr=0.01)
    per_param = {hooked_w: optim.Adam([hooked_w], lr=0.01)}

    def step_and_free(p):
        per_param[p].step()
        per_param[p].zero_grad()
    hooked_w.register_post_accumulate_grad_hook(step_and_free)
    for x in xs:
        ref_opt.zero_grad()
        (tb.tensor(x) @ ref_w).tanh().sum().backward()
        ref_opt.step()
        (tb.tensor(x) @ hooked_w).tanh().sum().backward()
        assert hooked_w.grad is None
    np.testing.assert_array_equal(hooked_w.detach().numpy(), ref_w.detach().numpy())
    assert not math.isnan(float(hooked_w.sum()))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        copy.deepcopy(hooked_w)
