"""The restricted torch-checkpoint reader: real file, crafted files, hostile files."""

import collections
import io
import pickle
import struct
import sys
import types
import zipfile

import numpy as np
import pytest

from cbr_edu.embedders import _torch_pickle as tp
from cbr_edu.embedders.efficientnet_lite0 import WEIGHTS_SHA256, weights_path


# ---------------------------------------------------------------- crafting checkpoints

class _FakeStorage:
    def __init__(self, array, key):
        self.array, self.key = np.ascontiguousarray(array).ravel(), key


class _FakeTensor:
    """Pickles like a torch tensor: _rebuild_tensor_v2(storage, offset, size, stride, ...)."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False,
                     collections.OrderedDict())

    def __reduce__(self):
        return (sys.modules["torch._utils"]._rebuild_tensor_v2, self.args)


@pytest.fixture
def fake_torch(monkeypatch):
    """Importable stand-ins named like torch's globals, so pickle can write them."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):  # pragma: no cover - never called by the reader
        raise AssertionError("the reader must not import torch")

    class FloatStorage:
        pass

    class LongStorage:
        pass

    for obj, mod in ((_rebuild_tensor_v2, "torch._utils"), (FloatStorage, "torch"),
                     (LongStorage, "torch")):
        obj.__module__, obj.__qualname__ = mod, obj.__name__
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch.FloatStorage, torch.LongStorage, torch._utils = FloatStorage, LongStorage, utils
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _dump(obj, storages, torch):
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=2)
    types_ = {np.dtype(np.float32): torch.FloatStorage, np.dtype(np.int64): torch.LongStorage}

    def persistent_id(o):
        if isinstance(o, _FakeStorage):
            storages[o.key] = o
            return ("storage", types_[o.array.dtype], o.key, "cpu", o.array.size)
        return None

    pickler.persistent_id = persistent_id
    pickler.dump(obj)
    return buf.getvalue()


def write_checkpoint(path, obj, torch, layout="legacy"):
    storages = {}
    body = _dump(obj, storages, torch)
    if layout == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("archive/data.pkl", body)
            for key, s in storages.items():
                zf.writestr(f"archive/data/{key}", s.array.tobytes())
        return
    with open(path, "wb") as f:
        for header in (tp.LEGACY_MAGIC, tp.LEGACY_PROTOCOL,
                       {"protocol_version": 1001, "little_endian": True,
                        "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            f.write(pickle.dumps(header, protocol=2))
        f.write(body)
        f.write(pickle.dumps(list(storages), protocol=2))
        for s in storages.values():
            f.write(struct.pack("<q", s.array.size))
            f.write(s.array.tobytes())


@pytest.mark.parametrize("layout", ["legacy", "zip"])
def test_reads_offsets_strides_and_shared_storage(tmp_path, fake_torch, layout):
    base = np.arange(24, dtype=np.float32)
    st = _FakeStorage(base, "0")
    obj = collections.OrderedDict(
        whole=_FakeTensor(st, 0, (4, 6), (6, 1)),
        transposed=_FakeTensor(st, 0, (6, 4), (1, 6)),       # non-contiguous view
        tail=_FakeTensor(st, 20, (4,), (1,)),                 # storage offset
        count=_FakeTensor(_FakeStorage(np.array([7], np.int64), "1"), 0, (), ()),
    )
    path = tmp_path / f"ck.{layout}.pth"
    write_checkpoint(path, obj, fake_torch, layout)
    sd = tp.load_state_dict(path)
    assert list(sd) == ["whole", "transposed", "tail", "count"]
    np.testing.assert_array_equal(sd["whole"], base.reshape(4, 6))
    np.testing.assert_array_equal(sd["transposed"], base.reshape(4, 6).T)
    np.testing.assert_array_equal(sd["tail"], base[20:])
    assert sd["count"].dtype == np.int64 and sd["count"] == 7
    sd["whole"][0, 0] = 99  # results own their memory
    assert sd["transposed"][0, 0] == 0


def test_tensor_outside_its_storage_is_rejected(tmp_path, fake_torch):
    st = _FakeStorage(np.zeros(4, np.float32), "0")
    write_checkpoint(tmp_path / "bad.pth", {"x": _FakeTensor(st, 2, (4,), (1,))}, fake_torch)
    with pytest.raises(pickle.UnpicklingError, match="storage"):
        tp.load_state_dict(tmp_path / "bad.pth")


def test_truncated_file_is_rejected(tmp_path, fake_torch):
    st = _FakeStorage(np.ones(100, np.float32), "0")
    path = tmp_path / "trunc.pth"
    write_checkpoint(path, {"x": _FakeTensor(st, 0, (100,), (1,))}, fake_torch)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(pickle.UnpicklingError, match="truncated"):
        tp.load_state_dict(path)


# ------------------------------------------------------------------------ hostile files

class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _legacy_with_body(body: bytes) -> bytes:
    head = b"".join(pickle.dumps(h, protocol=2) for h in
                    (tp.LEGACY_MAGIC, tp.LEGACY_PROTOCOL, {"little_endian": True}))
    return head + body + pickle.dumps([], protocol=2)


def test_refuses_os_system_plain_pickle(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pth"
    # protocol-0 pickle calling os.system directly
    path.write_bytes(f"cos\nsystem\n(S'touch {marker}'\ntR.".encode())
    with pytest.raises(tp.UnsafePickleError) as err:
        tp.load_state_dict(path)
    msg = str(err.value)
    assert "os.system" in msg and str(path) in msg and "malicious" in msg
    assert not marker.exists()


def test_refuses_os_system_pickled_by_python(tmp_path):
    import os
    path = tmp_path / "evil3.pth"
    path.write_bytes(pickle.dumps(os.system, protocol=4))  # written as posix.system
    with pytest.raises(tp.UnsafePickleError, match=r"references os\.system"):
        tp.load_state_dict(path)


def test_refuses_eval_in_legacy_torch_layout(tmp_path):
    marker = tmp_path / "executed"
    body = pickle.dumps(collections.OrderedDict(w=_Evil(marker)), protocol=2)
    assert b"__builtin__\neval" in body
    path = tmp_path / "evil_legacy.pth"
    path.write_bytes(_legacy_with_body(body))
    with pytest.raises(tp.UnsafePickleError, match=r"references builtins\.eval") as err:
        tp.load_state_dict(path)
    assert str(path) in str(err.value)
    assert not marker.exists()


def test_refuses_eval_in_zip_layout(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pt"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pickle.dumps({"w": _Evil(marker)}, protocol=2))
    with pytest.raises(tp.UnsafePickleError, match=r"builtins\.eval"):
        tp.load_state_dict(path)
    assert not marker.exists()


def test_refuses_hostile_header_pickle(tmp_path):
    """Even the magic-number pickle goes through the restricted loader."""
    marker = tmp_path / "executed"
    path = tmp_path / "evil_head.pth"
    path.write_bytes(pickle.dumps(_Evil(marker), protocol=2))
    with pytest.raises(tp.UnsafePickleError):
        tp.load_state_dict(path)
    assert not marker.exists()


def test_not_a_checkpoint(tmp_path):
    path = tmp_path / "numbers.pth"
    path.write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="not a PyTorch checkpoint"):
        tp.load_state_dict(path)


# -------------------------------------------------------------------- the shipped file

def test_real_lite0_file():
    sd = tp.load_state_dict(weights_path(), sha256=WEIGHTS_SHA256)
    assert len(sd) == 296
    assert sum(v.size for k, v in sd.items() if "num_batches" not in k) == 4_694_024
    assert sd["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert sd["_fc.weight"].shape == (1000, 1280)
    assert all(v.dtype == np.float32 for k, v in sd.items() if "num_batches" not in k)
    assert all(np.isfinite(v).all() for v in sd.values())


def test_sha256_mismatch_is_refused_before_unpickling(tmp_path):
    tampered = tmp_path / "lite0.pth"
    data = bytearray(open(weights_path(), "rb").read())
    data[-100] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(tp.ChecksumError, match="expected 5793442") as err:
        tp.load_state_dict(tampered, sha256=WEIGHTS_SHA256)
    assert str(tampered) in str(err.value)


@pytest.mark.parametrize("zip_format", [False, True])
def test_reads_files_written_by_torch(tmp_path, zip_format):
    torch = pytest.importorskip("torch")
    base = torch.arange(30, dtype=torch.float32).reshape(5, 6)
    sd = collections.OrderedDict(w=base, t=base.t(), row=base[2], n=torch.tensor(3),
                                 h=torch.ones(4, dtype=torch.float16))
    path = tmp_path / "sd.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=zip_format)
    got = tp.load_state_dict(path)
    for k, v in sd.items():
        np.testing.assert_array_equal(got[k], v.numpy())
        assert got[k].dtype == v.numpy().dtype
