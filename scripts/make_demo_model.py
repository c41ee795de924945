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
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from demo_common import (LABELS, MEAN, STD, FashionCnn, deterministic, evaluate, export_onnx,  # noqa: E402
                         first_correct_per_class, load_fashion, normalise, read_png_gray8, slug, train, write_json,
                         write_png_gray8)

SEED = 20240601
NUM_SAMPLES = 6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "assets", "demo"))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    args = ap.parse_args()

    deterministic(SEED)
    tr_x, tr_y, te_x, te_y = load_fashion(args.data)
    print(f"train {tr_x.shape}, test {te_x.shape}; pixel mean/std of train {tr_x.mean() / 255:.4f}/{tr_x.std() / 255:.4f}")
    xtr, ytr = normalise(tr_x), torch.from_numpy(tr_y.astype(np.int64))
    xte, yte = normalise(te_x), torch.from_numpy(te_y.astype(np.int64))

    model = FashionCnn()

    def report(epoch):
        return f"test accuracy {(evaluate(model, xte).argmax(1) == yte).float().mean().item():.4f}, "

    wall, cpu = train(model, xtr, ytr, args.epochs, args.batch, args.lr, SEED, report)
    test_logits = evaluate(model, xte)
    pred = test_logits.argmax(1)
    acc = (pred == yte).float().mean().item()

    out = os.path.abspath(args.out)
    sdir = os.path.join(out, "samples")
    os.makedirs(sdir, exist_ok=True)

    # Samples: walk the test set in order; take an image if it is classified correctly and its class is new.
    chosen = first_correct_per_class(te_y, pred, NUM_SAMPLES)
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
    # The BatchNormalization node is kept (not folded), so relscope's BN canonizer has a real one to merge.
    size, md5 = export_onnx(model, normalise(te_x[chosen[:1]]), onnx_path, "image", "logits", 13, keep_batchnorm=True)
    per_class = [(pred[yte == c] == c).float().mean().item() for c in range(10)]
    print(f"test accuracy {acc:.4f} ({int((pred == yte).sum())}/{len(yte)})")
    print("per class: " + ", ".join(f"{LABELS[c]} {per_class[c]:.3f}" for c in range(10)))
    print(f"samples: {files}")
    print(f"{onnx_path}: {size} bytes, md5 {md5}, "
          f"{sum(p.numel() for p in model.parameters())} parameters, training {wall:.0f} s wall, {cpu:.0f} s CPU")


if __name__ == "__main__":
    main()
