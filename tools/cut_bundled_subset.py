#!/usr/bin/env python3
"""Cut the small Fashion-MNIST subset that Offload.Core embeds as a fallback data set.

Reproducible: the first N images of each class, in file order, from the real files that
Debian's `dataset-fashion-mnist` package installs. Output is gzip IDX (same format as the
source, so the same reader loads it), with a fixed gzip header (no name, mtime 0) so that
re-running the script gives byte-identical files.

Usage (stdlib only):
    python3 tools/cut_bundled_subset.py [SOURCE_DIR] [OUTPUT_DIR]
defaults: /usr/share/datasets/fashion-mnist  core/Offload.Core/Data/Bundled
"""
import gzip
import os
import struct
import sys

CLASSES = 10
SPLITS = [
    # (source prefix, output prefix, images per class)
    ("train", "train", 400),
    ("t10k", "t10k", 100),
]


def read_idx(path, magic, dims):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got_magic = struct.unpack(">I", data[:4])[0]
    if got_magic != magic:
        raise SystemExit(f"{path}: magic 0x{got_magic:08x}, expected 0x{magic:08x}")
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    body = data[4 + 4 * dims:]
    size = 1
    for d in shape:
        size *= d
    if len(body) != size:
        raise SystemExit(f"{path}: {len(body)} data bytes, header declares {size}")
    return shape, body


def write_idx(path, magic, shape, body):
    header = struct.pack(">I", magic) + struct.pack(">" + "I" * len(shape), *shape)
    with open(path, "wb") as raw:
        # filename="" and mtime=0 keep the gzip header free of run-specific bytes.
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
            f.write(header)
            f.write(body)


def cut(source_dir, output_dir, src_prefix, out_prefix, per_class):
    (count,), labels = read_idx(os.path.join(source_dir, f"{src_prefix}-labels-idx1-ubyte.gz"), 0x801, 1)
    (n, rows, cols), pixels = read_idx(os.path.join(source_dir, f"{src_prefix}-images-idx3-ubyte.gz"), 0x803, 3)
    if n != count:
        raise SystemExit(f"{src_prefix}: {n} images but {count} labels")
    taken = [0] * CLASSES
    chosen = []
    for i, label in enumerate(labels):
        if taken[label] < per_class:
            taken[label] += 1
            chosen.append(i)
    if any(t < per_class for t in taken):
        raise SystemExit(f"{src_prefix}: not enough images per class: {taken}")
    size = rows * cols
    out_labels = bytes(labels[i] for i in chosen)
    out_pixels = b"".join(pixels[i * size:(i + 1) * size] for i in chosen)
    os.makedirs(output_dir, exist_ok=True)
    write_idx(os.path.join(output_dir, f"{out_prefix}-labels-idx1-ubyte.gz"), 0x801, (len(chosen),), out_labels)
    write_idx(os.path.join(output_dir, f"{out_prefix}-images-idx3-ubyte.gz"), 0x803, (len(chosen), rows, cols), out_pixels)
    print(f"{out_prefix}: {len(chosen)} images ({per_class} per class) from {count}; last source index {chosen[-1]}")


def main():
    source_dir = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    output_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "core", "Offload.Core", "Data", "Bundled")
    for src, out, per_class in SPLITS:
        cut(source_dir, output_dir, src, out, per_class)


if __name__ == "__main__":
    main()
