"""photos-wide: split logic, skipping missing sources, build and cache, on small generated photographs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vqlab.data import photos as P
from vqlab.data import photos_wide as W
from vqlab.data.base import ImageDataset
from vqlab.data.corpus import SKIMAGE, SURVEY_SOURCES, Photo, Source
from vqlab.errors import VQLabError


def _photo_file(path: Path, seed: int, size: tuple[int, int] = (72, 56)) -> None:
    """A textured colour picture, different for every seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = rng.integers(0, 256, 3)
    grid = np.add.outer(np.arange(h), np.arange(w))[..., None] * rng.uniform(0.5, 2.0, 3)
    noise = rng.integers(0, 40, (h, w, 3))
    Image.fromarray(((base + grid + noise) % 256).astype(np.uint8)).save(path)


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A catalogue of 8 generated photos in two installed sources and 2 in missing ones, patched into W."""
    a, b = tmp_path / "pkg-a", tmp_path / "pkg-b"
    a.mkdir()
    b.mkdir()
    src_a = Source("pkg-a", "debian", str(a), "CC0")
    src_b = Source("pkg-b", "debian", str(b), "MIT")
    missing_deb = Source("pkg-missing", "debian", str(tmp_path / "not-installed"), "GPL-2+")
    missing_py = Source("py-missing", "pypi", "python:vqlab_not_installed_module/data", "MIT")
    photos = []
    for i, name in enumerate(["t1", "t2", "v1", "a1", "a2", "pair_l", "pair_r"]):
        _photo_file(a / f"{name}.png", i)
        group = "pair" if name.startswith("pair") else ""
        photos.append(Photo(name, src_a, f"{name}.png", group=group))
    _photo_file(b / "b1.png", 99, (90, 40))
    photos += [
        Photo("b1", src_b, "b1.png"),
        Photo("gone1", missing_deb, "x.png"),
        Photo("gone2", missing_py, "y.png"),
    ]
    monkeypatch.setattr(W, "CATALOGUE", tuple(photos))
    monkeypatch.setattr(W, "TEST_PHOTOS", ("t1", "t2"))
    monkeypatch.setattr(W, "VAL_PHOTOS", ("v1", "gone1"))
    return {"a": a, "b": b, "src_b": src_b, "photos": photos, "cache": tmp_path / "cache"}


def _quiet_load(**kwargs: object) -> ImageDataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return W.load_photos_wide(**kwargs)


def test_pinned_photos_are_in_the_catalogue() -> None:
    names = [p.name for p in W.CATALOGUE]
    assert set(W.TEST_PHOTOS) == {"astronaut", "coffee", "flower"}
    assert set(W.TEST_PHOTOS) <= set(names) and set(W.VAL_PHOTOS) <= set(names)
    assert not set(W.TEST_PHOTOS) & set(W.VAL_PHOTOS)


def test_catalogue_split_proportions() -> None:
    splits = W.assign_splits(W.CATALOGUE)
    counts = {s: list(splits.values()).count(s) for s in W.SPLITS}
    assert counts["test"] == 3
    assert 0.15 <= counts["val"] / len(W.CATALOGUE) <= 0.25
    # the validation split always has a photo from a core dependency (scikit-image)
    assert any(p.source is SKIMAGE and splits[p.name] == "val" for p in W.CATALOGUE)


def test_survey_sources_validate_every_fifth_scene_and_groups_stay_whole() -> None:
    splits = W.assign_splits(W.CATALOGUE)
    survey = [p for p in W.CATALOGUE if p.source in SURVEY_SOURCES]
    assert survey and all(p.name in W.VAL_PHOTOS or splits[p.name] == "train" for p in survey)
    val = [p for p in survey if splits[p.name] == "val"]
    assert 0.15 <= len(val) / len(survey) <= 0.25  # about a fifth of the survey's photos, as of the whole
    for source in SURVEY_SOURCES:
        photos = [p for p in W.CATALOGUE if p.source is source]
        assert [p.name for p in photos if splits[p.name] == "val"] == W.every_fifth_scene(photos)
    groups: dict[str, set[str]] = {}
    for p in W.CATALOGUE:
        if p.group:
            groups.setdefault(p.group, set()).add(splits[p.name])
    assert groups and all(len(s) == 1 for s in groups.values())


def test_every_fifth_scene_counts_a_group_once() -> None:
    src = Source("pkg", "debian", "/nowhere", "CC0")
    layout = [("a", ""), ("b1", "b"), ("b2", "b"), ("c", ""), ("d", ""), ("e", ""), ("f", ""), ("g", ""),
              ("h1", "h"), ("h2", "h"), ("i", ""), ("j", ""), ("k", ""), ("l", ""), ("m", "")]
    photos = [Photo(n, src, f"{n}.png", group=g) for n, g in layout]
    # scenes a b c d e f g h i j k l m: the third (c), the eighth (h, both shots) and the thirteenth (m)
    assert W.every_fifth_scene(photos) == ["c", "h1", "h2", "m"]
    assert W.every_fifth_scene(photos[:3]) == [] and W.every_fifth_scene([]) == []


def test_assign_splits_pins_test_and_val_and_keeps_groups_whole(fake: dict) -> None:
    splits = W.assign_splits(fake["photos"], ("t1", "t2"), ("v1", "pair_r"))
    assert [n for n, s in splits.items() if s == "test"] == ["t1", "t2"]
    assert sorted(n for n, s in splits.items() if s == "val") == ["pair_l", "pair_r", "v1"]
    assert splits["pair_l"] == splits["pair_r"] == "val"  # the group follows its pinned member
    assert {splits[n] for n in ("a1", "a2", "b1", "gone1", "gone2")} == {"train"}
    with pytest.raises(VQLabError, match="both val and test"):
        W.assign_splits(fake["photos"], ("pair_l",), ("pair_r",))
    with pytest.raises(VQLabError, match="nope"):
        W.assign_splits(fake["photos"], ("t1", "nope"), ())
    with pytest.raises(VQLabError, match="duplicate"):
        W.assign_splits([*fake["photos"], fake["photos"][0]], (), ())


def test_select_skips_missing_sources_and_never_moves_photos(fake: dict) -> None:
    sel = W.select_photos()
    assert [p.name for p in sel.photos] == ["t1", "t2", "v1", "a1", "a2", "pair_l", "pair_r", "b1"]
    assert sel.names("test") == ["t1", "t2"] and sel.names("val") == ["v1"]
    assert [(s.package, names) for s, names in sel.skipped] == [("pkg-missing", ("gone1",)), ("py-missing", ("gone2",))]
    note = sel.note()
    assert "pkg-missing" in note and "py-missing" in note and W.INSTALL_HINT in note
    # removing a whole source changes nothing else's split
    for f in fake["b"].iterdir():
        f.unlink()
    sel2 = W.select_photos()
    assert "b1" not in sel2.splits and all(sel2.splits[n] == sel.splits[n] for n in sel2.splits)
    # a test photo must be there
    (fake["a"] / "t2.png").unlink()
    with pytest.raises(VQLabError, match="t2"):
        W.select_photos()


def test_build_keeps_whole_photos_in_one_split_and_is_deterministic(fake: dict) -> None:
    sel = W.select_photos()
    arrays, records = W.build_wide_arrays(sel, 16)
    again, _ = W.build_wide_arrays(sel, 16)
    for split in W.SPLITS:
        assert arrays[split].dtype == np.uint8 and arrays[split].shape[1:] == (3, 16, 16)
        np.testing.assert_array_equal(arrays[split], again[split])
        assert len(arrays[split]) == sum(r["crops"] for r in records if r["split"] == split) > 0
    assert [r["name"] for r in records] == [p.name for p in sel.photos]
    # crops of a photo are exactly the crops of that photo alone, in its split
    for split, names in (("test", ["t1", "t2"]), ("val", ["v1"])):
        own = [P.crop_photo(p.load(W._max_side(16)), 16, 16, scales=W.SCALES, max_per_scale=W.MAX_CROPS_PER_SCALE,
                            max_per_photo=W.MAX_CROPS_PER_PHOTO) for p in sel.photos if p.name in names]
        np.testing.assert_array_equal(arrays[split], np.concatenate(own))
    rows = {s: {r.tobytes() for r in arrays[s]} for s in W.SPLITS}
    assert not rows["train"] & rows["val"] and not rows["train"] & rows["test"] and not rows["val"] & rows["test"]


def test_load_builds_once_then_uses_cache(fake: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.warns(UserWarning, match="pkg-missing"):
        ds = W.load_photos_wide(image_size=16, cache_dir=fake["cache"])
    assert ds.name == "photos-wide" and ds.val is not None
    assert ds.train.dtype == torch.uint8 and ds.val.shape[1:] == ds.test.shape[1:] == (3, 16, 16)
    metas = list((fake["cache"] / "photos-wide").glob("*-meta.json"))
    assert len(metas) == 1
    meta = json.loads(metas[0].read_text())
    assert meta["counts"] == {"train": len(ds.train), "val": len(ds.val), "test": len(ds.test)}
    assert [(r["name"], r["split"]) for r in meta["photos"]][:3] == [("t1", "test"), ("t2", "test"), ("v1", "val")]
    assert meta["photos"][-1]["package"] == "pkg-b" and meta["photos"][-1]["licence"] == "MIT"
    assert [s["package"] for s in meta["skipped"]] == ["pkg-missing", "py-missing"]

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(W, "build_wide_arrays", fail)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no note when the cache is used
        second = W.load_photos_wide(image_size=16, cache_dir=fake["cache"])
    for split in W.SPLITS:
        assert torch.equal(getattr(ds, split), getattr(second, split))


def test_cache_is_rebuilt_when_the_photo_list_changes(fake: dict) -> None:
    first = _quiet_load(image_size=16, cache_dir=fake["cache"])
    key1 = W.cache_key(W.select_photos(), 16)
    (fake["b"] / "b1.png").unlink()  # a package removed: one train photo fewer
    key2 = W.cache_key(W.select_photos(), 16)
    second = _quiet_load(image_size=16, cache_dir=fake["cache"])
    assert key1 != key2 and len(second.train) < len(first.train)
    assert torch.equal(first.test, second.test) and torch.equal(first.val, second.val)
    _photo_file(fake["b"] / "b1.png", 99, (90, 40))  # reinstalled: the first cache is valid again
    assert W.cache_key(W.select_photos(), 16) == key1
    _photo_file(fake["b"] / "b1.png", 5, (91, 40))  # a different file under the same name
    assert W.cache_key(W.select_photos(), 16) not in (key1, key2)
    assert len(list((fake["cache"] / "photos-wide").glob("*-meta.json"))) == 2


def test_a_photo_list_pins_the_corpus(fake: dict, tmp_path: Path) -> None:
    """--data-root LIST.json: only the listed photos, whatever else is installed; the crops of a photo are the
    same as in the full corpus; a listed photo that is missing or in another split is a one-line error."""
    full = _quiet_load(image_size=16, cache_dir=fake["cache"])
    listing = tmp_path / "corpus.json"  # the colorize study's record: the lists under "photos"
    listing.write_text(json.dumps({"data": "photos-wide", "photos": {"train": ["a1", "a2"], "val": ["v1"],
                                                                     "test": ["t1", "t2"]}}))
    pinned = W.load_photos_wide(root=listing, image_size=16, cache_dir=fake["cache"])
    assert torch.equal(pinned.val, full.val) and torch.equal(pinned.test, full.test)
    sel = W.select_photos()
    own = [P.crop_photo(p.load(W._max_side(16)), 16, 8, scales=W.SCALES, max_per_scale=W.MAX_CROPS_PER_SCALE,
                        max_per_photo=W.MAX_CROPS_PER_PHOTO) for p in sel.photos if p.name in ("a1", "a2")]
    assert torch.equal(pinned.train, torch.from_numpy(np.concatenate(own)))
    assert len(pinned.train) < len(full.train)  # the pair and b1 are left out
    # a plain {"train": ..., "val": ..., "test": ...} works the same, through the registry
    from vqlab.data import load_dataset

    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"train": ["a1", "a2"], "val": ["v1"], "test": ["t1", "t2"]}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the uninstalled sources are not listed: no warning
        again = load_dataset("photos-wide", root=str(plain), image_size=16, cache_dir=fake["cache"])
    assert torch.equal(again.train, pinned.train)
    for blob, message in (({"train": ["gone2"], "val": [], "test": []}, "not installed"),
                          ({"train": ["v1"], "val": [], "test": []}, "v1 \\(train there, val here\\)"),
                          ({"train": ["a1"]}, "needs lists of names"),
                          ("{broken", "cannot read the photo list")):
        listing.write_text(blob if isinstance(blob, str) else json.dumps(blob))
        with pytest.raises(VQLabError, match=message):
            W.load_photos_wide(root=listing, image_size=16, cache_dir=fake["cache"])
    with pytest.raises(VQLabError, match="cannot read the photo list"):
        W.load_photos_wide(root=tmp_path / "nope.json", image_size=16, cache_dir=fake["cache"])


@pytest.mark.parametrize("damage", ["meta", "array", "count"])
def test_damaged_cache_is_rebuilt(fake: dict, damage: str) -> None:
    ds = _quiet_load(image_size=16, cache_dir=fake["cache"])
    paths = W.cache_paths(16, W.cache_key(W.select_photos(), 16), fake["cache"])
    if damage == "meta":
        paths["meta"].write_text("{not json")
    elif damage == "array":
        paths["val"].write_bytes(b"garbage")
    else:
        np.save(paths["train"], np.zeros((3, 3, 16, 16), np.uint8))
    again = _quiet_load(image_size=16, cache_dir=fake["cache"])
    assert torch.equal(ds.train, again.train) and torch.equal(ds.val, again.val)
    assert json.loads(paths["meta"].read_text())["counts"]["train"] == len(ds.train)


def test_test_split_equals_the_photos_test_split() -> None:
    """At 32x32 the real test photos (core dependencies) give exactly the `photos` test crops."""
    test_only = [p for p in W.CATALOGUE if p.name in W.TEST_PHOTOS]
    expected = np.concatenate([P.crop_photo(P.load_photo(n), 32, 32) for n in P.TEST_PHOTOS])
    crops = np.concatenate([
        P.crop_photo(p.load(W._max_side(32)), 32, 32, scales=W.SCALES, max_per_scale=W.MAX_CROPS_PER_SCALE,
                     max_per_photo=W.MAX_CROPS_PER_PHOTO) for p in test_only
    ])
    np.testing.assert_array_equal(crops, expected)


def test_build_refuses_an_empty_train_split(fake: dict) -> None:
    sel = W.select_photos()
    test_only = W.Selection(tuple(p for p in sel.photos if p.name == "t1"), {"t1": "test"}, ())
    with pytest.raises(VQLabError, match="no train crops"):
        W.build_wide_arrays(test_only, 16)


def test_bad_image_size_and_registry(fake: dict) -> None:
    from vqlab.data import DATASETS, load_dataset

    assert DATASETS["photos-wide"] is W.load_photos_wide
    with pytest.raises(VQLabError, match="image_size"):
        W.load_photos_wide(image_size=0)
    ds = _quiet_load(image_size=16, cache_dir=fake["cache"])
    via = load_dataset("photos-wide", image_size=16, cache_dir=fake["cache"])
    assert torch.equal(ds.val, via.val)
