"""Image loaders and the shared seeded batches, on tiny data sets built here."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import sys
import tarfile
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest
import torch

from nas_harness.api import HarnessError
from nas_harness.data import (
    CIFAR10_CLASSES,
    NB201_NORMALIZATION,
    BatchProvider,
    DataError,
    ImageDataset,
    candidate_paths,
    layouts,
    load_cifar_batches,
    load_dataset,
    load_image_folder,
    load_image_tar,
    random_crop_flip,
)
from nas_harness.data.dataset import clear_memo

Image = pytest.importorskip("PIL.Image")

CLASSES = ("dog", "airplane", "cat")  # created in this (unsorted) order on purpose


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """No test reads or writes the user's data or cache folders."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("NAS_HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NAS_HARNESS_DATA", raising=False)
    monkeypatch.delenv("NAS_HARNESS_DOWNLOAD", raising=False)
    clear_memo()
    yield
    clear_memo()


# --------------------------------------------------------------------------- fixture data


def make_images(n_train=5, n_test=2, size=8, seed=0, classes=CLASSES):
    """{(split, class, filename): uint8 [size, size, 3]} with random pixels."""
    rng = np.random.default_rng(seed)
    out = {}
    for cls in classes:
        for split, n in (("train", n_train), ("test", n_test)):
            for i in range(n):
                out[(split, cls, f"{i:04d}.png")] = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    return out


def write_tree(root: Path, images, fmt="png") -> Path:
    for (split, cls, fname), arr in images.items():
        d = root / split / cls
        d.mkdir(parents=True, exist_ok=True)
        name = fname if fmt == "png" else fname.replace(".png", ".jpg")
        Image.fromarray(arr).save(d / name, **({"quality": 95} if fmt == "jpg" else {}))
    return root


def expected(images, split, limit=None):
    """Images of ``split`` in loader order (sorted class, then sorted file name) and their labels."""
    names = sorted({c for _, c, _ in images})
    xs, ys = [], []
    for label, cls in enumerate(names):
        files = sorted(f for s, c, f in images if s == split and c == cls)[:limit]
        for f in files:
            xs.append(images[(split, cls, f)])
            ys.append(label)
    return np.stack(xs), np.array(ys)


def write_tar(path: Path, tree: Path, arcname: str | None, fmt=tarfile.PAX_FORMAT, reverse=False) -> Path:
    mode = {".gz": "w:gz", ".tgz": "w:gz", ".bz2": "w:bz2", ".xz": "w:xz", ".tar": "w"}[path.suffix]
    files = sorted(p for p in tree.rglob("*"))
    if reverse:
        files = files[::-1]
    with tarfile.open(path, mode, format=fmt) as tf:
        for p in files:
            rel = p.relative_to(tree).as_posix()
            tf.add(p, arcname=f"{arcname}/{rel}" if arcname else rel, recursive=False)
    return path


def write_cifar10_batches(folder: Path, per_batch=6, n_test=8, seed=0):
    """A fake ``cifar-10-batches-py`` in the real format: pickled dicts, data N x 3072 (CHW rows)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    batches = {}
    for name, n in [*((f"data_batch_{i}", per_batch) for i in range(1, 6)), ("test_batch", n_test)]:
        entry = {
            "batch_label": f"{name} of 5",
            "labels": [int(v) for v in rng.integers(0, 10, n)],
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "filenames": [f"img_{k}.png" for k in range(n)],
        }
        with open(folder / name, "wb") as f:
            pickle.dump(entry, f, protocol=2)
        batches[name] = entry
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"num_cases_per_batch": per_batch, "label_names": list(CIFAR10_CLASSES), "num_vis": 3072}, f, 2)
    return batches


@pytest.fixture
def tree(tmp_path):
    imgs = make_images()
    return imgs, write_tree(tmp_path / "tree", imgs)


def assert_matches(ds: ImageDataset, imgs, limit=None):
    for split in ("train", "test"):
        x, y = expected(imgs, split, limit)
        got_x, got_y = ds.split(split)
        assert got_x.dtype == torch.uint8 and got_y.dtype == torch.int64
        np.testing.assert_array_equal(got_x.numpy(), x)
        np.testing.assert_array_equal(got_y.numpy(), y)


# --------------------------------------------------------------------------- loaders


def test_image_folder_exact_pixels_and_sorted_classes(tree):
    imgs, root = tree
    ds = load_image_folder(root, "toy")
    assert ds.class_names == ("airplane", "cat", "dog")
    assert ds.image_shape == (8, 8, 3)
    assert_matches(ds, imgs)


def test_image_folder_inside_single_top_folder_and_limit(tmp_path):
    imgs = make_images()
    write_tree(tmp_path / "outer" / "toy-png", imgs)
    ds = load_image_folder(tmp_path / "outer", "toy", limit_per_class=2)
    assert_matches(ds, imgs, limit=2)
    ds = load_image_folder(tmp_path / "outer", "toy", limit_per_class={"train": 3})
    assert len(ds.train_labels) == 9 and len(ds.test_labels) == 6


@pytest.mark.parametrize(
    ("suffix", "fmt", "arcname"),
    [
        (".tar.gz", tarfile.PAX_FORMAT, "toy-png"),
        (".tar.gz", tarfile.GNU_FORMAT, None),
        (".tgz", tarfile.USTAR_FORMAT, "a/b"),
        (".tar", tarfile.PAX_FORMAT, "toy"),
        (".tar.bz2", tarfile.GNU_FORMAT, "toy"),
        (".tar.xz", tarfile.PAX_FORMAT, "toy"),
    ],
)
def test_tar_reads_like_the_folder(tmp_path, tree, suffix, fmt, arcname):
    imgs, root = tree
    path = write_tar(tmp_path / f"toy{suffix}", root, arcname, fmt)
    assert_matches(load_image_tar(path, "toy", cache=False), imgs)


def test_tar_long_names_and_any_member_order(tmp_path):
    long_cls = "c" * 120  # longer than a ustar name field: needs pax / GNU long-name records
    imgs = make_images(n_train=4, n_test=2, classes=("zebra", long_cls, "ant"))
    root = write_tree(tmp_path / "tree", imgs)
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        path = write_tar(tmp_path / f"rev{fmt}.tar.gz", root, "top", fmt, reverse=True)
        ds = load_image_tar(path, "toy", limit_per_class=2, cache=False)
        assert ds.class_names == ("ant", long_cls, "zebra")
        assert_matches(ds, imgs, limit=2)


def add_member(tf: tarfile.TarFile, name: str, data: bytes | None = None, kind=tarfile.REGTYPE, link: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    if data is None:
        tf.addfile(info)
    else:
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))


def png_bytes(arr: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "png")
    return out.getvalue()


@pytest.mark.parametrize("limit", [None, 2, {"train": 3, "test": 1}])
def test_tar_and_folder_load_identical_tensors(tmp_path, tree, limit):
    _, root = tree
    path = write_tar(tmp_path / "toy.tar.gz", root, "toy-png", reverse=True)  # members in reverse order
    from_tar = load_image_tar(path, "toy", limit_per_class=limit, cache=False)
    from_folder = load_image_folder(root, "toy", limit_per_class=limit, cache=False)
    assert from_tar.class_names == from_folder.class_names
    for split in ("train", "test"):
        for got, want in zip(from_tar.split(split), from_folder.split(split), strict=True):
            assert got.dtype == want.dtype and torch.equal(got, want)


def test_tar_never_writes_and_skips_what_is_not_an_image_of_the_tree(tmp_path, tree):
    """Path-traversal names outside the tree, links, devices, text files and hidden files are skipped."""
    imgs, root = tree
    path = write_tar(tmp_path / "toy.tar", root, "toy")
    with tarfile.open(path, "a") as tf:
        add_member(tf, "../evil.png", png_bytes(np.zeros((8, 8, 3), np.uint8)))  # too shallow for a tree
        add_member(tf, "../../etc/passwd", b"root:x:0:0")
        add_member(tf, "toy/train/cat/notes.txt", b"not an image")
        add_member(tf, "toy/train/cat/.hidden.png", b"not an image either")
        add_member(tf, "toy/train/cat/link.png", kind=tarfile.SYMTYPE, link="/etc/passwd")
        add_member(tf, "toy/train/cat/hard.png", kind=tarfile.LNKTYPE, link="toy/train/cat/0000.png")
        add_member(tf, "toy/train/cat/fifo.png", kind=tarfile.FIFOTYPE)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert_matches(load_image_tar(path, "toy", cache=False), imgs)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # nothing extracted


def test_tar_member_outside_the_tree_or_undecodable_is_a_data_error_naming_it(tmp_path, tree):
    _, root = tree
    escaping = write_tar(tmp_path / "escaping.tar", root, "toy")
    with tarfile.open(escaping, "a") as tf:  # an image tree reached through "..": a second tree, refused
        add_member(tf, "toy/../../train/cat/evil.png", png_bytes(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(DataError, match=r"several folders.*toy/\.\./\.\./train/cat/evil\.png"):
        load_image_tar(escaping, "toy", cache=False)
    broken = write_tar(tmp_path / "broken.tar", root, "toy")
    with tarfile.open(broken, "a") as tf:
        add_member(tf, "toy/train/cat/9999.png", b"not a png")
    with pytest.raises(DataError, match=r"cannot decode toy/train/cat/9999\.png"):
        load_image_tar(broken, "toy", cache=False)


def test_tar_in_a_multi_member_gzip(tmp_path, tree):
    """bgzip and concatenating writers split the stream into several gzip members: all of them are read."""
    imgs, root = tree
    plain = write_tar(tmp_path / "toy.tar", root, "toy").read_bytes()
    third = len(plain) // 3
    path = tmp_path / "multi.tar.gz"
    path.write_bytes(b"".join(gzip.compress(plain[i : i + third]) for i in range(0, len(plain), third)))
    assert_matches(load_image_tar(path, "toy", cache=False), imgs)


def test_corrupt_tar_is_a_data_error(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"\x1f\x8b" + b"not really gzip" * 10)
    with pytest.raises(DataError, match=r"bad\.tar\.gz"):
        load_image_tar(bad, "toy", cache=False)
    whole = write_tar(tmp_path / "whole.tar.gz", write_tree(tmp_path / "t", make_images()), "toy").read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"cut\.tar\.gz"):
        load_image_tar(cut, "toy", cache=False)


def test_jpeg_tree_decodes_close(tmp_path):
    rng = np.random.default_rng(1)
    smooth = {}
    for cls in CLASSES:
        for split in ("train", "test"):
            base = rng.integers(40, 200, 3)
            smooth[(split, cls, "0000.png")] = np.broadcast_to(base, (16, 16, 3)).astype(np.uint8)
    root = write_tree(tmp_path / "jpg", smooth, fmt="jpg")
    ds = load_image_folder(root, "toy", cache=False)
    x, _ = expected(smooth, "train")
    assert ds.train_images.shape == (3, 16, 16, 3)
    assert np.abs(ds.train_images.numpy().astype(int) - x).max() <= 4


def test_mixed_image_sizes_are_refused(tmp_path):
    imgs = make_images(n_train=1, n_test=0)
    imgs[("train", "cat", "0001.png")] = np.zeros((4, 4, 3), np.uint8)
    root = write_tree(tmp_path / "t", imgs)
    with pytest.raises(DataError, match="one size"):
        load_image_folder(root, "toy", cache=False)


def test_cifar_pickled_batches_in_the_real_format(tmp_path):
    batches = write_cifar10_batches(tmp_path / "cifar-10-batches-py")
    ds = load_dataset("cifar10", root=tmp_path)
    assert ds.class_names == CIFAR10_CLASSES
    assert ds.train_images.shape == (30, 32, 32, 3) and ds.test_images.shape == (8, 32, 32, 3)
    rows = np.concatenate([batches[f"data_batch_{i}"]["data"] for i in range(1, 6)])
    labels = [v for i in range(1, 6) for v in batches[f"data_batch_{i}"]["labels"]]
    np.testing.assert_array_equal(ds.train_labels.numpy(), labels)
    # a row is 1024 red, then 1024 green, then 1024 blue values, each row-major
    i, h, w = 7, 5, 29
    for c in range(3):
        assert ds.train_images[i, h, w, c] == rows[i, c * 1024 + h * 32 + w]
    np.testing.assert_array_equal(
        ds.test_images.numpy().transpose(0, 3, 1, 2).reshape(8, -1), batches["test_batch"]["data"]
    )
    small = load_cifar_batches(tmp_path / "cifar-10-batches-py", limit_per_class=1)
    assert sorted(small.train_labels.tolist()) == sorted(set(labels))


def test_cifar100_and_imagenet16_pickled_batches(tmp_path):
    rng = np.random.default_rng(0)
    c100 = tmp_path / "cifar-100-python"
    c100.mkdir()
    for split, n in (("train", 12), ("test", 4)):
        entry = {"fine_labels": list(range(n)), "coarse_labels": [0] * n, "data": rng.integers(0, 256, (n, 3072))}
        entry["data"] = entry["data"].astype(np.uint8)
        (c100 / split).write_bytes(pickle.dumps(entry, protocol=2))
    names = [f"fine{i:02d}" for i in range(100)]
    (c100 / "meta").write_bytes(pickle.dumps({"fine_label_names": names, "coarse_label_names": []}, protocol=2))
    ds = load_dataset("cifar100", root=tmp_path)
    assert ds.class_names == tuple(names) and ds.train_images.shape == (12, 32, 32, 3)

    inet = tmp_path / "ImageNet16"
    inet.mkdir()
    files = [*(f"train_data_batch_{i}" for i in range(1, 11)), "val_data"]
    for f in files:  # labels are 1-based; imagenet16-120 keeps 1..120 as 0..119
        entry = {"data": rng.integers(0, 256, (4, 768)).astype(np.uint8), "labels": [1, 120, 121, 1000]}
        (inet / f).write_bytes(pickle.dumps(entry, protocol=2))
    ds = load_dataset("imagenet16-120", root=tmp_path)
    assert ds.num_classes == 120 and ds.image_shape == (16, 16, 3)
    assert ds.train_labels.tolist() == [0, 119] * 10 and ds.test_labels.tolist() == [0, 119]
    data = BatchProvider(ds, seed=0, valid_size=0)
    assert data.padding == 2 and data.mean == NB201_NORMALIZATION["imagenet16-120"][0]
    assert data.train_batch(0, 4)[0].shape == (4, 3, 16, 16)


def test_pickled_batches_cannot_run_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10_batches(folder)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with open(folder / "test_batch", "wb") as f:
        pickle.dump({"data": Evil(), "labels": []}, f)
    with pytest.raises(DataError, match="refusing to load"):
        load_cifar_batches(folder)


def test_cifar10_class_order_is_the_official_one(tmp_path):
    assert tuple(sorted(CIFAR10_CLASSES)) == CIFAR10_CLASSES  # sorted folders == official labels 0..9
    imgs = make_images(n_train=1, n_test=1, size=4, classes=CIFAR10_CLASSES[::-1])
    ds = load_image_folder(write_tree(tmp_path / "c10", imgs), "cifar10", cache=False)
    assert ds.class_names == CIFAR10_CLASSES
    np.testing.assert_array_equal(ds.train_labels.numpy(), np.arange(10))


def test_load_dataset_searches_env_then_home(tmp_path, tree, monkeypatch):
    imgs, root = tree
    home_data = tmp_path / "home" / ".cache" / "nas-harness"
    home_data.mkdir(parents=True)
    write_tar(home_data / "toy.tar.gz", root, "toy")
    ds = load_dataset("toy", cache=False)
    assert ds.source.startswith("tar:") and str(home_data) in ds.source
    env_dir = tmp_path / "env"
    write_tree(env_dir / "toy", imgs)
    monkeypatch.setenv("NAS_HARNESS_DATA", str(env_dir))
    ds = load_dataset("toy", cache=False)
    assert ds.source.startswith("folder:") and str(env_dir) in ds.source
    assert_matches(load_dataset("toy", root=home_data / "toy.tar.gz", cache=False), imgs)


def test_not_found_names_every_path_and_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("NAS_HARNESS_DATA", str(tmp_path / "envdata"))
    (tmp_path / "envdata" / "cifar10").mkdir(parents=True)
    with pytest.raises(DataError) as info:
        load_dataset("cifar10")
    assert isinstance(info.value, HarnessError)
    msg = str(info.value)
    tried = candidate_paths("cifar10")
    assert any(str(p).startswith(str(tmp_path / "home")) for p in tried)
    assert any(str(p).startswith(str(tmp_path / "envdata")) for p in tried)
    for p in tried:
        assert str(p) in msg
    assert "exists, not a recognised layout" in msg  # the empty envdata/cifar10
    for hint in ("root=", "NAS_HARNESS_DATA", "download=True", "NAS_HARNESS_DOWNLOAD=1", "cifar-10-batches-py"):
        assert hint in msg
    with pytest.raises(DataError, match="Paths tried") as info:
        load_dataset("cifar10", root=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)
    assert str(tmp_path / "envdata") not in str(info.value)  # an explicit root is the only place searched


def test_download_needs_torchvision(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)  # import fails as if absent
    with pytest.raises(DataError, match="torchvision is not installed"):
        load_dataset("cifar10", root=tmp_path / "d", download=True)
    monkeypatch.setenv("NAS_HARNESS_DOWNLOAD", "1")
    with pytest.raises(DataError, match="torchvision is not installed"):
        load_dataset("cifar10", root=tmp_path / "d")


def test_cache_is_used_and_invalidated(tmp_path, tree, monkeypatch):
    imgs, root = tree
    path = write_tar(tmp_path / "toy.tar.gz", root, "toy")
    ds = load_image_tar(path, "toy", limit_per_class=3)
    files = list((tmp_path / "cache" / "decoded").glob("*.npz"))
    assert len(files) == 1
    clear_memo()

    def no_decoding(*a, **k):
        raise AssertionError("decoded although a valid cache file exists")

    monkeypatch.setattr(layouts, "decode_all", no_decoding)
    again = load_image_tar(path, "toy", limit_per_class=3)
    assert again.key == ds.key
    assert_matches(again, imgs, limit=3)
    clear_memo()
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # the source changed: the cache is stale
    with pytest.raises(AssertionError, match="decoded although"):
        load_image_tar(path, "toy", limit_per_class=3)
    with pytest.raises(AssertionError, match="decoded although"):
        load_image_tar(path, "toy", limit_per_class=2)  # other options, other cache entry


def test_cache_false_writes_nothing(tmp_path, tree):
    _, root = tree
    load_image_folder(root, "toy", cache=False)
    assert not (tmp_path / "cache").exists()


# --------------------------------------------------------------------------- provider


def indexed_dataset(n_train=300, n_test=60, n_classes=3, size=16, name="toy") -> ImageDataset:
    """Image i of a split has pixel (0, 0) = (i % 256, i // 256, 255 - label)."""
    rng = np.random.default_rng(0)

    def split(n):
        x = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
        y = np.arange(n) % n_classes
        x[:, 0, 0, 0] = np.arange(n) % 256
        x[:, 0, 0, 1] = np.arange(n) // 256
        x[:, 0, 0, 2] = 255 - y
        return x, y

    (xt, yt), (xs, ys) = split(n_train), split(n_test)
    return ImageDataset(name, [f"c{i}" for i in range(n_classes)], xt, yt, xs, ys)


def pixels(provider: BatchProvider, x: torch.Tensor) -> np.ndarray:
    """Undo the normalisation: uint8 [B, H, W, C]."""
    mean = torch.tensor(provider.mean).view(1, -1, 1, 1)
    std = torch.tensor(provider.std).view(1, -1, 1, 1)
    return ((x * std + mean) * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def ids(provider: BatchProvider, x: torch.Tensor) -> list[int]:
    p = pixels(provider, x)
    return (p[:, 0, 0, 0].astype(int) + 256 * p[:, 0, 0, 1].astype(int)).tolist()


def test_train_batch_shapes_and_facts():
    data = BatchProvider(indexed_dataset(), seed=0)
    x, y = data.train_batch(0, 32)
    assert x.shape == (32, 3, 16, 16) and x.dtype == torch.float32
    assert y.shape == (32,) and y.dtype == torch.int64
    assert data.input_shape == (3, 16, 16) and data.num_classes == 3
    assert data.class_names == ("c0", "c1", "c2")
    assert data.split_sizes() == {"train": 270, "valid": 30, "test": 60}


def test_train_batch_is_a_function_of_seed_index_and_size(tmp_path):
    ds = indexed_dataset()
    a = BatchProvider(ds, seed=3)
    first = a.train_batch(5, 16)
    a.train_batch(0, 7)
    list(a.train_batches(20, 9))
    list(a.epoch_iterator(2, 50))
    again = a.train_batch(5, 16)
    fresh = BatchProvider(indexed_dataset(), seed=3).train_batch(5, 16)
    unpickled = pickle.loads(pickle.dumps(a)).train_batch(5, 16)
    for other in (again, fresh, unpickled):
        assert torch.equal(first[0], other[0]) and torch.equal(first[1], other[1])
    other_seed = BatchProvider(ds, seed=4).train_batch(5, 16)
    assert not torch.equal(first[0], other_seed[0])
    assert a.train_indices(5, 16).tolist() != BatchProvider(ds, seed=4).train_indices(5, 16).tolist()


def _batch_in_worker(provider: BatchProvider, index: int, batch_size: int):
    return provider.fingerprint(), provider.train_batch(index, batch_size)


def test_same_batch_in_a_fresh_process(tmp_path, tree):
    _, root = tree
    # a data set from the cache pickles as a small recipe and is re-read in the worker
    data = BatchProvider(load_image_folder(root, "toy"), seed=11, valid_size=3)
    assert len(pickle.dumps(data)) < 2000
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        fp, (x, y) = pool.submit(_batch_in_worker, data, 4, 5).result(timeout=120)
    assert fp == data.fingerprint()
    ex, ey = data.train_batch(4, 5)
    assert torch.equal(x, ex) and torch.equal(y, ey)


def test_pickled_recipe_reloads_and_detects_a_changed_source(tmp_path, tree):
    _, root = tree
    path = write_tar(tmp_path / "toy.tar.gz", root, "toy")
    data = BatchProvider(load_image_tar(path, "toy"), seed=1, valid_size=3)
    blob = pickle.dumps(data)
    clear_memo()
    back = pickle.loads(blob)
    assert back.dataset is not data.dataset  # really re-read
    assert torch.equal(back.train_batch(2, 4)[0], data.train_batch(2, 4)[0])
    clear_memo()
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(DataError, match="changed since"):
        pickle.loads(blob)


def test_in_memory_dataset_pickles_its_arrays():
    ds = indexed_dataset()
    back = pickle.loads(pickle.dumps(ds))
    assert back is not ds and back.key == ds.key
    assert torch.equal(back.train_images, ds.train_images)


def test_augmentation_is_seeded_crop_and_flip():
    data = BatchProvider(indexed_dataset(), seed=0)
    plain, _ = data.train_batch(3, 64, augment=False)
    aug, _ = data.train_batch(3, 64)
    assert aug.shape == plain.shape
    assert torch.equal(aug, data.train_batch(3, 64)[0])
    assert not torch.equal(aug, plain)
    src = data.dataset.train_images[torch.from_numpy(data.train_indices(3, 64))].numpy()
    got = pixels(data, aug)
    p = data.padding
    assert p == 2
    padded = np.pad(src, ((0, 0), (p, p), (p, p), (0, 0)))
    seen = set()
    for b in range(64):
        matches = set()
        for dy in range(2 * p + 1):
            for dx in range(2 * p + 1):
                crop = padded[b, dy : dy + 16, dx : dx + 16]
                for flip in (False, True):
                    if np.array_equal(got[b], crop[:, ::-1] if flip else crop):
                        matches.add((dy, dx, flip))
        assert matches, f"augmented image {b} is not a padded crop (+flip) of its source"
        seen |= matches
    assert any(f for _, _, f in seen) and any(not f for _, _, f in seen)
    assert len({(dy, dx) for dy, dx, _ in seen}) > 5


def test_random_crop_flip_depends_only_on_the_generator():
    x = torch.randint(0, 256, (8, 6, 6, 3), dtype=torch.uint8)
    a = random_crop_flip(x, torch.Generator().manual_seed(1), 2)
    b = random_crop_flip(x, torch.Generator().manual_seed(1), 2)
    c = random_crop_flip(x, torch.Generator().manual_seed(2), 2)
    assert a.shape == x.shape and a.dtype == torch.uint8
    assert torch.equal(a, b) and not torch.equal(a, c)
    unpadded = random_crop_flip(x, torch.Generator().manual_seed(1), 0)  # no padding: only flips
    for b in range(8):
        assert torch.equal(unpadded[b], x[b]) or torch.equal(unpadded[b], x[b].flip(1))


def test_normalisation_constants_are_nb201():
    c10_mean, c10_std = NB201_NORMALIZATION["cifar10"]
    assert c10_mean == pytest.approx([125.3 / 255, 123.0 / 255, 113.9 / 255])
    assert c10_std == pytest.approx([63.0 / 255, 62.1 / 255, 66.7 / 255])
    c100_mean, c100_std = NB201_NORMALIZATION["cifar100"]
    assert c100_mean == pytest.approx([129.3 / 255, 124.1 / 255, 112.4 / 255])
    assert c100_std == pytest.approx([68.2 / 255, 65.4 / 255, 70.4 / 255])
    data = BatchProvider(indexed_dataset(name="cifar10"), seed=0)
    assert data.mean == c10_mean and data.std == c10_std
    x, _ = data.train_batch(0, 8, augment=False)
    raw = data.dataset.train_images[torch.from_numpy(data.train_indices(0, 8))].permute(0, 3, 1, 2).float() / 255
    want = (raw - torch.tensor(c10_mean).view(1, 3, 1, 1)) / torch.tensor(c10_std).view(1, 3, 1, 1)
    torch.testing.assert_close(x, want)
    own = BatchProvider(indexed_dataset(name="toy"), seed=0)  # unknown data set: its own statistics
    assert own.mean == pytest.approx([0.5, 0.5, 0.5], abs=0.02)


def test_valid_split_is_disjoint_stratified_and_fixed_across_seeds():
    ds = indexed_dataset()
    data = BatchProvider(ds, seed=0)
    valid, train = data.split_indices("valid"), data.split_indices("train")
    assert len(valid) == 30 and not set(valid) & set(train)
    assert sorted([*valid, *train]) == list(range(300))
    assert np.bincount(ds.train_labels.numpy()[valid]).tolist() == [10, 10, 10]
    seen = set()
    for x, _ in data.train_batches(40, 16, augment=False):
        seen.update(ids(data, x))
    assert seen == set(train.tolist())  # every train batch comes from train, never from valid
    got = [i for x, _ in data.eval_batches("valid", 7) for i in ids(data, x)]
    assert got == valid.tolist()
    assert np.array_equal(BatchProvider(ds, seed=9).split_indices("valid"), valid)
    assert not np.array_equal(BatchProvider(ds, seed=0, split_seed=1).split_indices("valid"), valid)
    assert BatchProvider(ds, seed=0, valid_size=50).split_sizes()["valid"] == 50


def test_eval_batches_test_split_and_limit():
    data = BatchProvider(indexed_dataset(), seed=0)
    got = [i for x, _ in data.eval_batches("test", 25) for i in ids(data, x)]
    assert sorted(got) == list(range(60))
    batches = list(data.eval_batches("test", 8, limit=20))
    assert [len(y) for _, y in batches] == [8, 8, 4]
    assert len(set(torch.cat([y for _, y in batches]).tolist())) == 3  # a class-mixed subset
    with pytest.raises(DataError, match="unknown split"):
        next(data.eval_batches("train", 8))
    with pytest.raises(DataError, match="valid_size=0"):
        next(BatchProvider(data.dataset, seed=0, valid_size=0).eval_batches("valid", 8))
    with pytest.raises(DataError, match="valid_size"):
        BatchProvider(data.dataset, seed=0, valid_size=1.0)


def test_epoch_iterator_covers_train_once_per_epoch():
    data = BatchProvider(indexed_dataset(), seed=2)
    train = set(data.split_indices("train").tolist())
    epochs = []
    for e in (0, 1):
        order = [i for x, _ in data.epoch_iterator(e, 64, augment=False) for i in ids(data, x)]
        assert sorted(order) == sorted(train)
        epochs.append(order)
    assert epochs[0] != epochs[1]
    again = [i for x, _ in data.epoch_iterator(1, 64, augment=False) for i in ids(data, x)]
    assert again == epochs[1]
    assert [len(y) for _, y in data.epoch_iterator(0, 64)] == [64, 64, 64, 64, 14]
    assert len(list(data.epoch_iterator(0, 64, drop_last=True))) == 4
    assert data.train_indices(1, 64).tolist() == epochs[0][64:128]  # the stream's epoch 0
    wrapped = data.train_indices(4, 64).tolist()  # crosses into epoch 1
    assert wrapped[:14] == epochs[0][256:] and wrapped[14:] == epochs[1][:50]


def test_calibration_batches_are_plain_seeded_and_prefix_stable():
    data = BatchProvider(indexed_dataset(), seed=0)
    five = list(data.calibration_batches(5, 16))
    two = list(data.calibration_batches(2, 16))
    for (a, _), (b, _) in zip(two, five[:2], strict=True):
        assert torch.equal(a, b)
    train = set(data.split_indices("train").tolist())
    got = ids(data, five[0][0])
    assert set(got) <= train
    src = data.dataset.train_images[torch.tensor(got)].numpy()
    assert np.array_equal(pixels(data, five[0][0]), src)  # not augmented
    assert got != ids(data, data.train_batch(0, 16, augment=False)[0])
    assert not torch.equal(five[0][0], next(BatchProvider(data.dataset, seed=1).calibration_batches(1, 16))[0])


def test_fingerprint_tracks_data_seed_and_split():
    ds = indexed_dataset()
    fp = BatchProvider(ds, seed=0).fingerprint()
    assert fp == BatchProvider(indexed_dataset(), seed=0).fingerprint()
    assert fp == pickle.loads(pickle.dumps(BatchProvider(ds, seed=0))).fingerprint()
    assert fp != BatchProvider(ds, seed=1).fingerprint()
    assert fp != BatchProvider(ds, seed=0, valid_size=0.2).fingerprint()
    assert fp != BatchProvider(indexed_dataset(n_train=301), seed=0).fingerprint()
    described = BatchProvider(ds, seed=0).describe()
    assert described["fingerprint"] == fp and described["splits"]["valid"] == 30


def test_provider_from_a_loaded_tree(tree):
    _, root = tree
    data = BatchProvider(load_image_folder(root, "toy", cache=False), seed=0, valid_size=0)
    x, y = data.train_batch(0, 32)  # bigger than the 15-image train split: wraps epochs
    assert x.shape == (32, 3, 8, 8) and data.padding == 1
    assert np.bincount(y.numpy(), minlength=3).sum() == 32
