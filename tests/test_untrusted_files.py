"""Untrusted files: no benchmark pickle runs code without trust_pickle, no conversion empties a store,
no Markdown table passes HTML through."""

from __future__ import annotations

import bz2
import dataclasses
import os
import pickle
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest
import torch

from nas_harness.api import BenchmarkError
from nas_harness.benchmarks.nb101 import NB101Benchmark, convert_records
from nas_harness.benchmarks.nb201 import NB201Benchmark, NB201Results
from nas_harness.cli import main
from nas_harness.registry import get_registry
from nas_harness.report.leaderboard import escape_markdown, to_markdown
from nas_harness.report.page import render_study_page
from nas_harness.spaces import nb201 as S
from tests.helpers import nb201_fixtures as F
from tests.helpers.nb101_fixtures import fixture_records, write_nb101_tfrecord

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(1)">'


# -- pickles that would run code ------------------------------------------------------------------
class Payload:
    """Unpickling it runs ``exec``, which creates ``marker``: proof that the file ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., object], tuple[str]]:
        return exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).touch()",)


def _bz2_dump(obj: object, path: Path) -> Path:
    with bz2.BZ2File(path, "wb") as handle:
        pickle.dump(obj, handle, protocol=4)
    return path


def _evil_dict(marker: Path) -> dict[str, object]:
    """The official file dict with a payload among its records."""
    data = F.nats_tss_dict([0])
    data["arch2infos"][0]["200"]["payload"] = Payload(marker)
    return data


def _legacy_pth(path: Path, marker: Path) -> Path:
    torch.save(_evil_dict(marker), path, _use_new_zipfile_serialization=False)
    return path


def _zip_pth(path: Path, marker: Path) -> Path:
    torch.save(_evil_dict(marker), path)
    return path


def _raw_pickle_pth(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(_evil_dict(marker), protocol=2))
    return path


def _bz2_named_pth(path: Path, marker: Path) -> Path:
    return _bz2_dump(_evil_dict(marker), path)


def _nats_pickle(path: Path, marker: Path) -> Path:
    return _bz2_dump(_evil_dict(marker), path.with_name(F.NATS_PICKLE_NAME))


def _nats_dir_meta(path: Path, marker: Path) -> Path:
    directory = F.write_nats_dir(path.with_name("meta-simple"), [0])
    _bz2_dump({"meta_archs": Payload(marker)}, directory / "meta.pickle.pbz2")
    return directory


def _nats_dir_record(path: Path, marker: Path) -> Path:
    directory = F.write_nats_dir(path.with_name("record-simple"), [0])
    _bz2_dump(_evil_dict(marker)["arch2infos"][0], directory / "0.pickle.pbz2")
    return directory


EVIL_FILES: dict[str, Callable[[Path, Path], Path]] = {
    "legacy-pth": _legacy_pth,
    "zip-pth": _zip_pth,
    "raw-pickle-pth": _raw_pickle_pth,
    "bz2-named-pth": _bz2_named_pth,
    "nats-pickle-pbz2": _nats_pickle,
    "nats-dir-meta": _nats_dir_meta,
    "nats-dir-record": _nats_dir_record,
}


def _load_everything(path: Path, **options: object) -> NB201Benchmark:
    bench = get_registry().create("benchmark", "nb201.official", path=str(path), **options)
    bench.accuracy(S.index_to_arch(0))  # a fast-mode folder reads the architecture's file only now
    return bench


@pytest.mark.parametrize("kind", sorted(EVIL_FILES))
def test_a_pickle_that_runs_code_is_refused_in_every_format(tmp_path: Path, kind: str) -> None:
    marker = tmp_path / "code-ran"
    path = EVIL_FILES[kind](tmp_path / F.NB201_V11_NAME, marker)
    with pytest.raises(BenchmarkError) as info:
        _load_everything(path)
    assert not marker.exists(), f"{kind}: unpickling ran the file's code"
    message = str(info.value)
    # protocol-2 pickles (torch's legacy format) spell the module by its Python 2 name
    assert re.search(r"global (builtins|__builtin__)\.exec is not allowed in an untrusted benchmark file", message)
    assert "trust_pickle = true" in message
    named = re.match(r"(\S+): refused to unpickle it", message)
    assert named and Path(named.group(1)).is_file() and Path(named.group(1)).is_relative_to(path.parent), message


@pytest.mark.parametrize("kind", ["nats-pickle-pbz2", "nats-dir-record"])
def test_a_record_naming_another_file_never_reaches_the_official_loader(tmp_path: Path, kind: str) -> None:
    # nats_bench's ArchResults.create_from_state_dict unpickles a *string* record as a file path, unrestricted
    marker = tmp_path / "code-ran"
    evil = _bz2_dump(Payload(marker), tmp_path / "elsewhere.pickle.pbz2")
    data = F.nats_tss_dict([0])
    data["arch2infos"][0]["200"] = str(evil)
    if kind == "nats-pickle-pbz2":
        path = _bz2_dump(data, tmp_path / F.NATS_PICKLE_NAME)
    else:
        path = F.write_nats_dir(tmp_path / "simple", [0])
        _bz2_dump(data["arch2infos"][0], path / "0.pickle.pbz2")
    with pytest.raises(BenchmarkError, match=r"record of architecture 0 is schedule '200' holds a str, not a record"):
        _load_everything(path, trust_pickle=True)  # even a trusted file does not get to open another one
    assert not marker.exists()


def test_trust_pickle_loads_the_fixture_files_of_every_format(tmp_path: Path) -> None:
    files = [
        F.write_nb201_pth(tmp_path / F.NB201_V11_NAME),
        F.write_nb201_pth(tmp_path / "zip.pth", legacy=False),
        F.write_nats_pickle(tmp_path / F.NATS_PICKLE_NAME),
        F.write_nats_dir(tmp_path / F.NATS_DIR_NAME),
    ]
    want = F.expected_accuracy(0, "cifar10", "ori-test")
    for path in files:
        for trust in (True, False):
            assert _load_everything(path, trust_pickle=trust).accuracy(S.index_to_arch(0)) == pytest.approx(want)


def test_trust_pickle_lifts_the_allow_list_for_bz2_files_too(tmp_path: Path) -> None:
    data = F.nats_tss_dict([0])
    data["extra"] = PurePosixPath("x")  # harmless, but outside the allow-list
    single = _bz2_dump(data, tmp_path / F.NATS_PICKLE_NAME)
    folder = F.write_nats_dir(tmp_path / "simple", [0])
    _bz2_dump({"meta_archs": data["meta_archs"], "extra": PurePosixPath("x")}, folder / "meta.pickle.pbz2")
    for path in (single, folder):
        with pytest.raises(BenchmarkError, match=r"global pathlib\.PurePosixPath is not allowed"):
            NB201Results.load(path, lazy=False)
        assert NB201Results.load(path, lazy=False, trust_pickle=True).has_record[0]


# -- converting an empty file ---------------------------------------------------------------------
def test_converting_an_empty_tfrecord_is_an_error_and_keeps_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "keep.sqlite"
    convert_records(write_nb101_tfrecord(tmp_path / "full.tfrecord"), store, progress=False)
    before = store.read_bytes()
    (tmp_path / "empty.tfrecord").write_bytes(b"")
    argv = ["data", "convert", "nb101", str(tmp_path / "empty.tfrecord"), "--output", str(store), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "empty.tfrecord: it holds no record" in err and f"the existing {store} is left as it was" in err
    assert store.read_bytes() == before
    assert len(list(NB101Benchmark(store).archs())) == 5
    assert sorted(os.listdir(tmp_path)) == ["empty.tfrecord", "full.tfrecord", "keep.sqlite"]  # no temp file


def test_a_conversion_that_skips_every_record_writes_no_store(tmp_path: Path) -> None:
    wrong = [dataclasses.replace(r, module_hash="0" * 32) for r in fixture_records()]
    source = write_nb101_tfrecord(tmp_path / "wrong.tfrecord", wrong)
    with pytest.raises(BenchmarkError, match=r"all 60 records were skipped .*wrong\.sqlite was not written"):
        convert_records(source, progress=False, on_mismatch="skip")
    assert sorted(os.listdir(tmp_path)) == ["wrong.tfrecord"]


# -- Markdown and HTML escaping -------------------------------------------------------------------
def test_markdown_tables_escape_html_and_pipes() -> None:
    frame = pd.DataFrame([{"estimator": SCRIPT, "errors": f"{IMG} a|b & c", "tau": 0.5}])
    md = to_markdown(frame, f"study {SCRIPT}", {"plugins": {SCRIPT: "1"}, "config": IMG})
    assert "<script" not in md and "<img" not in md
    assert md.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3
    assert '&lt;img src=x onerror="alert(1)"&gt; a\\|b &amp; c' in md
    assert escape_markdown("a|b") == "a\\|b"
    row = next(line for line in md.splitlines() if line.startswith("| &lt;script"))
    assert len(re.split(r"(?<!\\)\|", row)) == len(frame.columns) + 2  # the pipe did not add a column


def test_html_page_escapes_labels_and_errors() -> None:
    frame = pd.DataFrame([{"estimator": SCRIPT, "errors": f"{IMG} a|b", "tau": 0.5}])
    page = render_study_page(SCRIPT, {"estimators": frame}, {"config": IMG}, plot_errors={SCRIPT: IMG})
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "a|b" in page
