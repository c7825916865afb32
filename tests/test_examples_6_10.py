"""Examples 6-10 run in their --quick setting and show what they claim.

Each test trains the example's real models (seconds each) and checks the claim
with thresholds far from what chance or a broken model gives.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))

import bidirectional_tagging  # noqa: E402
import date_translation  # noqa: E402
import dna_multitask  # noqa: E402
import light_curves  # noqa: E402
import ticker_ctc  # noqa: E402


def _run(module, tmp_path):
    out = tmp_path / module.__name__
    result = module.main(["--quick", "--out", str(out)])
    return result, {p.name for p in out.iterdir()}


def test_tagging_data_labels_match_their_definition():
    tokens, lengths, past, future = bidirectional_tagging.tagging_batch(np.random.default_rng(0), 50, 20)
    K, mark = bidirectional_tagging.K, bidirectional_tagging.MARK
    for b in range(50):
        n = lengths[b]
        assert (tokens[b, n:] == bidirectional_tagging.PAD).all() and (tokens[b, :n] != bidirectional_tagging.PAD).all()
        for t in range(20):
            want_past = int((tokens[b, max(t - K + 1, 0):t + 1] == mark).any()) if K - 1 <= t < n else -100
            want_future = int((tokens[b, t + 1:t + 1 + K] == mark).any()) if t + K < n else -100
            assert past[b, t] == want_past and future[b, t] == want_future
    scored = future[future != -100]
    assert 0.4 < scored.mean() < 0.6  # balanced by the choice of the marker rate


def test_bidirectional_tagging(tmp_path):
    r, files = _run(bidirectional_tagging, tmp_path)
    # both models learn the past-dependent tag (so the one-directional model is not simply broken)
    assert r["uni_past"] > 0.95 and r["bi_past"] > 0.95
    # the future tag: only the bidirectional model gets it; the other stays at the majority guess (~0.5)
    assert r["bi_future"] > 0.9
    assert 0.4 < r["chance_future"] < 0.6
    assert r["uni_future"] < r["chance_future"] + 0.03
    # and the reason: no gradient from the future inputs in the one-directional graph
    assert r["uni_grad_after"] == 0.0 and r["bi_grad_after"] > 1e-6
    assert {"accuracy.png", "example_sequence.png", "unrolled_graph.svg"} <= files


def test_light_curve_data_classes_differ():
    flux, labels = light_curves.light_curves(np.random.default_rng(0), 500, 100)
    assert flux.shape == (500, 100) and flux.dtype == np.float32
    assert set(labels) == set(range(len(light_curves.CLASSES)))
    spread = {c: np.ptp(flux[labels == c], axis=1).mean() for c in range(5)}
    assert spread[0] < spread[1] and spread[0] < spread[4]  # quiet stars vary least
    assert flux[labels == 1].max(1).mean() > 1.1  # flares brighten
    assert flux[labels == 3].min(1).mean() < flux[labels == 0].min(1).mean()  # transits dim


def test_light_curves(tmp_path):
    r, files = _run(light_curves, tmp_path)
    # five balanced classes: chance is 0.2; both classifiers must be far above it
    assert r["acc_1layer"] > 0.7 and r["acc_2layer"] > 0.7
    assert r["params_2layer"] > r["params_1layer"]
    # the claim: the stacked model learns faster (validation accuracy averaged over the training checks)
    assert r["mean_acc_2layer"] > r["mean_acc_1layer"]
    assert len(r["curve_1layer"]) == len(r["curve_2layer"]) >= 5
    assert {"light_curves.png", "accuracy.png", "unrolled_graph.svg"} <= files


def test_date_formats_round_trip():
    rng = np.random.default_rng(0)
    for _ in range(300):
        text, iso, spans = date_translation.write_date(rng)
        y, m, d = (int(v) for v in iso.split("-"))
        assert int(text[slice(*spans["y"])]) == y
        assert int(text[slice(*spans["d"])]) == d
        month = text[slice(*spans["m"])]
        assert (int(month) if month.isdigit() else
                [n[:3].lower() for n in date_translation.MONTHS].index(month[:3].lower()) + 1) == m


def test_date_translation(tmp_path):
    r, files = _run(date_translation, tmp_path)
    # guessing gets ~0 exact matches of 10 characters; a few seconds of training gets most dates right
    assert r["exact_match"] > 0.3 and r["char_accuracy"] > 0.85
    # the alignment nobody labelled: the largest attention weight sits on the right field of the input
    assert r["alignment"] > 0.6
    # attention is a shortcut in the graph, and it shows: the plain encoder-decoder gets few or no dates right
    assert r["hops_attention"] < r["hops_chain"]
    assert r["exact_match"] > r["exact_match_no_attention"] + 0.25
    assert {"attention.png", "training.png", "unrolled_graph.svg"} <= files


def test_dna_labels_are_exact():
    bases, has, inside = dna_multitask.dna_batch(np.random.default_rng(0), 200, 30)
    text = ["".join(dna_multitask.BASES[b] for b in row) for row in bases]
    for s, h, ins in zip(text, has, inside):
        assert h == (dna_multitask.MOTIF in s)
        starts = [i for i in range(len(s)) if s.startswith(dna_multitask.MOTIF, i)]
        want = np.zeros(len(s), int)
        for i in starts:
            want[i:i + len(dna_multitask.MOTIF)] = 1
        assert (ins == want).all()
    assert 0.35 < has.mean() < 0.65


def test_dna_multitask(tmp_path):
    r, files = _run(dna_multitask, tmp_path)
    # many-to-one head: the majority guess is ~0.5
    assert r["seq_acc"] > 0.9 and r["majority"] < 0.6
    # many-to-many head: F1 on the rare 'inside' class (all-outside gives accuracy ~0.91 but F1 0)
    assert r["base_f1"] > 0.8 and r["base_acc"] > r["all_outside"]
    assert {"training.png", "per_base.png", "unrolled_graph.svg"} <= files


def test_ticker_frames_show_each_digit_where_its_span_says():
    x, lengths, targets, target_lengths, numbers, spans = ticker_ctc.ticker_batch(np.random.default_rng(0), 20, 0.0)
    for b, number in enumerate(numbers):
        assert target_lengths[b] == len(number) and list(targets[b, :len(number)]) == [int(c) + 1 for c in number]
        assert (targets[b, len(number):] == 0).all()
        lit = np.zeros(lengths[b], bool)
        for d, (s, e) in zip(number, spans[b]):
            frames = x[s:e + 1, b]
            assert 3 <= len(frames) <= 7 and (frames <= ticker_ctc.SEGMENTS[int(d)]).all()  # flicker only dims
            assert frames.sum() > 0.5 * len(frames) * ticker_ctc.SEGMENTS[int(d)].sum()
            lit[s:e + 1] = True
        assert (x[:lengths[b], b][~lit] == 0).all() and (x[lengths[b]:, b] == 0).all()  # dark gaps, padding
        assert all(s1 - e0 >= 2 for (_, e0), (s1, _) in zip(spans[b], spans[b][1:]))  # a dark frame between digits


def test_ticker_greedy_decode_merges_repeats_and_drops_blanks():
    path = np.array([0, 3, 3, 0, 3, 1, 1, 0, 10])  # blank, "2", "2" again after a blank, "0", "9"
    log_probs = np.log(np.eye(11)[path][:, None, :] * 0.9 + 0.01)
    assert ticker_ctc.greedy_decode(log_probs, [9]) == ["2209"]
    assert ticker_ctc.greedy_decode(log_probs, [3]) == ["2"]
    assert ticker_ctc.edit_distance("2209", "209") == 1 and ticker_ctc.edit_distance("", "12") == 2


def test_ticker_ctc_learns_to_read_without_alignment(tmp_path):
    r, files = _run(ticker_ctc, tmp_path)
    assert r["last_loss"] < r["first_loss"] / 5
    assert r["cer"] < 0.1 and r["number_acc"] > 0.5  # all-blank output would be CER 1.0, accuracy 0
    # peaky outputs: mostly blank, and a digit wins far fewer frames than it is lit for
    assert r["blank_frames"] > 0.6 and r["frames_per_emission"] < r["frames_per_digit"] / 2
    assert {"training.png", "spikes.png", "unrolled_graph.svg"} <= files
