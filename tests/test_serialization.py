"""tinybptt.save / tinybptt.load: round trips, checkpoint resume, and clear errors on bad files."""
import io
import json
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tinybptt as tb
from tinybptt import nn, optim


def model_and_optimizer():
    model = nn.Sequential(nn.Embedding(7, 4), nn.Linear(4, 3))
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    return model, opt


def train(model, opt, steps, seed):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        idx = tb.tensor(rng.integers(0, 7, 5))
        target = tb.tensor(rng.integers(0, 3, 5))
        opt.zero_grad()
        nn.functional.cross_entropy(model(idx), target).backward()
        opt.step()


def test_round_trip_of_mixed_structure(tmp_path):
    obj = {
        "arrays": [np.arange(6, dtype=np.int64).reshape(2, 3), np.zeros((0, 4), np.float32), np.array(2.5),
                   np.array([True, False])],
        "tuple": (1, 2.0, "three", None, False),
        "numbers": {"int": 3, "float": 0.1, "nan": float("nan"), "np": np.float32(1.5)},
        7: "int key",
        (1, 2): "tuple key",
        "ordered": OrderedDict([("b", 1), ("a", 2)]),
        "tensor": tb.tensor([1.0, 2.0], requires_grad=True),
        "param": nn.Parameter(np.ones(2)),
    }
    tb.save(obj, tmp_path / "x.pt")
    back = tb.load(tmp_path / "x.pt")
    assert set(back) == set(obj)
    for a, b in zip(back["arrays"], obj["arrays"]):
        assert a.dtype == b.dtype and a.shape == b.shape and (a == b).all()
    assert back["tuple"] == obj["tuple"] and isinstance(back["tuple"], tuple)
    assert back["numbers"]["int"] == 3 and back["numbers"]["float"] == 0.1 and np.isnan(back["numbers"]["nan"])
    assert back["numbers"]["np"] == np.float32(1.5) and back["numbers"]["np"].dtype == np.float32
    assert back[7] == "int key" and back[(1, 2)] == "tuple key"
    assert type(back["ordered"]) is OrderedDict and list(back["ordered"]) == ["b", "a"]
    assert isinstance(back["tensor"], tb.Tensor) and back["tensor"].requires_grad
    assert back["tensor"].detach().numpy().tolist() == [1.0, 2.0]
    assert isinstance(back["param"], nn.Parameter) and back["param"].dtype == np.float64


def test_writes_exactly_the_given_path_and_file_objects(tmp_path):
    path = tmp_path / "model.pt"
    tb.save({"a": np.ones(2)}, str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]  # no '.npz' appended, no temp left
    assert zipfile.is_zipfile(path)
    buf = io.BytesIO()
    tb.save({"a": np.ones(2)}, buf)
    buf.seek(0)
    assert tb.load(buf)["a"].tolist() == [1.0, 1.0]


def test_model_and_optimizer_checkpoint_resumes_identically(tmp_path):
    tb.manual_seed(1)
    model, opt = model_and_optimizer()
    train(model, opt, 3, seed=0)
    tb.save({"model": model.state_dict(), "optim": opt.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    train(model, opt, 4, seed=1)

    model2, opt2 = model_and_optimizer()
    ckpt = tb.load(tmp_path / "ckpt.pt")
    assert ckpt["epoch"] == 3 and list(ckpt["model"]) == ["0.weight", "1.weight", "1.bias"]
    assert set(ckpt["optim"]["state"]) == {0, 1, 2}
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optim"])
    train(model2, opt2, 4, seed=1)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(model2.state_dict()[k], v)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        tb.load(tmp_path / "nope.pt")


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, 0.99])
def test_truncated_file(tmp_path, keep):
    path = tmp_path / "ckpt.pt"
    model, opt = model_and_optimizer()
    tb.save({"model": model.state_dict(), "optim": opt.state_dict()}, path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(RuntimeError, match="ckpt.pt") as e:
        tb.load(path)
    assert "truncated" in str(e.value) or "empty" in str(e.value)


@pytest.mark.parametrize("content", [b"hello, this is not a checkpoint\n", b"\x80\x04\x95pickled", b"PK\x03\x04junk"])
def test_foreign_file(tmp_path, content):
    path = tmp_path / "foreign.bin"
    path.write_bytes(content)
    with pytest.raises(RuntimeError, match="foreign.bin"):
        tb.load(path)


def test_plain_npz_and_bad_index_are_rejected(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.ones(3))
    with pytest.raises(RuntimeError, match="not a tinybptt checkpoint"):
        tb.load(tmp_path / "plain.npz")
    index = np.frombuffer(json.dumps({"format": "something-else"}).encode(), np.uint8)
    np.savez(tmp_path / "other.npz", __tinybptt__=index)
    with pytest.raises(RuntimeError, match="other.npz"):
        tb.load(tmp_path / "other.npz")


def test_pickled_arrays_are_never_loaded(tmp_path):
    """An archive whose entry needs unpickling fails cleanly instead of running pickle."""
    index = np.frombuffer(json.dumps({"format": "tinybptt-checkpoint", "version": 1,
                                      "root": {"array": "a0"}}).encode(), np.uint8)
    np.savez(tmp_path / "evil.npz", a0=np.array([{"x": 1}], dtype=object), __tinybptt__=index)
    with pytest.raises(RuntimeError, match="evil.npz"):
        tb.load(tmp_path / "evil.npz")


@pytest.mark.parametrize("bad", [{"f": lambda x: x}, {"m": nn.Linear(2, 2)}, [np.array([object()], dtype=object)]])
def test_unsupported_objects_raise_on_save(tmp_path, bad):
    with pytest.raises(TypeError, match="save"):
        tb.save(bad, tmp_path / "x.pt")
    assert not list(tmp_path.iterdir())


def test_checkpoint_error_is_runtime_and_value_error(tmp_path):
    path = tmp_path / "bad.pt"
    path.write_bytes(b"garbage")
    for kind in (RuntimeError, ValueError, tb.serialization.CheckpointError):
        with pytest.raises(kind, match="bad.pt"):
            tb.load(path)
