"""Truncated backpropagation through time (TBPTT) over long sequences.

Full BPTT keeps the graph of every time step until ``backward``, so memory
grows with the sequence length.  Truncated BPTT cuts the sequence into
windows: each window's loss is backpropagated only inside the window, the
optimizer steps, and the recurrent state is carried into the next window
*detached*, so its values are exact but no gradient flows back across the
cut.  Memory is then bounded by the window, not by the sequence.

Three forms, one function, :func:`tbptt`:

* **Windows of k** (``k``): every k steps, backpropagate the loss of those k
  steps through those k steps.  A loss at position j of a window (j = 0..k-1)
  sees only j steps back: the fixed window's blind spot.

* **k1/k2** (Williams & Peng 1990, their BPTT(h; h') with h = k2, h' = k1):
  every ``k1`` steps, backpropagate the loss of the last k1 steps through the
  last ``k2 >= k1`` steps, so every loss sees at least k2 - k1 + 1 steps back
  (a shorter last chunk of r steps is backpropagated through r + k2 - k1).
  How it runs on a tape: the graph of a span cannot be cut after the fact, and
  a graph kept across optimizer steps would hold activations of old weights
  (which the in-place step also invalidates).  So each update *replays* the
  forward of the last k2 steps, recorded, from a detached copy of the state
  saved k2 steps back, computes the loss of its last k1 steps and calls
  backward.  Only one state is saved between updates (the one k2 - k1 steps
  after the current start, where the next replay begins).  Cost per k1 steps:
  a recorded forward and a backward over k2 steps (k2/k1 times a plain pass);
  memory: one k2-step graph.  While the weights do not change, the replayed
  states equal the ones a single full forward would compute.

* **Staggered windows** (``stagger=True`` or one offset per sequence): with
  aligned windows every sequence of the batch has its blind spot at the same
  global times (windows starting at 0, k, 2k, ...), so the loss at those times
  is always learned without history.  Staggering gives sequence b its own
  window boundaries at ``o_b, o_b + k, o_b + 2k, ...`` (first window ``[0, o_b)``)
  with offsets spread evenly over 0..k-1 (:func:`stagger_offsets`), so each
  global time is at a different window position in different sequences.  The
  optimizer still steps every k steps on the loss of those k steps; inside
  that span each sequence's gradient is cut at its own boundary, and the span
  is replayed back to each sequence's last boundary before it (at most k - 1
  extra steps: memory < 2k steps, forward up to twice a plain pass).  It needs
  to know which axis of each state tensor is the batch (``state_batch_dim``).
  With k1/k2 and staggering, sequence b's own updates would fall at ``o_b + m k1``
  and each would reach k2 - k1 steps before its chunk: a loss at time j of
  sequence b is backpropagated to ``c - (k2 - k1)``, where c is b's last
  boundary at or before j.  Inside one update (the optimizer still steps every
  k1 steps) a sequence's losses before and after its own boundary u then reach
  back to different places, so a second replay runs from ``u - (k2 - k1)`` and
  gives the outputs from u on (memory < 2 k2 + k1 steps).
"""
import collections

import numpy as np

from .autograd import enable_grad
from .nn.utils import clip_grad_norm_, detach_state
from .ops import Where, cat
from .tensor import Tensor

TBPTTResult = collections.namedtuple("TBPTTResult", ["losses", "state"])
TBPTTResult.__doc__ = "What :func:`tbptt` returns: the loss of every update (floats) and the final detached state."


def stagger_offsets(batch_size, k):
    """Window offsets spread evenly over 0..k-1: sequence b gets ``(b * k) // batch_size``.

    >>> from tinybptt.bptt import stagger_offsets
    >>> stagger_offsets(4, 8)
    [0, 2, 4, 6]
    """
    return [(b * k) // batch_size for b in range(batch_size)]


def window_bounds(seq_len, k, offset=0):
    """The (start, stop) windows of one sequence whose boundaries are 0 and ``offset + m k``.

    >>> from tinybptt.bptt import window_bounds
    >>> window_bounds(10, 4, offset=1)
    [(0, 1), (1, 5), (5, 9), (9, 10)]
    """
    cuts = _boundaries(seq_len, k, offset) + [seq_len]
    return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]


def _boundaries(seq_len, k, offset):
    """Times where a sequence's windows start: 0 and every u = offset (mod k) in (0, seq_len)."""
    first = offset % k or k
    return [0] + list(range(first, seq_len, k))


def tbptt(model_step, sequence, targets, k, loss_fn, optimizer=None, state=None, k1=None, k2=None,
          stagger=False, clip=None, time_dim=0, parameters=None, state_batch_dim=None):
    """Train on a long sequence with truncated BPTT; returns ``TBPTTResult(losses, state)``.

    Args:
        model_step: ``model_step(x_window, state) -> (output, new_state)``; ``nn.RNN``,
            ``nn.LSTM`` and ``nn.GRU`` fit as they are, and so does any function of that
            form.  ``state`` may be None (the model's default), a tensor or a nested tuple.
            ``output`` has its time axis at ``time_dim``, like the input.
        sequence: the inputs, a tensor with time along ``time_dim`` (e.g. (T, B, F), or
            (B, T, F) with ``time_dim=1``).
        targets: sliced along ``time_dim`` like ``sequence`` and passed to ``loss_fn``;
            None calls ``loss_fn(output)``.
        k: the window length (used for k1 and k2 when they are not given).
        loss_fn: ``loss_fn(output_window, target_window) -> scalar tensor``.
        optimizer: anything with ``zero_grad()`` and ``step()`` (and ``param_groups`` if
            ``clip`` is used without ``parameters``); called once per update.  With None,
            gradients of all updates accumulate in ``.grad``.
        state: the initial state (None: the model's default).
        k1, k2: update every k1 steps, backpropagating through the last k2 >= k1 steps.
        stagger: False, True (offsets from :func:`stagger_offsets`) or one window offset
            per batch element.
        clip: if given, ``clip_grad_norm_(parameters, clip)`` before each step.
        time_dim: the time axis of ``sequence``, ``targets`` and the outputs; the batch axis
            is 1 when ``time_dim`` is 0, else 0.
        parameters: what ``clip`` clips (default: the optimizer's parameters).
        state_batch_dim: the batch axis of the state tensors (staggering only); default 1
            for 3-d states (PyTorch's (layers * directions, B, H)) and 0 otherwise.

    Each update runs ``zero_grad``, the recorded forward of its span, ``loss.backward()``,
    the optional clipping and ``step``; the graph is dropped before the next update.

    >>> import tinybptt as tb
    >>> from tinybptt.bptt import tbptt
    >>> _ = tb.manual_seed(0)  # returns the generator, as torch.manual_seed
    >>> rnn = tb.nn.RNN(1, 8)
    >>> head = tb.nn.Linear(8, 1)
    >>> def step(x, h):                      # (k, B, 1) window -> (k, B, 1) predictions
    ...     out, h = rnn(x, h)
    ...     return head(out), h
    >>> x = tb.randn(200, 4, 1)              # predict the input of one step before
    >>> y = tb.cat([tb.zeros(1, 4, 1), x[:-1]])
    >>> params = list(rnn.parameters()) + list(head.parameters())
    >>> opt = tb.optim.SGD(params, lr=0.1)
    >>> first = tbptt(step, x, y, 20, tb.nn.functional.mse_loss, opt).losses
    >>> for epoch in range(5):
    ...     losses, h = tbptt(step, x, y, 20, tb.nn.functional.mse_loss, opt, clip=1.0)
    >>> len(losses), h.shape, losses[-1] < first[-1]
    (10, (1, 4, 8), True)
    """
    x = sequence if isinstance(sequence, Tensor) else Tensor(sequence)
    y = targets if targets is None or isinstance(targets, Tensor) else Tensor(targets)
    time_dim = time_dim % x.ndim
    T = x.shape[time_dim]
    k1, k2 = _window_sizes(k, k1, k2)
    if y is not None and y.shape[time_dim] != T:
        raise ValueError(f"tbptt: sequence has {T} steps along time_dim={time_dim} (shape {x.shape}) "
                         f"but targets have {y.shape[time_dim]} (shape {y.shape})")
    params = _clip_parameters(clip, parameters, optimizer)
    offsets = None
    if stagger is not False and stagger is not None:
        batch = x.shape[1 if time_dim == 0 else 0]
        offsets = stagger_offsets(batch, k1) if stagger is True else [int(o) % k1 for o in stagger]
        if len(offsets) != batch:
            raise ValueError(f"tbptt: stagger has {len(offsets)} offsets for a batch of {batch} "
                             f"(sequence shape {x.shape}, time_dim={time_dim})")

    run = _Run(model_step, x, time_dim, state_batch_dim)
    ends = list(range(k1, T, k1)) + [T] if T > 0 else []
    plans = _stagger_plans(ends, T, k1, k2, offsets) if offsets else _plain_plans(ends, k1, k2)
    losses, saved = [], detach_state(state)
    initial = saved
    for start, loss_start, end, events, second in plans:
        if optimizer is not None:
            optimizer.zero_grad()
        with enable_grad():
            out, state, saved, marks = run.span(start, loss_start, end, events, saved, initial)
            if second is not None:  # staggered k1/k2: the outputs from each sequence's boundary on
                start2, events2, switch = second
                out2 = run.span(start2, max(loss_start, start2), end, events2, marks, initial)[0]
                out = run.stitch(out, out2, switch, loss_start, max(loss_start, start2), end)
            state = detach_state(state)  # holding the span's graph would double the memory
            window = _time_slice(y, loss_start, end, time_dim) if y is not None else None
            loss = loss_fn(out) if y is None else loss_fn(out, window)
        del out  # the graph lives only through backward
        loss.backward()
        losses.append(float(loss.item()))
        del loss
        if clip is not None:
            clip_grad_norm_(params, clip)
        if optimizer is not None:
            optimizer.step()
    return TBPTTResult(losses, detach_state(state))


def _window_sizes(k, k1, k2):
    k1 = k if k1 is None else k1
    k2 = k if k2 is None else k2
    k1, k2 = (k2 if k1 is None else k1), (k1 if k2 is None else k2)
    if k1 is None:
        raise ValueError("tbptt: give the window length k (or k1 and k2)")
    for name, v in (("k1", k1), ("k2", k2)):
        if int(v) != v or v < 1:
            raise ValueError(f"tbptt: {name} must be a positive integer, got {v!r}")
    if k2 < k1:
        raise ValueError(f"tbptt: k2 (steps backpropagated) must be >= k1 (steps between updates), "
                         f"got k1={k1}, k2={k2}")
    return int(k1), int(k2)


def _clip_parameters(clip, parameters, optimizer):
    if clip is None:
        return None
    if parameters is not None:
        return list(parameters)
    if optimizer is not None and hasattr(optimizer, "param_groups"):
        return [p for g in optimizer.param_groups for p in g["params"]]
    raise ValueError("tbptt: clip needs the parameters: pass parameters= or an optimizer with param_groups")


# ------------------------------------------------------------------ update plans
# A plan is (start, loss_start, end, events): run the recorded forward over
# [start, end), put the outputs of [loss_start, end) into the loss, and at the
# given times act on the state: 'reset' (take the saved value), 'cut' (detach)
# or 'save' (keep a detached copy for the next update's start).  Each event
# has a batch mask, or None for the whole batch.

def _plain_plans(ends, k1, k2):
    """Updates at every end; each replays from k2 - k1 steps before its new steps (the saved state)."""
    plans, prev = [], 0
    for i, end in enumerate(ends):
        start = max(0, prev - (k2 - k1))  # = end - k2, except for a shorter last chunk
        events = {}
        if i + 1 < len(ends):
            events[max(0, end - (k2 - k1))] = [("save", None)]
        plans.append((start, prev, end, events, None))
        prev = end
    return plans


def _per_sequence(events, kind, times):
    """Add event ``kind`` at each distinct time of ``times`` (one per sequence, None: none), masked to
    the sequences with that time."""
    for u in sorted({t for t in times if t is not None}):
        events[u].append((kind, np.asarray([t == u for t in times])))


def _stagger_plans(ends, T, k1, k2, offsets):
    """Updates every k1 steps; sequence b's gradient is cut k2 - k1 steps before its own boundaries."""
    back = k2 - k1
    bounds = [np.asarray(_boundaries(T, k1, o)) for o in offsets]
    plans, prev = [], 0
    for i, end in enumerate(ends):
        # each sequence's replay start: back steps before its last boundary at or before prev
        starts = [max(0, int(b[b <= prev].max()) - back) for b in bounds]
        # its boundary inside the update, if the losses after it reach back less far than the others
        inner = [next((int(u) for u in b if prev < u < end and u > back), None) for b in bounds]
        events = collections.defaultdict(list)
        _per_sequence(events, "reset", [s if s > min(starts) else None for s in starts])
        second = None
        if back == 0:  # the losses after a sequence's boundary reach back to it: cut there
            _per_sequence(events, "cut", inner)
        elif any(u is not None for u in inner):  # ... or to back steps before it: a second replay
            starts2 = [None if u is None else max(0, u - back) for u in inner]
            _per_sequence(events, "mark", starts2)
            first2 = min(s for s in starts2 if s is not None)
            events2 = collections.defaultdict(list)
            _per_sequence(events2, "reset", [s if s is not None and s > first2 else None for s in starts2])
            second = (first2, dict(events2), [end if u is None else u for u in inner])
        if i + 1 < len(ends):  # (a replay from time 0 starts from the initial state: nothing to save)
            _per_sequence(events, "save", [max(0, int(b[b <= end].max()) - back) or None for b in bounds])
        plans.append((min(starts), prev, end, dict(events), second))
        prev = end
    return plans


# ------------------------------------------------------------------ running a span
class _Run:
    """Runs the model over a span of the sequence, acting on the state at event times."""

    def __init__(self, model_step, x, time_dim, state_batch_dim):
        self.model_step, self.x, self.time_dim = model_step, x, time_dim
        self.state_batch_dim = state_batch_dim

    def span(self, start, loss_start, end, events, saved, initial):
        """Forward over [start, end) from ``saved`` (``initial`` when start is 0); returns (loss-span
        output, state at end, next saved state, marked states (the starts of a second replay))."""
        times = sorted({start, loss_start, end, *events})
        state, next_saved, marks, outs = (initial if start == 0 else saved), saved, None, []
        for u0, u1 in zip(times, times[1:] + [None]):
            for kind, mask in events.get(u0, ()):
                if kind == "reset":
                    state = self._merge(mask, saved, state)
                elif kind == "cut":
                    state = self._merge(mask, detach_state(state), state)
                elif kind == "mark":
                    marks = self._merge(mask, detach_state(state), marks)
                else:
                    next_saved = self._merge(mask, detach_state(state), next_saved)
            if u1 is None:
                break
            out, state = self.model_step(_time_slice(self.x, u0, u1, self.time_dim), state)
            if u0 >= loss_start:
                outs.append(out)
        out = outs[0] if len(outs) == 1 else cat(outs, self.time_dim)
        return out, state, next_saved, marks

    def stitch(self, out, out2, switch, loss_start, start2, end):
        """Outputs of [loss_start, end): ``out2`` (which covers [start2, end)) where time >= switch[b]
        for sequence b, else ``out``."""
        batch_dim = 1 if self.time_dim == 0 else 0
        times = np.arange(start2, end)[:, None] >= np.asarray(switch)[None, :]  # (time, batch)
        if batch_dim == 0:
            times = times.T
        times = times.reshape(times.shape + (1,) * (out.ndim - 2))
        late = Where.apply(times, out2, _time_slice(out, start2 - loss_start, end - loss_start, self.time_dim))
        if start2 == loss_start:
            return late
        return cat([_time_slice(out, 0, start2 - loss_start, self.time_dim), late], self.time_dim)

    def _merge(self, mask, new, old):
        """Take ``new`` for the batch elements in ``mask`` (all when None), ``old`` for the rest."""
        if mask is None or mask.all() or old is None:  # nothing saved yet: placeholders until set
            return new
        if isinstance(new, Tensor):
            if not isinstance(old, Tensor) or old.shape != new.shape:
                raise ValueError(f"tbptt: cannot merge states of shapes {new.shape} and "
                                 f"{getattr(old, 'shape', old)} for staggered windows")
            dim = self.state_batch_dim if self.state_batch_dim is not None else (1 if new.ndim == 3 else 0)
            if new.shape[dim] != mask.size:
                raise ValueError(f"tbptt: state of shape {new.shape} has {new.shape[dim]} entries along "
                                 f"state_batch_dim={dim}, the batch has {mask.size}; set state_batch_dim")
            shape = [1] * new.ndim
            shape[dim] = mask.size
            return Where.apply(mask.reshape(shape), new, old)
        if isinstance(new, (tuple, list)):
            merged = [self._merge(mask, a, b) for a, b in zip(new, old)]
            return type(new)(*merged) if hasattr(new, "_fields") else type(new)(merged)
        raise TypeError(f"tbptt: staggered windows need the state to be tensors or tuples of tensors, "
                        f"got {type(new).__name__}")


def _time_slice(t, start, stop, time_dim):
    return t[(slice(None),) * time_dim + (slice(start, stop),)]
