#!/usr/bin/env python3
"""Trains the bundled demo model (a small Fashion-MNIST CNN) and writes the web app's demo assets.

Why: the app opens with a model, sample inputs and labels so the first heatmap appears with no clicks.
Not part of scripts/test.sh: what it writes to assets/demo/ is committed. Deterministic (fixed seeds,
deterministic algorithms, one thread, CPU): the same torch build gives the same bytes.

Needs Debian's python3-torch and dataset-fashion-mnist (python3-onnx is not needed: torch.onnx.export
serialises on its own). About 1.5 minutes of CPU time (one thread; longer wall time on a busy machine).

usage: /usr/bin/python3 scripts/make_demo_model.py [--data DIR] [--out DIR] [--epochs N]

Writes to OUT (default assets/demo/):
  fashion_cnn.onnx       opset 13, input 'image' float32 [N,1,28,28], output 'logits' [N,10];
                         BatchNormalization kept in the graph (for relscope's BN canonizer)
  labels.txt             the 10 class names, one per line, in label order
  samples/<i>_<c>.png    6 test images (28x28 8-bit grayscale): in test-set order, the first correctly
                         classified image of each class until 6 classes are covered; i = test-set index
  samples/expected.json  torch's logits for each PNG preprocessed as the app does
  preprocess.json        how the app turns pixels into the model's input: x/255, then (x - 0.2860) / 0.3530
The md5, size and accuracy for assets/demo/README.md are printed at the end.
"""
import argparse
import gzip
import hashlib
import json
import os
import re
import struct
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel mean/std after scaling to [0,1]
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SEED = 20240601
NUM_SAMPLES = 6


class FashionCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    m, n = struct.unpack(">II", data[:8])
    if m != magic:
        sys.exit(f"{path}: bad idx magic {m}")
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, n * rows * cols, 16).reshape(n, rows, cols)
    return np.frombuffer(data, np.uint8, n, 8)


def normalise(pixels_u8):
    """uint8 [N,28,28] -> float32 [N,1,28,28], exactly as the app does: x/255, then (x - mean) / std."""
    x = pixels_u8.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(np.ascontiguousarray(x[:, None, :, :], dtype=np.float32))


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def write_png_gray8(path, img):
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))  # filter type 0 on every row
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


def read_png_gray8(path):
    """Decodes what write_png_gray8 writes (8-bit grayscale, filter 0), so the check runs on the file's pixels."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype == 0
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    rows = [raw[r * (w + 1):(r + 1) * (w + 1)] for r in range(h)]
    assert all(row[0] == 0 for row in rows)
    return np.frombuffer(b"".join(row[1:] for row in rows), np.uint8).reshape(h, w)


def slug(name):
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def to_json(obj, depth=0):
    """JSON with one line per scalar list (logits, mean, file names), so the files diff and read well."""
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(obj, dict):
        return "{\n" + ",\n".join(inner + json.dumps(k) + ": " + to_json(v, depth + 1) for k, v in obj.items()) \
            + "\n" + pad + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + to_json(v, depth + 1) for v in obj) + "\n" + pad + "]"
    return json.dumps(obj)


def write_json(path, obj):
    with open(path, "w") as f:
        f.write(to_json(obj) + "\n")


def evaluate(model, x, batch=1000):
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "assets", "demo"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)

    tr_x = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"), 2051)
    tr_y = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"), 2049)
    te_x = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"), 2051)
    te_y = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"), 2049)
    print(f"train {tr_x.shape}, test {te_x.shape}; pixel mean/std of train {tr_x.mean() / 255:.4f}/{tr_x.std() / 255:.4f}")
    xtr, ytr = normalise(tr_x), torch.from_numpy(tr_y.astype(np.int64))
    xte, yte = normalise(te_x), torch.from_numpy(te_y.astype(np.int64))

    model = FashionCnn()
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * ((len(xtr) + args.batch - 1) // args.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr * 3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    t0, c0 = time.time(), time.process_time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(xtr), args.batch):
            idx = perm[i:i + args.batch]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        model.eval()
        acc = (evaluate(model, xte).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch + 1}/{args.epochs}: train loss {total / seen:.4f}, test accuracy {acc:.4f}, "
              f"{time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")
    model.eval()
    test_logits = evaluate(model, xte)
    pred = test_logits.argmax(1)
    acc = (pred == yte).float().mean().item()

    out = os.path.abspath(args.out)
    sdir = os.path.join(out, "samples")
    os.makedirs(sdir, exist_ok=True)

    # Samples: walk the test set in order; take an image if it is classified correctly and its class is new.
    chosen, classes = [], set()
    for i in range(len(te_y)):
        c = int(te_y[i])
        if c not in classes and int(pred[i]) == c:
            chosen.append(i)
            classes.add(c)
            if len(chosen) == NUM_SAMPLES:
                break
    files, expected = [], []
    for i in chosen:
        name = f"{i}_{slug(LABELS[te_y[i]])}.png"
        path = os.path.join(sdir, name)
        write_png_gray8(path, te_x[i])
        pixels = read_png_gray8(path)
        assert np.array_equal(pixels, te_x[i])
        with torch.no_grad():
            logits = model(normalise(pixels[None]))[0]
        files.append(name)
        expected.append({"file": name, "test_index": i, "label": int(te_y[i]), "label_name": LABELS[te_y[i]],
                         "predicted": int(logits.argmax()),
                         "logits": [float(v) for v in logits.numpy().astype(np.float32)]})

    write_json(os.path.join(sdir, "expected.json"), {"preprocess": f"pixels x (uint8) -> x/255 -> (x - {MEAN}) / {STD}, float32 [1,1,28,28]",
                   "source": "PyTorch " + torch.__version__ + ", eval mode, float32",
                   "samples": expected})
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(LABELS) + "\n")
    write_json(os.path.join(out, "preprocess.json"), {
        "model": "fashion_cnn.onnx", "layout": "NCHW", "channels": 1, "height": 28, "width": 28, "scale": 1 / 255,
        "mean": [MEAN], "std": [STD], "labels": "labels.txt", "samples": files, "default_sample": files[0],
        "composite": "epsilon-plus-flat"})

    onnx_path = os.path.join(out, "fashion_cnn.onnx")
    # PRESERVE keeps the BatchNormalization node (EVAL would fold it into the convolution), so relscope's
    # BN canonizer has a real one to merge; the module is in eval mode, so it is exported in inference form.
    torch.onnx.export(model, normalise(te_x[chosen[:1]]), onnx_path, opset_version=13, input_names=["image"],
                      output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                      do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE)
    with open(onnx_path, "rb") as f:
        blob = f.read()
    per_class = [(pred[yte == c] == c).float().mean().item() for c in range(10)]
    print(f"test accuracy {acc:.4f} ({int((pred == yte).sum())}/{len(yte)})")
    print("per class: " + ", ".join(f"{LABELS[c]} {per_class[c]:.3f}" for c in range(10)))
    print(f"samples: {files}")
    print(f"{onnx_path}: {len(blob)} bytes, md5 {hashlib.md5(blob).hexdigest()}, "
          f"{sum(p.numel() for p in model.parameters())} parameters, training {time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")


if __name__ == "__main__":
    main()
