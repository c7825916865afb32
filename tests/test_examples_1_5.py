"""Examples 1-5 run in their --quick setting and reproduce their claims (not just "they run")."""
import math
import os
import subprocess
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # as the examples run (common.py)
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))

import adding_problem  # noqa: E402
import char_lm  # noqa: E402
import clipping  # noqa: E402
import gradient_flow  # noqa: E402
import truncation_blind_spot  # noqa: E402


def quick(module, tmp_path, *extra):
    return module.main(["--quick", "--out", str(tmp_path), *extra])


def test_char_lm_beats_bigram_saves_resumes_and_draws(tmp_path):
    r = quick(char_lm, tmp_path)
    # the bigram model is a real baseline (far below uniform), and the LSTM is below it on unseen files
    assert r["bigram_bpc"] < math.log2(char_lm.V) - 2
    assert r["val_bpc"] < r["bigram_bpc"] - 0.1
    assert os.path.exists(r["checkpoint"]) and r["steps"] == 150
    assert (tmp_path / "bits_per_char.png").stat().st_size > 0
    svg = open(r["graph"]).read()
    assert "<svg" in svg and "t=5" in svg and "t=6" not in svg  # one window of 6 steps, unrolled

    # --resume continues from the checkpoint: the update count goes on and the model is the trained one
    r2 = quick(char_lm, tmp_path, "--resume", "--steps", "5")
    assert r2["steps"] == 155
    assert r2["val_bpc"] < r["bigram_bpc"]


def test_char_lm_bigram_is_add_one_counts():
    train, valid = np.array([0, 1, 0, 1, 2]), np.array([0, 1, 2])
    V = char_lm.V
    p01 = (2 + 1) / (2 + V)  # 0 -> 1 seen twice after 0, which occurs twice as a predecessor
    p12 = (1 + 1) / (2 + V)  # 1 -> 2 seen once; 1 occurs twice as a predecessor
    assert char_lm.bigram_bits(train, valid) == pytest.approx(-(math.log2(p01) + math.log2(p12)) / 2)


def test_adding_problem_gated_cells_solve_it_rnn_does_not(tmp_path):
    r = quick(adding_problem, tmp_path)
    assert r["RNN_T30"] > 0.1  # stuck near the trivial 1/6
    assert r["LSTM_T30"] < 0.01 and r["GRU_T30"] < 0.01
    assert (tmp_path / "adding_problem.png").exists()


def test_adding_batch_target_is_sum_of_marked_values():
    x, y = adding_problem.adding_batch(np.random.default_rng(0), 8, 20)
    x = x.numpy()
    assert (x[:, :, 1].sum(0) == 2).all()
    np.testing.assert_allclose(y.numpy()[:, 0], (x[:, :, 0] * x[:, :, 1]).sum(0), rtol=1e-6)


def test_gradient_flow_matches_the_linear_recurrence(tmp_path):
    r = quick(gradient_flow, tmp_path)
    T = r["T"]
    k = np.arange(T)[::-1]
    for name, s in r["bounds"].items():
        g = r["linear"][name]
        assert (g <= s ** k * (1 + 1e-4)).all(), name
        # independent oracle: for a linear RNN dL/dh_t = (W^T)^(T-1-t) v exactly
        W, v = r["matrices"][name].astype(np.float64), r["v"].astype(np.float64)
        want, back = [], v
        for _ in range(T):
            want.append(np.linalg.norm(back))
            back = W.T @ back
        np.testing.assert_allclose(g, want[::-1], rtol=2e-3, atol=1e-9)
    assert r["linear"]["||W||=0.9"][0] < 1e-2 and r["linear"]["||W||=1.1"][0] > 10
    assert np.abs(r["linear"]["orthogonal"] - 1).max() < 1e-3
    assert r["tanh"]["orthogonal"][0] < 0.1 * r["linear"]["orthogonal"][0]
    assert r["tanh"]["residual RNN"][0] > 100 * r["tanh"]["||W||=1.0"][0]
    assert "cluster" in open(r["graph"]).read()


def test_truncation_blind_spot(tmp_path):
    r = quick(truncation_blind_spot, tmp_path)
    tau = r["tau"]
    assert (r["reach"][:tau] == 0).all() and (r["reach"][tau:] > 0).all()  # exactly zero, not small
    assert (r["reach_short"] == 0).all()
    assert r["acc_short"].mean() < 0.4 and r["acc_long"].mean() > 0.9  # chance is 0.25
    assert r["records_fixed"][:tau].mean() < 0.5 and r["records_fixed"][tau:].mean() > 0.9
    assert r["records_staggered"].min() > 0.9


def test_clipping_unclipped_diverges_clipped_trains(tmp_path):
    r = quick(clipping, tmp_path)
    assert r["diverged_at"] is not None and not np.isfinite(r["unclipped_losses"][-1])
    clipped = r["clipped_losses"]
    assert np.isfinite(clipped).all() and np.isfinite(r["clipped_norms"]).all()
    assert clipped[-50:].mean() < 0.6 * clipped[:50].mean()  # the noisy loss of a clipped SGD run goes down
    assert np.nanmax(r["unclipped_norms"]) > 1e3  # the spike that threw the weights away


def test_example_runs_as_a_script(tmp_path):
    env = dict(os.environ, PYTHONPATH="")
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "gradient_flow.py"), "--quick",
                        "--out", str(tmp_path)], capture_output=True, text=True, env=env, cwd=str(tmp_path),
                       timeout=300)
    assert p.returncode == 0, p.stderr
    assert "REPRODUCED" in p.stdout and "NOT reproduced" not in p.stdout
    assert (tmp_path / "gradient_flow.png").exists()
