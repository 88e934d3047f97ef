"""The dataset doctor (check_directory): every finding, its grade, the split it shares with the
loader, strict mode, the errors that stop training, and the readable report."""

from __future__ import annotations

import os
import shutil
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from glassnet.data import (
    DatasetError,
    DatasetReport,
    DatasetWarning,
    check_directory,
    image_dataset_from_directory,
)

pytestmark = pytest.mark.filterwarnings("error::glassnet.data.DatasetWarning")


def save(path, pixels, fmt=None, **kwargs):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path, fmt, **kwargs)
    return str(path)


def make_folder(root, counts, size=(6, 5)):
    """One sub-folder per class; every image different (filled with its index, the class id
    in the corner)."""
    for c, (name, n) in enumerate(counts.items()):
        for i in range(n):
            pixels = np.full((*size, 3), i, np.uint8)
            pixels[0, 0] = c
            save(root / name / f"{i:03d}.png", pixels)
    return root


def truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def clean(tmp_path):
    return make_folder(tmp_path / "clean", {"cats": 5, "dogs": 4})


# ---------------------------------------------------------------------------- a clean folder
def test_clean_folder(clean):
    save(clean / "dogs" / "big.jpg", np.zeros((30, 40, 3), np.uint8))
    save(clean / "dogs" / "gray.png", np.full((10, 20), 3, np.uint8))
    report = check_directory(clean)
    assert isinstance(report, DatasetReport)
    assert report.ok
    assert report.class_names == ["cats", "dogs"]
    assert report.counts == {"cats": 5, "dogs": 6}
    assert report.num_files == report.num_usable == 11
    assert report.problems == report.warnings == report.errors == []
    assert report.min_size == (6, 5)
    assert report.median_size == (6, 5)
    assert report.max_size == (30, 40)
    assert report.modes == {"RGB": 10, "L": 1}
    assert report.formats == {"PNG": 10, "JPEG": 1}
    assert report.imbalance_ratio == pytest.approx(6 / 5)
    assert not report.imbalanced
    text = str(report)
    assert f"Dataset check: {clean} (11 image files, 2 classes)" in text
    assert "cats  █████████████████████████" in text  # a bar per class
    assert "Image sizes (height×width): min 6×5, median 6×5, max 30×40" in text
    assert "No problems found." in text


def test_hidden_files_and_folders_are_ignored(clean):
    (clean / ".git").mkdir()
    (clean / ".git" / "x.png").write_bytes(b"junk")
    (clean / "cats" / ".DS_Store").write_bytes(b"junk")
    (clean / "cats" / "._001.png").write_bytes(b"junk")
    report = check_directory(clean)
    assert report.class_names == ["cats", "dogs"]
    assert report.problems == report.warnings == []


def test_nested_folders_count_for_their_class(clean):
    save(clean / "cats" / "2024" / "summer" / "a.png", np.full((6, 5, 3), 200, np.uint8))
    assert check_directory(clean).counts == {"cats": 6, "dogs": 4}


# ---------------------------------------------------------------------------- bad files
def test_corrupt_truncated_and_non_image_files(clean, rng):
    truncated = clean / "cats" / "cut.jpg"
    save(truncated, rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), quality=90)
    truncate(truncated)
    (clean / "cats" / "text.jpg").write_text("this is not a photo")
    (clean / "dogs" / "empty.png").write_bytes(b"")
    broken = clean / "dogs" / "broken.png"  # a valid header, then garbage instead of pixels
    broken.write_bytes((clean / "dogs" / "000.png").read_bytes()[:40] + b"\x00" * 200)
    (clean / "dogs" / "readme.txt").write_text("ignored")
    report = check_directory(clean)
    assert report.ok  # training can go on without them
    corrupt = dict(report.corrupt_files)
    assert set(corrupt) == {str(truncated), str(clean / "dogs" / "empty.png"), str(broken)}
    assert "truncated" in corrupt[str(truncated)]
    assert "empty" in corrupt[str(clean / "dogs" / "empty.png")]
    assert report.non_image_files == [
        (
            str(clean / "cats" / "text.jpg"),
            "not a PNG, JPEG, BMP, GIF or WebP image: it looks like text",
        )
    ]
    assert report.ignored_files == [str(clean / "dogs" / "readme.txt")]
    assert report.num_files == 13
    assert report.num_usable == 9
    assert report.counts == {"cats": 5, "dogs": 4}
    assert len(report.skipped_files) == 4
    assert any(
        p.startswith(f"corrupt: {truncated}: the file is truncated") for p in report.problems
    )
    assert any(
        p.startswith(f"not an image: {clean / 'cats' / 'text.jpg'}") for p in report.problems
    )
    assert any("readme.txt" in w and "ignored" in w for w in report.warnings)
    assert "Readable images: 9 of 13 (4 skipped)" in str(report)


def test_strict_makes_unreadable_files_errors(clean):
    (clean / "cats" / "text.jpg").write_text("not a photo")
    with pytest.raises(DatasetError, match=r"1 unreadable image file\(s\) \(strict=True\)") as info:
        check_directory(clean, strict=True)
    message = str(info.value)
    assert f"the image folder '{clean}' cannot be used for training" in message
    assert "text.jpg: not a PNG" in message  # the files are listed
    assert info.value.report.errors
    assert isinstance(info.value, ValueError)


def test_decompression_bomb_is_listed_as_corrupt(clean):
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    (clean / "cats" / "bomb.png").write_bytes(bomb)
    (reason,) = dict(check_directory(clean).corrupt_files).values()
    assert "2,500,000,000 pixels" in reason


# ---------------------------------------------------------------------------- classes
def test_empty_class_folder_is_a_problem(clean):
    (clean / "birds").mkdir()
    report = check_directory(clean)
    assert report.empty_classes == ["birds"]
    assert report.counts == {"birds": 0, "cats": 5, "dogs": 4}
    (problem,) = report.problems
    assert f"empty class folder '{clean / 'birds'}'" in problem
    assert "never sees an example" in problem
    assert report.imbalance_ratio == pytest.approx(5 / 4)  # empty classes are reported apart


def test_imbalance_is_flagged(tmp_path):
    root = make_folder(tmp_path / "d", {"many": 7, "few": 2})
    report = check_directory(root)
    assert report.imbalance_ratio == pytest.approx(3.5)
    assert report.imbalanced
    (warning,) = report.warnings
    assert "class imbalance: 'many' has 7 images, 'few' only 2 (3.5×, above 3×)" in warning
    assert "(imbalanced)" in str(report)
    assert not check_directory(make_folder(tmp_path / "e", {"a": 6, "b": 2})).imbalanced


@pytest.mark.parametrize(
    "layout, match",
    [
        (
            {"only": 3},
            r"'.*' has a single class folder \('only'\): a classifier needs at least two",
        ),
        ({"a": 3, "b": 0}, r"only one class of '.*' has readable images \('a'; 'b' empty\)"),
        ({"a": 0, "b": 0}, r"all 2 class folder\(s\) are empty \(no bmp/gif/jpeg/jpg/png/webp"),
    ],
)
def test_class_errors_name_the_folder(tmp_path, layout, match):
    root = tmp_path / "d"
    for name in layout:
        (root / name).mkdir(parents=True)
    make_folder(root, layout)
    with pytest.raises(DatasetError, match=match) as info:
        check_directory(root)
    assert f"'{root}' cannot be used for training" in str(info.value)


def test_zero_readable_images(tmp_path):
    for name in ("a", "b"):
        (tmp_path / "d" / name).mkdir(parents=True)
        (tmp_path / "d" / name / "x.jpg").write_text("text")
    with pytest.raises(DatasetError, match="none of the 2 image files in '.*d' could be read"):
        check_directory(tmp_path / "d")


def test_missing_folder_and_no_class_folders(tmp_path):
    with pytest.raises(DatasetError, match="check_directory: the image folder '.*nope' does not"):
        check_directory(tmp_path / "nope")
    save(tmp_path / "flat" / "1.png", np.zeros((2, 2, 3), np.uint8))
    with pytest.raises(DatasetError, match=r"no class folders in '.*flat'.*holds 1 image\(s\)"):
        check_directory(tmp_path / "flat")


def test_class_names_choose_the_folders(clean):
    (clean / "junk").mkdir()
    report = check_directory(clean, class_names=["dogs", "cats"])
    assert report.class_names == ["dogs", "cats"]
    assert report.counts == {"dogs": 4, "cats": 5}
    assert report.empty_classes == []
    # A chosen label set may have one class (e.g. a test folder for a known model).
    assert check_directory(clean, class_names=["dogs"]).counts == {"dogs": 4}
    with pytest.raises(ValueError, match="'class_names' must name distinct sub-folders"):
        check_directory(clean, class_names=["lions"])


def test_images_outside_class_folders_are_reported(clean):
    save(clean / "stray.png", np.zeros((2, 2, 3), np.uint8))
    report = check_directory(clean)
    assert report.loose_images == [str(clean / "stray.png")]
    assert any("outside the class folders and ignored" in w for w in report.warnings)


# ---------------------------------------------------------------------------- duplicates
def test_duplicates_within_and_across_classes(clean):
    shutil.copy(clean / "cats" / "000.png", clean / "cats" / "copy.png")
    shutil.copy(clean / "dogs" / "001.png", clean / "cats" / "stolen.png")
    report = check_directory(clean)
    same = (str(clean / "cats" / "000.png"), str(clean / "cats" / "copy.png"))
    across = (str(clean / "cats" / "stolen.png"), str(clean / "dogs" / "001.png"))
    assert sorted(report.duplicates) == sorted([same, across])
    assert report.duplicates_across_classes == [across]
    assert report.duplicates_across_split == []  # no split asked for
    (problem,) = report.problems
    assert "the same image is in different classes (conflicting labels)" in problem
    assert "stolen.png (cats)" in problem
    assert "001.png (dogs)" in problem
    assert any(w.startswith("duplicate images (identical bytes):") for w in report.warnings)


def test_duplicates_across_the_loaders_split(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 10, "b": 10})
    for i in range(10):  # every "a" image gets an identical twin in the same class
        shutil.copy(root / "a" / f"{i:03d}.png", root / "a" / f"twin{i}.png")
    split = {"validation_split": 0.3, "seed": 4}
    report = check_directory(root, **split)
    assert (report.num_training, report.num_validation) == (21, 9)
    assert report.duplicates_across_split
    # The same rule as the loader: each crossing pair has one file on each side of its split.
    with pytest.warns(DatasetWarning, match="duplicate across the training/validation split"):
        train, val = image_dataset_from_directory(root, subset="both", image_size=(6, 5), **split)
    for group in report.duplicates_across_split:
        assert len(set(group) & set(train.file_paths)) == 1
        assert len(set(group) & set(val.file_paths)) == 1
    for group in set(report.duplicates) - set(report.duplicates_across_split):
        assert set(group) <= set(train.file_paths) or set(group) <= set(val.file_paths)
    crossing = [w for w in report.warnings if "across the training/validation split" in w]
    assert len(crossing) == len(report.duplicates_across_split)
    assert "Validation split 0.3 (seed 4): 21 training, 9 validation" in str(report)


def test_split_needs_a_seed_and_reports_classes_missing_from_a_subset(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 12, "b": 1})
    with pytest.raises(ValueError, match=r"validation_split=0.2 needs a 'seed'"):
        check_directory(root, validation_split=0.2)
    seed = next(s for s in range(50) if _b_in_training(root, s))
    report = check_directory(root, validation_split=0.2, seed=seed)
    assert any("class 'b' has no images in the validation subset" in w for w in report.warnings)


def _b_in_training(root, seed):
    from glassnet.data.directory import split_indices

    training, _ = split_indices(13, 0.2, seed)
    return 12 in training  # position 12 is b's only image in the sorted list


# ---------------------------------------------------------------------------- the report
def test_report_lists_are_capped_when_printed(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 2, "b": 2})
    for i in range(25):
        (root / "a" / f"bad{i:02d}.jpg").write_text("x")
    text = str(check_directory(root))
    assert "Problems: 25" in text
    assert "... and 5 more" in text


def test_many_files_are_checked(tmp_path):
    root = make_folder(tmp_path / "d", {"a": 150, "b": 150}, size=(16, 16))
    report = check_directory(root)
    assert report.num_usable == 300
    assert report.counts == {"a": 150, "b": 150}


def test_cache_remembers_results_and_rechecks_only_changed_files(clean, tmp_path, monkeypatch):
    from glassnet.data import doctor

    opened = []
    real = doctor.inspect_file
    monkeypatch.setattr(doctor, "inspect_file", lambda path: opened.append(path) or real(path))
    first = check_directory(clean, cache=tmp_path / "cache")
    assert len(opened) == 9
    (memo,) = (tmp_path / "cache").glob("check-*.json")
    opened.clear()
    again = check_directory(clean, cache=tmp_path / "cache")
    assert opened == []  # nothing changed: nothing opened
    assert str(again) == str(first)
    (clean / "cats" / "003.png").write_text("now broken")
    os.utime(clean / "cats" / "003.png", ns=(1, 10**18))
    report = check_directory(clean, cache=tmp_path / "cache")
    assert opened == [str(clean / "cats" / "003.png")]
    assert [p for p, _ in report.non_image_files] == [str(clean / "cats" / "003.png")]
    memo.write_text("{not json")
    opened.clear()
    check_directory(clean, cache=tmp_path / "cache")  # an unreadable memo is just redone
    assert len(opened) == 9
    opened.clear()
    with pytest.warns(DatasetWarning, match="cats/003.png"):
        image_dataset_from_directory(clean, image_size=(6, 5), cache=tmp_path / "cache")
    assert opened == []  # the loader's doctor shares the memo


def test_an_empty_class_folder_is_named_before_the_split_is_blamed(tmp_path):
    """The photo-classifier issue's report: one image in 'cats', none in 'dogs', and a split
    that leaves no validation image. The empty folder is the culprit, so it is named."""
    root = tmp_path / "photos"
    (root / "dogs").mkdir(parents=True)
    make_folder(root, {"cats": 1})
    with pytest.raises(DatasetError, match=r"class folder\(s\) with no images: '.*dogs'") as info:
        image_dataset_from_directory(root, validation_split=0.2, subset="both", seed=1)
    assert "leaves no validation" not in str(info.value) and "glassnet check" in str(info.value)
    make_folder(root, {"cats": 1, "dogs": 1})  # both have one: now the split is the problem
    with pytest.raises(DatasetError, match="leaves no validation images"):
        image_dataset_from_directory(root, validation_split=0.2, subset="both", seed=1)
