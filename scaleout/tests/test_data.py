"""The Python reader sees exactly the rows the Go side wrote, in every format."""

import json
import os

import numpy as np
import pytest

from conftest import prepare, run
from longrecipe_torch import data


def rows_of(path):
    ds = data.Dataset(path, verify=True)
    return [ds.row(i) for i in range(len(ds))]


def same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert np.array_equal(x.input_ids, y.input_ids)
        assert np.array_equal(x.position_ids, y.position_ids)
        assert (x.loss_mask is None) == (y.loss_mask is None) or (x.loss_mask if x.loss_mask is not None else y.loss_mask).all()


def test_formats_agree(lr, corpus, shards, work):
    native = rows_of(shards)
    assert len(native) == 8
    gaps = [int((np.diff(r.position_ids) != 1).sum()) for r in native]
    assert max(gaps) > 0, "LongRecipe rows should have position gaps"
    for fmt in ("jsonl", "parquet"):
        other = rows_of(prepare(lr, corpus, str(work / f"ds-{fmt}"), fmt))
        same(native, other)


def test_datasets_and_pyarrow_read_parquet(lr, corpus, shards, work):
    import pyarrow.parquet as pq
    from datasets import load_dataset

    d = str(work / "ds-pq2")
    prepare(lr, corpus, d, "parquet")
    files = sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".parquet"))
    native = rows_of(shards)
    t = pq.read_table(files[0])
    assert t.column("input_ids").to_pylist() == [r.input_ids.tolist() for r in native]
    hf = load_dataset("parquet", data_files=files, split="train")
    assert hf["position_ids"] == [r.position_ids.tolist() for r in native]
    assert hf["input_ids"] == [r.input_ids.tolist() for r in native]


def test_corruption_is_caught(shards, work):
    import shutil

    bad = str(work / "ds-bad")
    shutil.copytree(shards, bad)
    f = os.path.join(bad, "shard-00000.lrs")
    b = bytearray(open(f, "rb").read())
    b[70] ^= 1
    open(f, "wb").write(b)
    data.Dataset(bad)  # structure intact: opens
    with pytest.raises(data.DataError, match="CRC-32C"):
        data.Dataset(bad, verify=True)
    b[0] = ord("X")
    open(f, "wb").write(b)
    with pytest.raises(data.DataError, match="bad magic"):
        data.Dataset(bad)


@pytest.mark.parametrize("fmt", ["shards", "jsonl"])
def test_flipped_byte_refused_on_first_row(lr, corpus, shards, work, fmt):
    """Without verify=True, the first row read from a damaged data file is
    refused (CRC-32C against the manifest), as in the Go reader: the torch
    backend never trains on a flipped byte (issue 11 F3)."""
    import shutil

    bad = str(work / f"ds-flip-{fmt}")
    if fmt == "shards":
        shutil.copytree(shards, bad)
    else:
        prepare(lr, corpus, bad, fmt)
    name = sorted(n for n in os.listdir(bad) if n != "manifest.json")[0]
    f = os.path.join(bad, name)
    b = bytearray(open(f, "rb").read())
    at = 70 if fmt == "shards" else b.index(b"[") + 1  # a token id's digit
    b[at] ^= 1
    open(f, "wb").write(b)
    ds = data.Dataset(bad)
    for i in (0, len(ds) - 1):
        with pytest.raises(data.DataError, match=f"{name}: CRC-32C .* file is damaged"):
            ds.row(i)


def test_crc32c_matches_byte_loop():
    """The vectorised CRC against a plain byte-at-a-time reference, across
    block and lane splits."""
    poly, rng = 0x82F63B78, np.random.default_rng(3)

    def ref(buf):
        c = 0xFFFFFFFF
        for x in buf:
            c ^= x
            for _ in range(8):
                c = (c >> 1) ^ poly if c & 1 else c >> 1
        return c ^ 0xFFFFFFFF

    for n in (0, 1, 7, 64, 1000, 5003):
        buf = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        assert data.crc32c(buf) == ref(buf), n
        assert data.crc32c(buf, block=97, lanes=5) == ref(buf), n


@pytest.mark.parametrize("obj,err", [
    ({"position_ids": [0]}, "no input_ids"),
    ({"input_ids": [1, 2], "position_ids": [0]}, "position ids"),
    ({"input_ids": [1, 2], "labels": [1, 5]}, "neither -100"),
    ({"input_ids": [1, 2], "labels": [-100, 2], "loss_mask": [0, 1]}, "both"),
    ({"input_ids": [-1]}, "negative"),
])
def test_bad_json_rows(obj, err):
    with pytest.raises(data.DataError, match=err):
        data.parse_json_row(obj, "x")


def test_labels_become_mask():
    r = data.parse_json_row({"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, "x")
    assert r.loss_mask.tolist() == [False, True, True]
    assert r.position_ids.tolist() == [0, 1, 2]


def test_crc32c_known_value():
    assert data.crc32c(b"123456789") == 0xE3069283
