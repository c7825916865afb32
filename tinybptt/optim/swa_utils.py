"""Stochastic weight averaging (Izmailov et al. 2018) and exponential moving averages of a model's weights,
as ``torch.optim.swa_utils``: ``AveragedModel``, the averaging functions, ``SWALR`` and ``update_bn``.

Averaging functions come in two forms, as in PyTorch: ``avg_fn(averaged, current, n_averaged)`` returns
the new average of one tensor, ``multi_avg_fn(averaged_list, current_list, n_averaged)`` updates a list
of tensors in place.  ``AveragedModel`` passes them detached tensors and ``n_averaged`` as an int64 tensor.
"""
import copy
import itertools
import math

import numpy as np

from ..autograd import no_grad
from ..creation import tensor
from ..nn.module import Module
from .lr_scheduler import LRScheduler, _per_group
from .optimizer import _lerp_

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn", "get_swa_multi_avg_fn", "get_ema_avg_fn",
           "get_swa_avg_fn"]


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def _lerp_all_(averaged, current, weight):
    """averaged[i] += weight * (current[i] - averaged[i]) in place, rounded as torch's lerp_."""
    for a, c in zip(averaged, current):
        _lerp_(a._data, c._data.astype(a.dtype, copy=False), weight)
        a._bump_version()


def _is_float(t):
    return t.dtype.kind in "fc"


def get_ema_multi_avg_fn(decay=0.999):
    """A ``multi_avg_fn`` for an exponential moving average: W_ema <- decay W_ema + (1 - decay) W_model,
    done in place on every tensor of the list (integer tensors: computed in float and truncated)."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        if _is_float(ema_param_list[0]):
            _lerp_all_(ema_param_list, current_param_list, 1 - decay)
        else:
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """A ``multi_avg_fn`` for the equal-weight running mean: W <- W + (W_model - W) / (n_averaged + 1), in place.

    As in PyTorch, a tensor ``n_averaged`` gives the weight 1 / (n_averaged + 1) in the default dtype
    (float32 unless changed), also for float64 tensors; integer tensors cannot be averaged this way.
    """
    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        if not _is_float(averaged_param_list[0]):
            raise RuntimeError(f"swa_update: integer tensors ({averaged_param_list[0].dtype}) cannot be averaged in "
                               f"place: the mean is not an integer (torch refuses the integer division too)")
        weight = 1 / (num_averaged + 1)
        _lerp_all_(averaged_param_list, current_param_list, float(weight))

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """An ``avg_fn`` for an exponential moving average: returns decay * W_ema + (1 - decay) * W_model."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """An ``avg_fn`` for the equal-weight running mean: returns W + (W_model - W) / (n_averaged + 1)."""
    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


def _by_dtype(averaged, current):
    """The (averaged, current) pairs split into lists by the averaged tensor's dtype, in order of first use
    (PyTorch calls ``multi_avg_fn`` once per device and dtype)."""
    groups = {}
    for a, c in zip(averaged, current):
        pair = groups.setdefault(a.dtype, ([], []))
        pair[0].append(a)
        pair[1].append(c)
    return list(groups.values())


class AveragedModel(Module):
    """A copy of ``model`` (``self.module``) whose weights are a running average of the model's,
    as ``torch.optim.swa_utils.AveragedModel``.

    Call ``update_parameters(model)`` after optimizer steps: the first call copies the model's
    parameters, later ones average them in with ``avg_fn`` or ``multi_avg_fn`` (default: the
    equal-weight mean of all calls, SWA).  With ``use_buffers=True`` buffers are averaged too,
    otherwise they are copied from the model on every call.  ``n_averaged`` (an int64 buffer,
    in the state_dict next to ``module.*``) counts the calls.  Calling the averaged model runs
    the copy's forward.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=np.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        """The averaged copy's forward."""
        return self.module(*args, **kwargs)

    def _averaged(self, model):
        """The parameters (and, with ``use_buffers``, then the buffers) of ``model`` that are averaged."""
        return itertools.chain(model.parameters(), model.buffers()) if self.use_buffers else model.parameters()

    def update_parameters(self, model):
        """Average ``model``'s current weights in (the first call copies them); buffers are copied
        from ``model`` unless ``use_buffers``.  Tensors are paired in order; extra ones are ignored."""
        pairs = list(zip(self._averaged(self.module), self._averaged(model)))
        averaged = [a.detach() for a, _ in pairs]
        current = [c.detach() for _, c in pairs]
        n = self.n_averaged
        if int(n) == 0:
            for a, c in zip(averaged, current):
                a.copy_(c)
        elif self.avg_fn is not None:
            for a, c in zip(averaged, current):
                a.copy_(self.avg_fn(a, c, n))
        else:
            for group_a, group_c in _by_dtype(averaged, current):
                if self.multi_avg_fn is not None:
                    self.multi_avg_fn(group_a, group_c, n)
                else:  # on the CPU PyTorch averages tensor by tensor with get_swa_avg_fn's formula
                    swa = get_swa_avg_fn()
                    for a, c in zip(group_a, group_c):
                        a.copy_(swa(a, c, n))
        if not self.use_buffers:  # keep the copy's buffers (e.g. running statistics) in sync with the model
            for b_swa, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                b_swa.detach().copy_(b_model.detach())
        with no_grad():
            self.n_averaged += 1


def _is_batch_norm(module):
    """A batch-norm layer as ``update_bn`` sees it: running statistics that ``reset_running_stats()``
    resets and a ``momentum`` (the attributes of PyTorch's ``_BatchNorm`` layers; instance norm,
    which PyTorch leaves out, is left out by name)."""
    return (all(hasattr(module, a) for a in ("running_mean", "running_var", "momentum"))
            and callable(getattr(module, "reset_running_stats", None))
            and not any("InstanceNorm" in cls.__name__ for cls in type(module).__mro__))


@no_grad()
def update_bn(loader, model, device=None):
    """Recompute the running statistics of every batch-norm layer of ``model`` with one pass over ``loader``,
    as ``torch.optim.swa_utils.update_bn`` (e.g. after averaging weights with ``AveragedModel``).

    The statistics are reset and the layers' ``momentum`` set to None for the pass, so each layer
    keeps the plain mean over all batches; a batch is a tensor or a list/tuple whose first element
    is the model's input (moved to ``device`` if given).  The model runs in training mode and is put
    back in its previous mode; a model without batch-norm layers is not run at all.
    """
    momenta = {}
    for module in model.modules():
        if _is_batch_norm(module):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        if isinstance(batch, (list, tuple)):
            batch = batch[0]
        if device is not None:
            batch = batch.to(device)
        model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's learning rate to ``swa_lr`` (one value or one per group) over ``anneal_epochs``
    epochs, then hold it there, as ``torch.optim.swa_utils.SWALR``.

    ``anneal_strategy`` is 'cos' (alpha = (1 - cos(pi t)) / 2) or 'linear' (alpha = t), with t the fraction
    of the annealing done.  Like PyTorch it works from the current lr, so it takes over smoothly from
    another scheduler: each step recovers the lr the annealing started from out of the current one and
    the previous alpha, then returns swa_lr * alpha + start * (1 - alpha).  ``swa_lr`` is stored in each group.
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        swa_lrs = _per_group("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        """The lr the annealing started from, given the current lr = swa_lr * alpha + start * (1 - alpha)."""
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def get_lr(self):
        """Each group's lr for the next step of the annealing (swa_lr once it is over)."""
        self._warn_outside_step()
        step = self._step_count - 1  # 0 for the constructor's step
        if self.anneal_epochs == 0:
            step = max(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / span)))
        starts = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                  for group in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / span)))
        return [group["swa_lr"] * alpha + lr * (1 - alpha) for group, lr in zip(self.optimizer.param_groups, starts)]

    def state_dict(self):
        """Everything but the optimizer and the annealing function (restored from its name)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict):
        """Restore a state from ``state_dict()``."""
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
