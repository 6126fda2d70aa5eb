"""Writes hf/testdata/torch_dtype_bits.json: float32 bit patterns and the
bfloat16 / float16 bit patterns PyTorch produces when casting them
(round to nearest even). Run: /usr/bin/python3 scripts/hf_dtype_fixture.py
"""
import json
import struct

import numpy as np
import torch

rng = np.random.default_rng(2027)


def f32bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def bits32(b):
    return struct.unpack("<f", struct.pack("<I", b))[0]


special = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, 65504.0, 65519.0, 65519.99, 65520.0, 65536.0,
           1e5, -1e5, 3.4e38, -3.4e38, 1e-8, 1e-7, 6e-8, 2.0 ** -14, 2.0 ** -15, 2.0 ** -24,
           2.0 ** -25, 2.0 ** -26, 1.5 * 2.0 ** -24, 2.5 * 2.0 ** -24, 3.5 * 2.0 ** -24,
           (1 - 2.0 ** -11) * 2.0 ** -14, 1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -11,
           1 + 3 * 2.0 ** -11, 1 + 2.0 ** -11 + 2.0 ** -20, 0.1, -0.1, 3.14159265, 1.0 / 3]
bits = [f32bits(np.float32(x)) for x in special]
bits += [0x7F800000, 0xFF800000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF,
         0x3F808000, 0x3F818000, 0x3F80C000, 0x3F80FFFF, 0x7F7F8000, 0x7F7FFFFF, 0x477FEFFF,
         0x477FF000, 0x33000000, 0x33000001, 0x387FC000, 0x387FE000, 0x38800000]
bits += [int(b) for b in rng.integers(0, 2 ** 32, size=1500, dtype=np.uint64)]
for scale in [1e-7, 1e-5, 1e-3, 1.0, 1e3, 6e4]:
    xs = (rng.standard_normal(200) * scale).astype(np.float32)
    bits += [f32bits(x) for x in xs]
# Drop NaNs: their payload handling is implementation-defined; tests check
# NaN stays NaN separately.
bits = [b for b in bits if not ((b & 0x7F800000) == 0x7F800000 and (b & 0x7FFFFF) != 0)]

t = torch.tensor(np.array(bits, dtype=np.uint32).view(np.float32))
bf = t.to(torch.bfloat16).view(torch.int16).numpy().astype(np.uint16)
hf = t.to(torch.float16).view(torch.int16).numpy().astype(np.uint16)
rows = [["%08x" % b, "%04x" % int(x), "%04x" % int(y)] for b, x, y in zip(bits, bf, hf)]
with open("hf/testdata/torch_dtype_bits.json", "w") as f:
    json.dump({"torch": torch.__version__, "columns": ["f32", "bf16", "f16"], "rows": rows}, f, separators=(",", ":"))
    f.write("\n")
print(len(rows), "rows")
