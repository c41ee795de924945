"""Helpers shared by the scripts that train the bundled demo models (make_demo_model.py, make_demo_models.py).

Why one module: every demo model is trained the same deterministic way (fixed seeds, deterministic algorithms,
one thread, CPU), reads the same Fashion-MNIST idx files, writes the same 8-bit PNGs and the same diff-friendly
JSON, and reports its .onnx the same way; keeping that in one place keeps the scripts' outputs consistent.
Needs Debian's python3-torch (and numpy); nothing else.
"""
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

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST training-set pixel mean/std after scaling to [0,1]
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def deterministic(seed):
    """One CPU thread, deterministic kernels, seeded torch and numpy: the same torch build gives the same bytes."""
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)


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


def load_fashion(data_dir=FASHION_DIR):
    """(train images uint8 [60000,28,28], train labels, test images [10000,28,28], test labels)."""
    return (read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"), 2051),
            read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"), 2049),
            read_idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"), 2051),
            read_idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"), 2049))


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


def train(model, xtr, ytr, epochs, batch, lr, seed, report=None):
    """Adam with a one-cycle schedule (max lr 3 x lr), shuffled by a generator seeded with `seed`.

    report(epoch) -> str is printed after each epoch (e.g. the test accuracy). Returns (wall s, CPU s)."""
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * ((len(xtr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr * 3, total_steps=steps)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    t0, c0 = time.time(), time.process_time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(xtr), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        model.eval()
        extra = report(epoch) if report else ""
        print(f"epoch {epoch + 1}/{epochs}: train loss {total / seen:.4f}, {extra}"
              f"{time.time() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU", flush=True)
    model.eval()
    return time.time() - t0, time.process_time() - c0


def export_onnx(model, example, path, input_name, output_name, opset, keep_batchnorm=False):
    """torch.onnx.export with a dynamic batch axis and no constant folding; returns (bytes, md5).

    keep_batchnorm exports in PRESERVE mode: the BatchNormalization nodes stay in the graph (EVAL would fold
    them into the convolutions), so relscope's BN canonizer has real ones to merge. The module must be in eval
    mode, so they are exported in inference form."""
    mode = torch.onnx.TrainingMode.PRESERVE if keep_batchnorm else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, example, path, opset_version=opset, input_names=[input_name],
                      output_names=[output_name], dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                      do_constant_folding=False, training=mode)
    with open(path, "rb") as f:
        blob = f.read()
    return len(blob), hashlib.md5(blob).hexdigest()


def logits_list(t):
    return [float(v) for v in t.detach().numpy().astype(np.float32)]


class FashionCnn(torch.nn.Module):
    """The bundled demo's architecture (assets/demo) and the Clever Hans model's: conv, ReLU, max-pool, dense."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))

    def forward(self, x):
        return self.classifier(self.features(x))


def first_correct_per_class(labels, pred, count):
    """Test-set indices: walking in order, the first correctly classified image of each class until `count`
    classes are covered (a rule, not a hand pick, so the samples are reproducible)."""
    chosen, classes = [], set()
    for i in range(len(labels)):
        c = int(labels[i])
        if c not in classes and int(pred[i]) == c:
            chosen.append(i)
            classes.add(c)
            if len(chosen) == count:
                break
    return chosen
