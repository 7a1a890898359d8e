"""The on-disk feature cache format (format 2): one folder of .npy files plus header.json.

    <feature>-<key16>/
      header.json         name, params, labels, problems, ..., and per file: size, mtime_ns,
                          crc32, shape, dtype
      x.npy               float32 features (N, ...) or flat (sum T, F); opened memory-mapped
      y.npy utt_ids.npy speakers.npy manifest_index.npy [offsets.npy] meta__<column>.npy

A trial maps x.npy (`np.load(mmap_mode="r")`) and reads only its fold's rows. Cheap checks
(every listed file present, its size and .npy header as recorded) run on every open; the CRC of
a file is checked (`deep=True`, by prepare_features before reusing a cache) only when its size or
mtime differ from the build's, so an untouched multi-GB cache is not re-read on every run.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from ser_data.atomic import fsync_dir
from ser_data.errors import DataError

FORMAT = 2
HEADER = "header.json"
_CRC_BLOCK = 8 << 20


class FeatureCacheError(DataError):
    """A feature cache that cannot be used: missing, damaged or of another format."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"feature cache {self.path}: {reason}")


def npy_header(shape: tuple[int, ...], dtype: np.dtype) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
    )
    return buf.getvalue()


class FolderWriter:
    """Writes .npy files into a (temporary) folder and records what header.json needs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[str, dict[str, Any]] = {}

    def array(self, name: str, arr: np.ndarray) -> None:
        arr = np.ascontiguousarray(arr)
        if arr.dtype.hasobject:
            raise TypeError(f"{name}: object arrays cannot be cached")
        self.stream(name, arr.dtype, arr.shape, [arr])

    def stream(self, name: str, dtype: Any, shape: tuple[int, ...], pieces: Iterable[np.ndarray]) -> None:
        """Write an array of `shape` from consecutive row blocks, never holding all of it."""
        dtype = np.dtype(dtype).newbyteorder("<") if np.dtype(dtype).byteorder == ">" else np.dtype(dtype)
        path = self.folder / f"{name}.npy"
        head = npy_header(shape, dtype)
        crc = zlib.crc32(head)
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        written = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
        with os.fdopen(fd, "wb") as fh:
            fh.write(head)
            for piece in pieces:
                data = np.ascontiguousarray(piece, dtype=dtype)
                view = memoryview(data).cast("B")
                fh.write(view)
                crc = zlib.crc32(view, crc)
                written += data.nbytes
            if written != expected:
                raise ValueError(f"{name}: wrote {written} bytes of data, the shape {shape} needs {expected}")
            fh.flush()
            os.fsync(fh.fileno())
        st = os.stat(path)
        self.files[f"{name}.npy"] = {
            "size": st.st_size, "mtime_ns": st.st_mtime_ns, "crc32": crc,
            "shape": list(shape), "dtype": np.lib.format.dtype_to_descr(dtype),
        }  # fmt: skip

    def finish(self, header: dict[str, Any]) -> None:
        """header.json last: a folder without it is never a complete cache."""
        text = json.dumps({**header, "format": FORMAT, "files": self.files}, indent=1)
        fd = os.open(self.folder / HEADER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        fsync_dir(self.folder)


def read_header(folder: Path) -> dict[str, Any]:
    if folder.suffix == ".npz" and folder.is_file():
        raise FeatureCacheError(folder, "this is the old single-.npz format; rebuild it with "
                                        "prepare_features (ser-orch data prepare)")
    if not folder.is_dir():
        raise FeatureCacheError(folder, "not found" if not folder.exists() else "not a cache folder")
    try:
        header = json.loads((folder / HEADER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FeatureCacheError(folder, f"missing piece {HEADER}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeatureCacheError(folder, f"unreadable {HEADER} ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT or not isinstance(header.get("files"), dict):
        got = header.get("format") if isinstance(header, dict) else None
        raise FeatureCacheError(folder, f"{HEADER} is not a format-{FORMAT} header (format {got!r})")
    return header


def check_files(folder: Path, header: dict[str, Any], *, deep: bool = False) -> None:
    """FeatureCacheError naming the first bad piece: missing, wrong size, wrong .npy header, or
    (deep, for files changed since the build) a CRC that does not match."""
    for name, info in header["files"].items():
        path = folder / name
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise FeatureCacheError(folder, f"missing piece {name}") from None
        if st.st_size != info["size"]:
            raise FeatureCacheError(folder, f"{name} has {st.st_size} bytes, the build wrote {info['size']} (truncated?)")
        try:
            with open(path, "rb") as fh:
                version = np.lib.format.read_magic(fh)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(fh)
        except (OSError, ValueError) as exc:
            raise FeatureCacheError(folder, f"{name} is not a readable .npy file ({exc})") from exc
        if list(shape) != info["shape"] or np.lib.format.dtype_to_descr(dtype) != info["dtype"]:
            raise FeatureCacheError(folder, f"{name} holds {dtype}{list(shape)}, the build wrote {info['dtype']}{info['shape']}")
        if deep and st.st_mtime_ns != info["mtime_ns"] and _crc(path) != info["crc32"]:
            raise FeatureCacheError(folder, f"{name}: bad CRC (the file changed after it was written)")


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as fh:
        while block := fh.read(_CRC_BLOCK):
            crc = zlib.crc32(block, crc)
    return crc


def load_array(folder: Path, name: str, *, mmap: bool = False) -> np.ndarray:
    try:
        return np.load(folder / f"{name}.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise FeatureCacheError(folder, f"cannot read {name}.npy ({exc})") from exc
