"""tinybptt.viz: the DOT structure of unrolled graphs, gradient norms per step, real rendering with dot."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

import tinybptt as tb
from tinybptt import nn, viz

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ---------------------------------------------------------------- helpers
def hand_rnn(T=5, B=2, D=3, H=4, name="rnn", scale=1.0, seed=0, dtype=np.float64, loss="last"):
    """An Elman RNN unrolled from primitives, each step in scope f'{name}.l0.fwd/t={t}'."""
    rng = np.random.default_rng(seed)
    W_ih = tb.tensor(rng.standard_normal((H, D)) * 0.5, dtype=dtype, requires_grad=True)
    q, _ = np.linalg.qr(rng.standard_normal((H, H)))
    W_hh = tb.tensor(q * scale, dtype=dtype, requires_grad=True)  # all singular values == scale
    b = tb.tensor(np.zeros(H), dtype=dtype, requires_grad=True)
    x = tb.tensor(rng.standard_normal((T, B, D)), dtype=dtype)
    h, hs = tb.zeros(B, H, dtype=dtype), []
    for t in range(T):
        with tb.scope(f"{name}.l0.fwd"), tb.scope(f"t={t}"):
            h = tb.tanh(x[t] @ W_ih.T + h @ W_hh.T + b)
        hs.append(h)
    out = (h * h).sum() if loss == "last" else sum((v * v).sum() for v in hs)
    return out, dict(weight_ih_l0=W_ih, weight_hh_l0=W_hh, bias_l0=b), hs


def parse_dot(src):
    """{'parent': cluster -> parent cluster, 'home': node -> innermost cluster,
    'label': node -> label, 'edges': [(tail, head, attrs)]} from a DOT source."""
    parent, home, label, edges, stack = {}, {}, {}, [], [""]
    attr = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')
    for line in src.splitlines():
        s = line.strip()
        m = re.match(r'subgraph\s+"?([^"{]*?)"?\s*\{$', s)
        if m or s == "{":
            name = m.group(1) if m else None
            if name:
                parent[name] = stack[-1]
            stack.append(name or stack[-1])
            continue
        if s == "}":
            stack.pop()
            continue
        m = re.match(r'"?([\w.]+)"?\s*->\s*"?([\w.]+)"?\s*(?:\[(.*)\])?$', s)
        if m:
            edges.append((m.group(1), m.group(2), {k: v.strip('"') for k, v in attr.findall(m.group(3) or "")}))
            continue
        m = re.match(r'"?([\w.]+)"?\s+\[(.*)\]$', s)
        if m and m.group(1) not in ("graph", "node", "edge"):
            a = {k: v.strip('"') for k, v in attr.findall(m.group(2))}
            home[m.group(1)] = stack[-1]
            label[m.group(1)] = a.get("label", "")
    return dict(parent=parent, home=home, label=label, edges=edges)


def step_of(dot, node):
    """(sequence, t) of the step cluster a node sits in, or None."""
    c = dot["home"].get(node, "")
    m = re.fullmatch(r"cluster_(.*)/t=(\d+)", c)
    return (m.group(1), int(m.group(2))) if m else None


def recurrent_edges(dot):
    return [(a, b, at) for a, b, at in dot["edges"] if at.get("penwidth") == "3"]


def fill(src, node):
    return re.search(rf'\b{node} \[.*?fillcolor="(#[0-9a-f]{{6}})"', src).group(1)


def luminance(c):
    r, g, b = (int(c[k:k + 2], 16) / 255 for k in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def bilstm(T=4, fused=True, seed=0):
    tb.manual_seed(seed)
    m = nn.LSTM(3, 4, num_layers=2, bidirectional=True, fused=fused)
    y, _ = m(tb.randn(T, 2, 3))
    return (y * y).mean(), m


# ---------------------------------------------------------------- structure
def test_one_cluster_per_step_nested_in_layer_and_direction():
    loss, m = bilstm(T=4)
    dot = parse_dot(viz.draw(loss, params=dict(m.named_parameters())).source)
    for k in (0, 1):
        for d in ("fwd", "bwd"):
            seq = f"lstm.l{k}.{d}"
            steps = sorted(int(c.rsplit("=", 1)[1]) for c in dot["parent"] if c.startswith(f"cluster_{seq}/t="))
            assert steps == [0, 1, 2, 3]
            for t in steps:  # step -> direction -> layer -> module
                assert dot["parent"][f"cluster_{seq}/t={t}"] == f"cluster_{seq}"
            assert dot["parent"][f"cluster_{seq}"] == f"cluster_lstm.l{k}"
            assert dot["parent"][f"cluster_lstm.l{k}"] == "cluster_lstm"
    # detail='cell': exactly one op node per step cluster (the fused LSTMCell record)
    cells = [n for n, c in dot["home"].items() if "/t=" in c and dot["label"][n].startswith("LSTMCell")]
    assert len(cells) == 2 * 2 * 4


@pytest.mark.parametrize("fused", [True, False])
def test_recurrent_edges_join_step_t_minus_1_to_t(fused):
    loss, m = bilstm(T=5, fused=fused)
    src = viz.draw(loss).source
    dot = parse_dot(src)
    rec = recurrent_edges(dot)
    assert len(rec) == 4 * (5 - 1)
    seen = set()
    for a, b, attrs in rec:
        (sa, ta), (sb, tb_) = step_of(dot, a), step_of(dot, b)
        assert sa == sb and tb_ == ta + 1  # drawn from t-1 to t: time runs left to right
        # the backward direction's arrows point the other way (h_{t+1} -> h_t)
        assert (attrs.get("dir") == "back") == sa.endswith(".bwd")
        seen.add((sa, ta))
    assert seen == {(f"lstm.l{k}.{d}", t) for k in (0, 1) for d in ("fwd", "bwd") for t in range(4)}
    assert 'label="← backward"' in src and 'label="forward →"' in src


def test_detail_op_draws_every_primitive_and_cell_collapses_a_step():
    loss, params, _ = hand_rnn(T=3)
    n_records = len(viz._graph_nodes([loss], "draw"))
    op = parse_dot(viz.draw(loss, detail="op").source)
    ops = [n for n in op["home"] if n.startswith("n")]
    assert len(ops) == n_records
    assert {"MatMul", "Add", "Tanh"} <= {op["label"][n].split("\\n")[0] for n in ops}
    cell = parse_dot(viz.draw(loss, detail="cell").source)
    in_steps = [n for n, c in cell["home"].items() if "/t=" in c and not n.startswith("v")]
    assert sorted(step_of(cell, n)[1] for n in in_steps) == [0, 1, 2]
    assert all(cell["label"][n].startswith("cell · 7 ops") for n in in_steps)
    # in op mode the recurrent edges join the Tanh of step t-1 to the MatMul of step t
    for a, b, _ in recurrent_edges(op):
        assert step_of(op, b)[1] == step_of(op, a)[1] + 1
        assert op["label"][a].startswith("Tanh") and op["label"][b].startswith("MatMul")
    assert len(recurrent_edges(op)) == 2


def test_labels_show_op_shape_dtype_and_can_hide_shapes():
    loss, params, _ = hand_rnn(T=2, dtype=np.float32)
    dot = parse_dot(viz.draw(loss, params=params, detail="op").source)
    assert any(lab == "Tanh\\n(2, 4) float32" for lab in dot["label"].values())
    assert any(lab.startswith("weight_hh_l0\\n(4, 4) float32") for lab in dot["label"].values())
    assert any(lab.startswith("input\\n(2, 3) float32") for lab in dot["label"].values())
    bare = parse_dot(viz.draw(loss, detail="op", show_shapes=False).source)
    assert not any("float32" in lab for lab in bare["label"].values())


@pytest.mark.parametrize("max_steps,kept", [(4, [0, 1, 18, 19]), (5, [0, 1, 2, 18, 19]), (1, [0])])
def test_max_steps_keeps_first_and_last_steps(max_steps, kept):
    loss, params, _ = hand_rnn(T=20)
    src = viz.draw(loss, max_steps=max_steps).source
    dot = parse_dot(src)
    steps = sorted(int(c.rsplit("=", 1)[1]) for c in dot["parent"] if "/t=" in c)
    assert steps == kept
    n_gap = 20 - len(kept)
    gaps = [n for n, lab in dot["label"].items() if lab == f"… {n_gap} steps …"]
    assert len(gaps) == 1 and dot["home"][gaps[0]] == "cluster_rnn.l0.fwd"
    # the chain runs through the elision: last head step -> gap -> first tail step
    rec = {(a, b) for a, b, _ in recurrent_edges(dot)}
    head = kept[:(max_steps + 1) // 2]
    assert (f"s0_{head[-1]}", gaps[0]) in rec
    if max_steps > 1:
        assert (gaps[0], f"s0_{kept[len(head)]}") in rec
    assert len(rec) == len(kept)  # len(kept) - 1 edges between kept steps + the 2 around the gap - 1


def test_long_sequence_is_drawn_without_recursion_and_elided():
    loss, params, _ = hand_rnn(T=1500, B=1, D=2, H=2)
    dot = parse_dot(viz.draw(loss, max_steps=6).source)
    assert sorted(int(c.rsplit("=", 1)[1]) for c in dot["parent"] if "/t=" in c) == [0, 1, 2, 1497, 1498, 1499]
    assert "… 1494 steps …" in dot["label"].values()


@pytest.mark.parametrize("fused", [True, False])
def test_shared_parameters_drawn_once_per_layer_with_one_edge(fused):
    loss, m = bilstm(T=4, fused=fused)
    params = dict(m.named_parameters())
    dot = parse_dot(viz.draw(loss, params=params).source)
    for name in params:
        nodes = [n for n, lab in dot["label"].items() if lab.split("\\n")[0] == name]
        assert len(nodes) == 1, name
        k, rev = re.search(r"_l(\d)", name).group(1), name.endswith("_reverse")
        assert dot["home"][nodes[0]] == f"cluster_lstm.l{k}.{'bwd' if rev else 'fwd'}"
        out = [(b, at) for a, b, at in dot["edges"] if a == nodes[0]]
        assert len(out) == 1, name  # one edge (no hairball), not one per step
    # W_hh reaches every step: one dashed edge labelled with the step count, markers on the others
    whh = next(n for n, lab in dot["label"].items() if lab.startswith("weight_hh_l0\\n"))
    (b, at), = [(b, at) for a, b, at in dot["edges"] if a == whh]
    assert at["style"] == "dashed" and at["label"] == "×4 steps" and step_of(dot, b) == ("lstm.l0.fwd", 0)
    marked = [n for n, lab in dot["label"].items() if "◆" in lab and "W_hh" in lab and
              step_of(dot, n) is not None and step_of(dot, n)[0] == "lstm.l0.fwd"]
    assert sorted(step_of(dot, n)[1] for n in marked) == ([1, 2, 3] if fused else [1, 2, 3])


# ---------------------------------------------------------------- gradients
def test_grad_norms_by_step_equal_norms_of_retained_hidden_grads():
    loss, params, hs = hand_rnn(T=6, loss="all")
    for h in hs:
        h.retain_grad()
    viz.watch(loss)
    loss.backward()
    got = viz.grad_norms_by_step(loss)
    assert list(got) == ["rnn.l0.fwd"]
    want = [np.linalg.norm(h.grad.numpy()) for h in hs]
    np.testing.assert_allclose(got["rnn.l0.fwd"], want, rtol=1e-12)


@pytest.mark.parametrize("fused", [True, False])
def test_grad_norms_by_step_match_pytorch_lstm_unrolled(fused):
    tb.manual_seed(1)
    m = nn.LSTM(3, 5, fused=fused, dtype=tb.float64)
    x = np.random.default_rng(1).standard_normal((6, 2, 3))
    y, _ = m(tb.tensor(x))
    w = np.linspace(0.5, 2.0, 6)[:, None, None]
    loss = (y * y * tb.tensor(w)).sum()
    viz.watch(loss).backward()
    got = viz.grad_norms_by_step(loss)["lstm.l0.fwd"]

    cell = torch.nn.LSTMCell(3, 5, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.tensor(getattr(m, name + "_l0").detach().numpy()))
    h = c = torch.zeros(2, 5, dtype=torch.float64)
    hs = []
    for t in range(6):
        h, c = cell(torch.tensor(x[t]), (h, c))
        h.retain_grad()
        hs.append(h)
    (torch.stack(hs) ** 2 * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(got, [float(h.grad.norm()) for h in hs], rtol=1e-10)


def test_contracting_recurrence_fades_monotonically_toward_the_past():
    loss, params, _ = hand_rnn(T=8, scale=0.5)
    viz.watch(loss).backward()
    norms = viz.grad_norms_by_step(loss)["rnn.l0.fwd"]
    assert np.all(np.diff(norms) > 0)  # ||W_hh|| = 0.5 and |tanh'| <= 1: each step back shrinks it
    src = viz.draw(loss, params=params).source
    lum = [luminance(fill(src, f"s0_{t}")) for t in range(8)]
    assert all(a > b for a, b in zip(lum, lum[1:])), lum  # paler toward t=0
    dot = parse_dot(src)
    rec = sorted(recurrent_edges(dot), key=lambda e: step_of(dot, e[0])[1])
    edge_lum = [luminance(at["color"].split(":")[1]) for _, _, at in rec]  # grey:colour:colour:grey
    assert all(a > b for a, b in zip(edge_lum, edge_lum[1:])), edge_lum
    labels = [dot["label"][f"s0_{t}"] for t in range(8)]
    assert [float(lab.rsplit("∇h ", 1)[1]) for lab in labels] == pytest.approx(norms, rel=1e-2)
    # the legend gives the range of the scale
    legend = re.search(r"legend \[label=<(.*)> shape", src).group(1)
    assert f"{norms.min():.2e}" in legend and f"{norms.max():.2e}" in legend


def test_exploding_recurrence_burns_toward_the_past_and_show_grad_off():
    loss, params, _ = hand_rnn(T=6, scale=3.0, H=4)
    viz.watch(loss).backward()
    norms = viz.grad_norms_by_step(loss)["rnn.l0.fwd"]
    src = viz.draw(loss).source
    lum = np.array([luminance(fill(src, f"s0_{t}")) for t in range(6)])
    order = np.argsort(norms)
    assert np.all(np.diff(lum[order]) <= 1e-9)  # larger norm, darker colour, whatever the order
    plain = viz.draw(loss, show_grad=False).source
    assert "legend" not in plain and "∇" not in plain


def test_grad_norms_need_watch_before_backward():
    loss, _, _ = hand_rnn(T=3)
    loss.backward()
    with pytest.raises(RuntimeError, match=r"viz.watch\(loss\).*before loss.backward"):
        viz.grad_norms_by_step(loss)
    src = viz.draw(loss).source  # still draws; only the parameters' .grad can be coloured
    assert "∇h" not in src and "∇ " in src


# ---------------------------------------------------------------- attention
def test_attention_edges_go_from_every_encoder_step_to_the_decoder_step():
    tb.manual_seed(0)
    enc, cell = nn.GRU(3, 4), nn.GRUCell(4, 4)
    attn = nn.DotAttention(4, 4)
    ys, h_n = enc(tb.randn(5, 2, 3))
    keys, h, ctx, loss = ys.transpose(0, 1), h_n[0], tb.zeros(2, 4), 0
    for s in range(3):
        with tb.scope("decoder"), tb.scope(f"t={s}"):
            h = cell(ctx, h)
            ctx, _ = attn(h, keys)
        loss = loss + (ctx * ctx).sum()
    dot = parse_dot(viz.draw(loss).source)
    attn_edges = [(step_of(dot, a), step_of(dot, b)) for a, b, at in dot["edges"] if at.get("style") == "dotted"]
    assert sorted(attn_edges) == sorted((("gru.l0.fwd", te), ("decoder", td)) for te in range(5) for td in range(3))
    # the decoder's own chain is still recurrent, and its hidden state is h, not the context
    assert len([1 for a, b, _ in recurrent_edges(dot) if step_of(dot, a)[0] == "decoder"]) == 2
    plan = viz._Plan([loss], "test")
    node, i = plan.hidden_states()[("decoder", 2)]
    assert node.name == "GRUCell" and "attn" not in node.scope


# ---------------------------------------------------------------- rendering
def test_render_svg_with_dot_holds_the_expected_clusters(tmp_path):
    loss, m = bilstm(T=3)
    viz.watch(loss).backward()
    path = tmp_path / "g.svg"
    g = viz.render(loss, str(path), params=dict(m.named_parameters()), title="biLSTM")
    assert g.source.startswith("digraph")
    ns = {"s": "http://www.w3.org/2000/svg"}
    root = ET.parse(path).getroot()
    titles = [c.find("s:title", ns).text for c in root.iter("{http://www.w3.org/2000/svg}g")
              if c.get("class") == "cluster"]
    for k in (0, 1):
        for d in ("fwd", "bwd"):
            assert sorted(t for t in titles if t.startswith(f"cluster_lstm.l{k}.{d}/t=")) == \
                [f"cluster_lstm.l{k}.{d}/t={t}" for t in range(3)]
            assert f"cluster_lstm.l{k}.{d}" in titles
    texts = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
    assert "LSTMCell" in texts and "weight_hh_l1_reverse" in texts and "biLSTM" in texts
    for fmt in ("png", "pdf"):
        viz.render([loss], str(tmp_path / f"g.{fmt}"))
        head = (tmp_path / f"g.{fmt}").read_bytes()[:4]
        assert head == (b"\x89PNG" if fmt == "png" else b"%PDF")


def test_render_without_dot_says_how_to_install(tmp_path, monkeypatch):
    loss, _, _ = hand_rnn(T=2)
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on this PATH
    g = viz.draw(loss)  # drawing needs no dot
    assert "cluster_rnn.l0.fwd/t=1" in g.source
    with pytest.raises(RuntimeError, match=r"apt-get install graphviz.*brew install graphviz"):
        viz.render(loss, str(tmp_path / "g.svg"))


def test_bad_arguments_are_named():
    loss, _, _ = hand_rnn(T=2)
    with pytest.raises(ValueError, match="detail"):
        viz.draw(loss, detail="ops")
    with pytest.raises(ValueError, match="max_steps"):
        viz.draw(loss, max_steps=0)
    with pytest.raises(TypeError, match="viz.draw"):
        viz.draw(np.ones(3))
    with pytest.raises(ValueError, match="format"):
        viz.render(loss, "x.gif", format="gif")


def test_command_line_renders_a_named_model(tmp_path):
    out = tmp_path / "rnn.svg"
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "render_graph.py"), "rnn", "-o", str(out),
                        "--steps", "4"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "rnn.l0.fwd" in r.stdout and out.exists()
    root = ET.parse(out).getroot()
    titles = {c.find("{http://www.w3.org/2000/svg}title").text for c in root.iter("{http://www.w3.org/2000/svg}g")
              if c.get("class") == "cluster"}
    assert {f"cluster_rnn.l0.fwd/t={t}" for t in range(4)} <= titles


def test_watch_without_backward_yet_gives_no_numbers():
    loss, _, _ = hand_rnn(T=3)
    viz.watch(loss)
    with pytest.raises(RuntimeError, match="no gradient norms were recorded"):
        viz.grad_norms_by_step(loss)
    assert "∇" not in viz.draw(loss).source and "legend" not in viz.draw(loss).source
    loss.backward()
    assert viz.grad_norms_by_step(loss)["rnn.l0.fwd"].shape == (3,)
