"""One rule for every pickle inside a benchmark file: an allow-list of globals unless the user trusts the file.

Unpickling runs code: a pickle may name any importable function and have it called (``__reduce__``).
Every pickle the harness reads from a benchmark file goes through :func:`load_torch_file` or
:func:`load_bz2_pickle`, and both refuse, by default, every global outside :data:`SAFE_GLOBALS`:

* NAS-Bench-201 ``.pth`` files in torch's legacy format or its zip format (and raw pickles, which
  torch's legacy reader also opens), through ``torch.load`` with this module's unpickler;
* NATS-Bench ``.pickle.pbz2`` files (bz2-compressed pickles): the single topology file, and the
  ``meta.pickle.pbz2`` and per-architecture files of a fast-mode folder.

Which loader runs follows the file's content, not its name, and either one applies the same rule.
``trust_pickle=True`` (``trust_pickle = true`` in a study's benchmark options) unpickles without the
allow-list, for files whose origin the user trusts.

The allow-list unpickler is the C unpickler with ``find_class`` restricted (Python docs,
"Restricting Globals"), used instead of ``torch.load(weights_only=True)``, whose unpickler is
written in Python: on a 200 MB synthetic file it took 50 s against 7 s here, and the v1.1 file is 4.7 GB.

Example::

    data = load_bz2_pickle("NATS-tss-v1_0-3ffb9.pickle.pbz2", trust_pickle=False)
"""

from __future__ import annotations

import bz2
import os
import pickle
import types
from pathlib import Path
from typing import Any

from nas_harness.api import BenchmarkError

#: globals an untrusted benchmark file may name (those torch's weights-only loader allows for these files):
#: ordered dicts, tensors (the v1.0 archive keeps trained weights), numpy scalars and dtypes
SAFE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    {
        ("collections", "OrderedDict"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles (numpy scalars in legacy torch files)
        ("torch._utils", "_rebuild_tensor"),
        ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_parameter"),
        ("torch", "Size"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "dtype"),
    }
    | {
        ("numpy.dtypes", f"{kind}DType")
        for kind in ("Float64", "Float32", "Float16", "Int64", "Int32", "Int16", "Int8", "UInt8", "Bool")
    }
)
ALLOWED_TEXT = "plain containers, numbers, strings, OrderedDict, tensors, numpy scalars"
OPT_IN = (
    "if you trust this file, set trust_pickle = true in the benchmark's options "
    "(trust_pickle=True in Python): that lets the file run any code"
)


class UntrustedPickleError(BenchmarkError):
    """A benchmark file names a global outside the allow-list and the user did not opt in to trust it."""

    def __init__(self, path: Path, global_name: str) -> None:
        self.path = path
        self.global_name = global_name
        super().__init__(
            f"{path}: refused to unpickle it: global {global_name} is not allowed in an untrusted benchmark "
            f"file (allowed: {ALLOWED_TEXT}); {OPT_IN}"
        )


class ForbiddenGlobal(pickle.UnpicklingError):
    """Raised inside the unpickler (which does not know the file); turned into :class:`UntrustedPickleError`."""

    def __init__(self, global_name: str) -> None:
        self.global_name = global_name
        super().__init__(f"global {global_name} is not allowed in an untrusted benchmark file")


class AllowListUnpickler(pickle.Unpickler):
    """The C unpickler, refusing every global outside :data:`SAFE_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in SAFE_GLOBALS:
            return super().find_class(module, name)
        raise ForbiddenGlobal(f"{module}.{name}")


def _load_allow_listed(file: Any, **kwargs: Any) -> Any:
    return AllowListUnpickler(file, **kwargs).load()


#: what ``torch.load(pickle_module=...)`` needs: ``Unpickler`` (subclassed by torch) and ``load``
ALLOW_LIST_PICKLE_MODULE = types.ModuleType("harness_allow_list_pickle")
ALLOW_LIST_PICKLE_MODULE.Unpickler = AllowListUnpickler  # type: ignore[attr-defined]
ALLOW_LIST_PICKLE_MODULE.load = _load_allow_listed  # type: ignore[attr-defined]


def load_torch_file(path: str | os.PathLike[str], *, trust_pickle: bool, expected: str) -> Any:
    """``torch.load`` of ``path`` on the CPU, through the allow-list unless ``trust_pickle``.

    ``expected`` (what the file should be) ends every error message.
    """
    import torch  # heavy: only where a torch file is read

    path = Path(path)
    module = pickle if trust_pickle else ALLOW_LIST_PICKLE_MODULE
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=module)
    except ForbiddenGlobal as exc:
        raise UntrustedPickleError(path, exc.global_name) from exc
    except Exception as exc:  # truncated (EOFError, RuntimeError from the zip reader), not a torch file, ...
        raise BenchmarkError(f"{path}: cannot read it ({type(exc).__name__}: {exc}); {expected}") from exc


def load_bz2_pickle(path: str | os.PathLike[str], *, trust_pickle: bool, expected: str) -> Any:
    """The object in the bz2-compressed pickle ``path``, through the allow-list unless ``trust_pickle``.

    ``expected`` (what the file should be) ends every error message.
    """
    path = Path(path)
    try:
        with bz2.BZ2File(path, "rb") as handle:
            return pickle.load(handle) if trust_pickle else AllowListUnpickler(handle).load()
    except ForbiddenGlobal as exc:
        raise UntrustedPickleError(path, exc.global_name) from exc
    except Exception as exc:  # not bz2 (OSError), truncated (EOFError), a damaged pickle, ...
        raise BenchmarkError(f"{path}: cannot read it ({type(exc).__name__}: {exc}); {expected}") from exc
