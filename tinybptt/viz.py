"""Pictures of the unrolled graph: one Graphviz cluster per time step, coloured by gradient norms.

Seeing backpropagation through time takes three lines around an ordinary backward::

    viz.watch(loss)                 # before backward: remember ||dL/dy|| of every recorded output
    loss.backward()
    viz.render(loss, "graph.svg", params=dict(model.named_parameters()))
    viz.grad_norms_by_step(loss)    # {'lstm.l0.fwd': array([||dL/dh_0||, ||dL/dh_1||, ...]), ...}

How records are grouped comes from their scope (``tinybptt.scope``).  A scope
component ``t=N`` marks time step N; what comes before it names the sequence.
A sequence named ``<module>.l<k>.<fwd|bwd>`` (as the recurrent layers name
theirs) is drawn inside a module cluster, a layer cluster and a direction
cluster; any other name gets a cluster of its own.  Records whose scope
contains ``attn`` or ``attention`` are attention: the steps they read through
a stack of encoder outputs get a straight dotted edge to the step that reads.
"""
import math
import re
import weakref
from collections import Counter, defaultdict

import numpy as np

__all__ = ["draw", "render", "watch", "grad_norms_by_step"]

_STEP = re.compile(r"t=(-?\d+)")
_LAYER = re.compile(r"(.+)\.l(\d+)\.(fwd|bwd)")
_ATTN = re.compile(r"attn|attention", re.I)
# light to dark (YlOrBr): a vanishing gradient fades, an exploding one burns
_RAMP = ["#fff7bc", "#fee391", "#fec44f", "#fe9929", "#ec7014", "#cc4c02", "#993404", "#662506"]
_INSTALL = ("the Graphviz 'dot' program was not found on PATH. Install Graphviz: "
            "'apt-get install graphviz' (Debian/Ubuntu), 'brew install graphviz' (macOS) or "
            "'conda install -c conda-forge graphviz'. viz.draw(...) still returns the DOT source "
            "without it (.source).")

_norms = weakref.WeakKeyDictionary()  # record -> [||dL/d output_i|| or None] filled by watch hooks


# ---------------------------------------------------------------- gradient norms
def watch(*roots):
    """Hook every recorded output behind ``roots`` so the next backward stores its gradient norm.

    Call it after the forward pass and before ``backward()``; ``draw`` and
    ``grad_norms_by_step`` then find the norms by themselves.  Returns the root
    (so ``viz.watch(loss).backward()`` works).
    """
    for node in _graph_nodes(roots, "watch"):
        if node in _norms:
            continue
        slots = _norms[node] = [None] * len(node.outputs)
        for i, ref in enumerate(node.outputs):
            out = ref()
            if out is not None:
                out.register_hook(_norm_hook(slots, i))
    return roots[0] if len(roots) == 1 else roots


def _norm_hook(slots, i):
    def hook(g):
        slots[i] = float(np.sqrt(np.sum(np.square(g._data, dtype=np.float64))))
    return hook


def _norm(node, index=None):
    """||dL/d output|| recorded by ``watch`` (all outputs together when index is None), None if unwatched.

    An output whose hook never ran got no gradient: 0 (call only once a backward has run)."""
    slots = _norms.get(node)
    if slots is None:
        return None
    vals = slots if index is None else [slots[index]]
    return math.sqrt(sum((v or 0.0) ** 2 for v in vals))


def _backward_seen(nodes):
    """True when a backward has run since ``watch`` hooked these records."""
    return any(v is not None for n in nodes for v in _norms.get(n, ()))


def grad_norms_by_step(*roots):
    """Per-step gradient norms of the hidden state: ``{sequence: array of ||dL/dh_t|| indexed by t}``.

    The hidden state of a step is the latest output (outside attention) it
    hands to another step of its sequence: ``h_t`` of an RNN, LSTM or GRU cell,
    fused or not.  The norm is of the whole dL/dh_t (through the next step and
    through the outputs).  Needs ``viz.watch(loss)`` before ``loss.backward()``;
    steps missing from the graph are NaN.  Two lines for a plot::

        viz.watch(loss); loss.backward()
        plt.semilogy(viz.grad_norms_by_step(loss)["lstm.l0.fwd"])
    """
    plan = _Plan(roots, "grad_norms_by_step")
    states = plan.hidden_states()
    if not _backward_seen(plan.nodes):
        raise RuntimeError("grad_norms_by_step: no gradient norms were recorded for this graph: call "
                           "viz.watch(loss) after the forward pass and before loss.backward()")
    out = {}
    for key, seq in plan.seqs.items():
        ts = sorted(seq.steps)
        arr = np.full(max(ts) + 1 if ts[0] >= 0 else len(ts), np.nan)
        for i, t in enumerate(ts):
            v = _norm(*states[(key, t)])
            arr[t if ts[0] >= 0 else i] = np.nan if v is None else v
        out[key] = arr
    return out


# ---------------------------------------------------------------- reading the tape
def _graph_nodes(roots, who):
    """Records reachable from ``roots`` in tape order (creation order is topological)."""
    from .tensor import Tensor
    for r in roots:
        if not isinstance(r, Tensor):
            raise TypeError(f"viz.{who}: expected Tensors to draw the graph behind, got {type(r).__name__}")
    seen, stack = set(), [r.grad_fn for r in roots if r.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(x.grad_fn for x in node.sources if x is not None and x.grad_fn is not None)
    return sorted(seen, key=lambda n: n.position)


def _split_scope(scope):
    """(sequence, t) of a scope inside a time step, else (None, None)."""
    parts = scope.split("/") if scope else []
    for i in range(len(parts) - 1, -1, -1):
        m = _STEP.fullmatch(parts[i])
        if m:
            return "/".join(parts[:i]), int(m.group(1))
    return None, None


class _Seq:
    """One unrolled sequence (a layer and direction of a recurrent module)."""

    def __init__(self, key):
        self.key, self.steps, self.reverse = key, set(), False
        head, _, last = key.rpartition("/")
        m = _LAYER.fullmatch(last)
        if m:
            self.module, self.layer, self.named_dir = (f"{head}/{m[1]}" if head else m[1]), int(m[2]), m[3]
            self.path = [f"cluster_{self.module}", f"cluster_{self.module}.l{self.layer}", f"cluster_{key}"]
        else:
            self.module, self.layer, self.named_dir = key or "sequence", None, None
            self.path = [f"cluster_{self.module}"]


class _Unit:
    """One drawn node: a record, a collapsed cell step or scope run, an elision, or a leaf tensor."""

    def __init__(self, uid, kind, seq=None, t=None, path=()):
        self.uid, self.kind, self.seq, self.t, self.path = uid, kind, seq, t, list(path)
        self.nodes, self.tensor, self.markers = [], None, []


class _Plan:
    """What a picture needs: sequences, units (drawn nodes) and edges between them."""

    def __init__(self, roots, who, detail="cell", max_steps=None):
        self.roots = roots
        self.nodes = _graph_nodes(roots, who)
        self.where, self.seqs, cache = {}, {}, {}
        for n in self.nodes:
            if n.scope not in cache:
                cache[n.scope] = _split_scope(n.scope)
            key, t = cache[n.scope]
            if key is not None:
                if key not in self.seqs:
                    self.seqs[key] = _Seq(key)
                self.seqs[key].steps.add(t)
                self.where[n] = (key, t)
        votes = defaultdict(int)  # a reverse sequence feeds step t from step t+1
        for n, (key, t) in self.where.items():
            for x in n.sources:
                w = self.where.get(x.grad_fn) if x is not None and x.grad_fn is not None else None
                if w is not None and w[0] == key and w[1] != t:
                    votes[key] += 1 if t > w[1] else -1
        for key, seq in self.seqs.items():
            seq.reverse = votes[key] < 0 if votes[key] else seq.named_dir == "bwd"
            ts = sorted(seq.steps)
            seq.elided = set()
            if max_steps is not None and len(ts) > max_steps:
                head, tail = ts[:(max_steps + 1) // 2], ts[len(ts) - max_steps // 2:]
                seq.elided = set(ts) - set(head) - set(tail)
                seq.gap_order = head[-1] + 0.5
        if detail is not None:
            self._make_units(detail)

    # ------------------------------------------------------------ hidden states
    def hidden_states(self):
        """(sequence, t) -> (record, output index) of each step's hidden state h_t.

        h_t is the latest output, outside attention, that a step hands to another step of its
        sequence (h, not c, of an LSTM; h, not the attention context, of a decoder).  A step that
        hands nothing on (the last one) takes the output made at the same place in its step.
        """
        steps = defaultdict(list)
        for n in self.nodes:
            if n in self.where:
                steps[self.where[n]].append(n)
        chosen = {}
        for n, (key, t) in self.where.items():
            for x in n.sources:
                p = x.grad_fn if x is not None else None
                w = self.where.get(p)
                if w is not None and w[0] == key and w[1] != t:
                    rank = (not _ATTN.search(p.scope), p.position, -x._out_index)
                    if w not in chosen or rank > chosen[w][0]:
                        chosen[w] = (rank, p, x._out_index)
        places = Counter((steps[w].index(p), p.name, i) for w, (_, p, i) in chosen.items())
        out = {}
        for key, recs in steps.items():
            if key in chosen:
                out[key] = chosen[key][1:]
                continue
            out[key] = (recs[-1], 0)
            for (k, name, i), _ in places.most_common():
                if k < len(recs) and recs[k].name == name:
                    out[key] = (recs[k], i)
                    break
        return out

    # ------------------------------------------------------------ units and edges
    def _make_units(self, detail):
        self.units, self.unit_of = {}, {}
        scope_path = {}
        for seq in self.seqs.values():
            scope_path[seq.key] = seq.path
            scope_path.setdefault(seq.module, seq.path[:1])
            if seq.layer is not None:
                scope_path.setdefault(f"{seq.module}.l{seq.layer}", seq.path[:2])
        seq_index = {key: i for i, key in enumerate(self.seqs)}
        run_scope, run = None, 0
        for n in self.nodes:
            w = self.where.get(n)
            if w is not None:
                seq, t = self.seqs[w[0]], w[1]
                if t in seq.elided:
                    uid, kind, path, t = f"gap{seq_index[seq.key]}", "gap", seq.path, seq.gap_order
                else:
                    uid = f"s{seq_index[seq.key]}_{t}" if detail == "cell" else f"n{n.position}"
                    kind, path = ("cell" if detail == "cell" else "op"), seq.path + [f"cluster_{seq.key}/t={t}"]
                run_scope = None
                key = seq.key
            else:
                key, t, path = None, None, scope_path.get(n.scope, [])
                if detail == "cell" and n.scope:
                    if n.scope != run_scope:
                        run_scope, run = n.scope, run + 1
                    uid, kind = f"g{run}", "group"
                else:
                    uid, kind, run_scope = f"n{n.position}", "op", None
            unit = self.units.get(uid)
            if unit is None:
                unit = self.units[uid] = _Unit(uid, kind, key, t, path)
            unit.nodes.append(n)
            self.unit_of[n] = unit

        self.edges = {}   # (src uid, dst uid) -> {(record, output index)} carried (empty for leaves)
        self.readers = defaultdict(set)  # (src uid, sequence) -> steps t whose records read src
        leaf_ids = {}
        for n in self.nodes:
            dst = self.unit_of[n]
            for x in n.sources:
                if x is None:
                    continue
                if x.grad_fn is not None:
                    src = self.unit_of[x.grad_fn]
                    if src is dst:
                        continue
                    self.edges.setdefault((src.uid, dst.uid), set()).add((x.grad_fn, x._out_index))
                elif x.requires_grad or x._data.size > 1:
                    if id(x) not in leaf_ids:  # leaves numbered in order of first use: stable ids
                        leaf_ids[id(x)] = uid = f"v{len(leaf_ids)}"
                        self.units[uid] = _Unit(uid, "param" if x.requires_grad else "input")
                        self.units[uid].tensor = x
                    src = self.units[leaf_ids[id(x)]]
                    self.edges.setdefault((src.uid, dst.uid), set())
                else:
                    continue
                if n in self.where:
                    self.readers[(src.uid, self.where[n][0])].add(self.where[n][1])
        self._place_leaves()

    def _place_leaves(self):
        consumers = defaultdict(list)
        for src, dst in self.edges:
            if self.units[src].tensor is not None:
                consumers[src].append(self.units[dst].path)
        for uid, paths in consumers.items():
            common = paths[0]
            for p in paths[1:]:
                k = 0
                while k < min(len(common), len(p)) and common[k] == p[k]:
                    k += 1
                common = common[:k]
            self.units[uid].path = list(common)

    def module_of(self, unit):
        """The outermost cluster a unit sits in (its module), None at top level."""
        return unit.path[0] if unit.path else None

    def attention_sources(self):
        """{reading unit uid: {step unit uids of other sequences that attention records read}}."""
        attn = [n for n in self.nodes if _ATTN.search(n.scope)]
        if not attn:
            return {}
        sees = {}  # record outside steps -> step units it reads through (stack, transpose, ...)
        for n in self.nodes:
            if n not in self.where:
                s = set()
                for x in n.sources:
                    if x is not None and x.grad_fn is not None:
                        p = x.grad_fn
                        s |= {self.unit_of[p].uid} if p in self.where else sees.get(p, set())
                sees[n] = s
        out = defaultdict(set)
        for n in attn:
            dst = self.unit_of[n]
            for x in n.sources:
                if x is None or x.grad_fn is None:
                    continue
                p = x.grad_fn
                for uid in ({self.unit_of[p].uid} if p in self.where else sees.get(p, set())):
                    src = self.units[uid]
                    if src is not dst and (src.seq != dst.seq or dst.seq is None):
                        out[dst.uid].add(uid)
        return out


# ---------------------------------------------------------------- drawing
def _out_meta(node, i):
    """(shape, dtype) of a record's output i: from the tensor while it lives, else from the record."""
    out = node.outputs[i]()
    if out is not None:
        return out.shape, out.dtype
    return node.out_meta[i] if getattr(node, "out_meta", None) else None


def _fmt_shape(shape):
    return "scalar" if shape == () else "(" + ", ".join(map(str, shape)) + ")"


def _short(name):
    """A compact parameter tag: 'lstm.weight_hh_l0_reverse' -> 'W_hh'."""
    last = re.sub(r"_l\d+(_reverse)?$", "", name.rsplit(".", 1)[-1])
    return re.sub(r"^weight", "W", re.sub(r"^bias", "b", last))


def _colour(frac):
    """Colour of a point in [0, 1] along the ramp (0 = smallest norm)."""
    x = min(max(frac, 0.0), 1.0) * (len(_RAMP) - 1)
    i = min(int(x), len(_RAMP) - 2)
    a, b = (np.array([int(c[k:k + 2], 16) for k in (1, 3, 5)]) for c in (_RAMP[i], _RAMP[i + 1]))
    rgb = np.rint(a + (b - a) * (x - i)).astype(int)
    return "#%02x%02x%02x" % tuple(rgb)


def _luminance(hex_colour):
    r, g, b = (int(hex_colour[k:k + 2], 16) / 255 for k in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


class _Scale:
    """Log-scale map from gradient norms to ramp colours."""

    def __init__(self, values):
        pos = [v for v in values if v is not None and v > 0]
        self.lo, self.hi = (min(pos), max(pos)) if pos else (None, None)

    def __call__(self, v):
        if v is None or self.lo is None:
            return None
        if v <= 0:
            return "#ffffff"
        span = math.log10(self.hi) - math.log10(self.lo)
        return _colour(1.0 if span == 0 else (math.log10(v) - math.log10(self.lo)) / span)

    def legend(self):
        cells = "".join(f'<TD BGCOLOR="{_colour(i / 7)}" WIDTH="18" HEIGHT="12"></TD>' for i in range(8))
        return (f'<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="2">'
                f'<TR><TD COLSPAN="8" BORDER="0">gradient norm ‖∂L/∂·‖, log scale</TD></TR><TR>{cells}</TR>'
                f'<TR><TD COLSPAN="4" BORDER="0" ALIGN="LEFT">{self.lo:.2e}</TD>'
                f'<TD COLSPAN="4" BORDER="0" ALIGN="RIGHT">{self.hi:.2e}</TD></TR></TABLE>>')


def draw(*roots, params=None, detail="cell", show_grad=True, show_shapes=True, max_steps=None,
         rankdir="LR", title=None):
    """The graph recorded behind ``roots`` as a ``graphviz.Digraph``, unrolled in time.

    ``detail='cell'`` draws one node per time step (a fused cell record, or the
    primitives of the step's scope collapsed); ``'op'`` draws every primitive.
    ``max_steps=k`` keeps the first ceil(k/2) and last floor(k/2) steps of each
    sequence and draws the middle as one "... N steps ..." node.  ``params``
    (e.g. ``dict(model.named_parameters())``) names parameters; a parameter used
    by several steps of one sequence is drawn once, with one dashed edge to its
    first step and a "◆ name" marker on the others.  After ``viz.watch(loss)``
    and ``loss.backward()``, nodes and recurrent edges are coloured by gradient
    norm on a log scale, with a legend (``show_grad=False`` turns it off); a
    step node shows ``∇h`` = ||dL/dh_t||.  Attention records (scope ``attn``)
    get dotted edges from every encoder step they read.  ``rankdir='TB'`` turns
    time downward.  Displays inline in Jupyter; ``.source`` is the DOT text
    (no ``dot`` needed).
    """
    import graphviz
    if detail not in ("cell", "op"):
        raise ValueError(f"viz.draw: detail must be 'cell' or 'op', got {detail!r}")
    if max_steps is not None and (not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"viz.draw: max_steps must be a positive int or None, got {max_steps!r}")
    plan = _Plan(roots, "draw", detail, max_steps)
    names = {id(t): name for name, t in (params or {}).items() if t is not None}
    states = plan.hidden_states()
    units, seqs = plan.units, plan.seqs

    # gradient norm of each unit: the hidden state for a step, the output(s) of a record, .grad of a leaf
    graded = _backward_seen(plan.nodes)
    norm = {}
    for u in units.values():
        if u.kind == "cell" and graded:
            norm[u.uid] = _norm(*states[(u.seq, u.t)])
        elif u.kind in ("op", "group") and graded:
            norm[u.uid] = _norm(u.nodes[-1])
        elif u.kind == "param" and u.tensor.grad is not None:
            g = u.tensor.grad._data
            norm[u.uid] = float(np.sqrt(np.sum(np.square(g, dtype=np.float64))))

    recurrent, shared, plain, attention = _classify_edges(plan, names)

    def edge_norm(carried):
        vals = [_norm(n, i) for n, i in carried]
        if not graded or not vals or all(v is None for v in vals):
            return None
        return math.sqrt(sum((v or 0.0) ** 2 for v in vals))

    rec_norm = {k: edge_norm(c) for k, c in recurrent.items()}
    # the colour scale spans the unrolled chain (steps and recurrent edges); the rest is clamped to it
    chain = [norm.get(u.uid) for u in units.values() if u.seq is not None] + list(rec_norm.values())
    if not any(v for v in chain):  # no time steps: scale over everything
        chain = list(norm.values()) + list(rec_norm.values())
    scale = _Scale(chain) if show_grad else _Scale([])  # values outside the range are clamped

    g = graphviz.Digraph(graph_attr=dict(rankdir=rankdir, fontname="Helvetica",
                                         nodesep="0.25", ranksep="0.35"),
                         node_attr=dict(fontname="Helvetica", fontsize="10"),
                         edge_attr=dict(fontname="Helvetica", fontsize="9", color="#777777"))
    if title:
        g.attr(label=title, labelloc="t", fontsize="16")

    roots_units = {plan.unit_of[r.grad_fn].uid for r in roots if r.grad_fn is not None}
    members, children, labels = _cluster_tree(plan, rankdir)

    def node_attrs(u):
        colour = scale(norm.get(u.uid))
        lines, attrs = [], {}
        if u.kind == "gap":
            n_steps = len(seqs[u.seq].elided)
            return dict(label=f"… {n_steps} steps …", shape="plaintext", fontcolor="#555555", fontsize="12")
        if u.kind in ("param", "input"):
            t = u.tensor
            lines.append(names.get(id(t), "param" if u.kind == "param" else "input"))
            if show_shapes:
                lines.append(f"{_fmt_shape(t.shape)} {t.dtype}")
            if u.kind == "param":
                attrs = dict(shape="note", style="filled", fillcolor=colour or "#d9f0d3", color="#1b7837",
                             penwidth="1.5")
            else:
                attrs = dict(shape="ellipse", style="filled", fillcolor="#deebf7", color="#3182bd")
        else:
            lines.append(_title(u))
            if show_shapes:
                node, i = states[(u.seq, u.t)] if u.kind == "cell" else (u.nodes[-1], 0)
                meta = _out_meta(node, i)
                if meta is not None:
                    lines.append(("h " if u.kind == "cell" else "") + f"{_fmt_shape(meta[0])} {meta[1]}")
            style = "rounded,filled,bold" if u.kind == "cell" else "rounded,filled"
            attrs = dict(shape="box", style=style, fillcolor=colour or "white")
            ops = sorted({n.name for n in u.nodes})
            attrs["tooltip"] = f"{u.nodes[0].scope or '(top level)'}: {', '.join(ops)}"
            if u.uid in roots_units:
                attrs["peripheries"] = "2"
        if u.markers:
            lines.append("◆ " + ", ".join(u.markers))
        v = norm.get(u.uid)
        if show_grad and v is not None:
            lines.append(("∇h " if u.kind == "cell" else "∇ ") + f"{v:.2e}")
            attrs["tooltip"] = attrs.get("tooltip", lines[0]) + f" | grad norm {v:.3e}"
        if colour and _luminance(colour) < 0.45:
            attrs["fontcolor"] = "white"
        attrs["label"] = "\\n".join(lines)
        return attrs

    def emit(graph, cluster):
        for u in members.get(cluster, []):
            graph.node(u.uid, **node_attrs(u))
        for c in sorted(children.get(cluster, []), key=_cluster_order):
            with graph.subgraph(name=c) as sub:
                if "/t=" in c:  # a time step: white card
                    sub.attr(label=labels[c], style="rounded,filled", fillcolor="white", color="#bbbbbb",
                             fontsize="9", labeljust="l")
                else:  # module (grey), layer and direction inside it
                    sub.attr(label=labels[c], style="rounded,filled" if not cluster else "rounded",
                             fillcolor="#f4f4f4", color="#888888", fontsize="11", labeljust="l")
                emit(sub, c)

    emit(g, "")

    # edges: recurrent chain emphasised; a reverse sequence is drawn left to right with arrows pointing back
    # leaves inside step clusters (x_t) need a rank of their own between two cells
    gap_ranks = "2" if detail == "cell" and any(u.tensor is not None and u.path and "/t=" in u.path[-1]
                                                for u in units.values()) else "1"
    for (s, d), carried in recurrent.items():
        src, dst = units[s], units[d]
        colour = scale(rec_norm[(s, d)])
        # a coloured band edged in grey, so a faded (vanishing) edge stays visible on white
        attrs = dict(penwidth="3", color=f"#666666:{colour}:{colour}:#666666" if colour else "black",
                     arrowsize="0.8", minlen=gap_ranks)
        if rec_norm[(s, d)] is not None and show_grad:
            attrs["tooltip"] = f"grad norm {rec_norm[(s, d)]:.3e}"
        if dst.t < src.t:
            g.edge(d, s, dir="back", **attrs)
        else:
            g.edge(s, d, **attrs)
    for (s, d), carried in plain.items():
        src, dst = units[s], units[d]
        attrs = {}
        if src.seq is not None and dst.seq is not None and src.seq != dst.seq and \
                plan.module_of(src) == plan.module_of(dst):
            attrs["constraint"] = "false"  # layers stay stacked at the same time columns
        g.edge(s, d, **attrs)
    for (s, d), n_steps in shared.items():
        g.edge(s, d, style="dashed", color="#1b7837", label=f"×{n_steps} steps", fontcolor="#1b7837",
               constraint="false")
    for d, srcs in attention.items():
        for s in srcs:
            g.edge(s, d, style="dotted", color="#7b3294", penwidth="1.2", arrowhead="vee", weight="0")

    # (no rank=same columns across layers: across clusters dot needs newrank for that, which takes
    # minutes on 100 steps; the layers' chains start at the same rank and line up by themselves)
    if detail == "op":  # keep a reverse sequence's steps in time order
        for seq in seqs.values():
            if not seq.reverse:
                continue
            by_t = defaultdict(list)
            for u in units.values():
                if u.seq == seq.key:
                    by_t[u.t].append(u)
            ts = sorted(by_t)
            for a, b in zip(ts, ts[1:]):
                last = max(by_t[a], key=lambda u: u.nodes[-1].position)
                first = min(by_t[b], key=lambda u: u.nodes[0].position)
                g.edge(last.uid, first.uid, style="invis")

    if show_grad and scale.lo is not None:
        g.node("legend", label=scale.legend(), shape="plaintext")
    return g


def _classify_edges(plan, names):
    """Split the plan's edges into recurrent (same sequence, other step), shared (one edge per source
    feeding several steps of a sequence, the other steps get a marker), plain, and attention."""
    attention = plan.attention_sources()
    attn_pairs = {(s, d) for d, ss in attention.items() for s in ss}
    recurrent, shared, plain = {}, {}, {}
    fan = defaultdict(list)  # (source, sequence) -> step units of that sequence it feeds
    for (s, d), carried in plan.edges.items():
        src, dst = plan.units[s], plan.units[d]
        if (s, d) in attn_pairs:
            continue
        if src.seq is not None and src.seq == dst.seq and src.t != dst.t:
            recurrent[(s, d)] = carried
        elif dst.seq is not None and src.seq is None:  # a leaf or a record outside the steps
            fan[(s, dst.seq)].append(dst)
        else:
            plain[(s, d)] = carried
    for (s, key), dsts in fan.items():
        steps = {d.t for d in dsts}
        if len(steps) < 2:
            for d in dsts:
                plain[(s, d.uid)] = plan.edges[(s, d.uid)]
            continue
        first = min(dsts, key=lambda d: (d.t, d.nodes[0].position if d.nodes else 0))
        shared[(s, first.uid)] = len(plan.readers[(s, key)])
        src = plan.units[s]
        if src.tensor is None:  # a record before the loop (an input projection): the dashed edge says it
            continue
        tag = _short(names[id(src.tensor)]) if id(src.tensor) in names else src.kind
        for d in dsts:
            if d is not first and tag not in d.markers:
                d.markers.append(tag)
    return recurrent, shared, plain, attention


_DIRECTION = {"LR": ("forward →", "← backward"), "RL": ("← forward", "backward →"),
              "TB": ("forward ↓", "backward ↑"), "BT": ("forward ↑", "backward ↓")}


def _cluster_tree(plan, rankdir="LR"):
    """(units by innermost cluster, child clusters by parent, cluster labels); '' is the top level."""
    members, children, labels = defaultdict(list), defaultdict(list), {}
    arrows = _DIRECTION.get(str(rankdir).upper(), ("forward", "backward"))
    for seq in plan.seqs.values():
        names = [seq.module, f"layer {seq.layer}", arrows[seq.reverse]]
        labels.update(zip(seq.path, names if seq.layer is not None else [seq.module]))
    for u in plan.units.values():
        for i, c in enumerate(u.path):
            parent = u.path[i - 1] if i else ""
            if c not in children[parent]:
                children[parent].append(c)
            if c not in labels:
                labels[c] = "t=" + c.rsplit("/t=", 1)[-1] if "/t=" in c else c[len("cluster_"):]
        members[u.path[-1] if u.path else ""].append(u)
    return members, children, labels


def _cluster_order(name):
    """Siblings in a stable order: layers by k, forward before backward, steps by t."""
    m = re.search(r"\.l(\d+)$", name)
    if m:
        return (0, int(m.group(1)))
    if "/t=" in name:
        return (2, int(name.rsplit("/t=", 1)[1]))
    return (1, 1 if name.endswith(".bwd") else 0)


def _title(u):
    if u.kind == "cell":
        return u.nodes[0].name if len(u.nodes) == 1 else f"cell · {len(u.nodes)} ops"
    if u.kind == "group" and len(u.nodes) > 1:
        ops = list(dict.fromkeys(n.name for n in u.nodes))
        return ", ".join(ops[:3]) + (", …" if len(ops) > 3 else "") + f" ({len(u.nodes)} ops)"
    return u.nodes[0].name if u.nodes else u.kind


def render(roots, path, format=None, **draw_kwargs):
    """Draw the graph behind ``roots`` (a Tensor or a list of them) and write it to ``path``.

    ``format`` is 'svg', 'png' or 'pdf' (default: from the file name, else svg);
    other keywords go to ``draw``.  Needs the Graphviz ``dot`` program and says
    how to install it when missing.  Returns the ``Digraph``.
    """
    import shutil

    import graphviz
    roots = tuple(roots) if isinstance(roots, (list, tuple)) else (roots,)
    if format is None:
        ext = str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else ""
        format = ext if ext in ("svg", "png", "pdf") else "svg"
    if format not in ("svg", "png", "pdf"):
        raise ValueError(f"viz.render: format must be 'svg', 'png' or 'pdf', got {format!r}")
    g = draw(*roots, **draw_kwargs)
    if shutil.which("dot") is None:
        raise RuntimeError("viz.render: " + _INSTALL)
    try:
        data = g.pipe(format=format)
    except graphviz.ExecutableNotFound:
        raise RuntimeError("viz.render: " + _INSTALL) from None
    except graphviz.CalledProcessError as e:
        err = (e.stderr or b"").decode(errors="replace").strip()[-600:]
        raise RuntimeError(f"viz.render: Graphviz 'dot -T{format}' failed: {err}") from None
    with open(path, "wb") as f:
        f.write(data)
    return g
