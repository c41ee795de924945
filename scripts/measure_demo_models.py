#!/usr/bin/env python3
"""Measures, with the relscope CLI, where the lesson models' relevance goes on held-out data.

Why: the lessons assert what LRP shows on these models (the Clever Hans watermark, the DNA motif, the attention
model's marker); the assets' READMEs quote these numbers over many test inputs, not only the committed
samples (tests/unit/test_demo_models.cpp checks those). Not part of scripts/test.sh.

usage: /usr/bin/python3 scripts/make_demo_models.py --root /tmp/demo --dump /tmp/dump   # writes the batches
       /usr/bin/python3 scripts/measure_demo_models.py RELSCOPE /tmp/dump [--assets DIR]
RELSCOPE is the native CLI (build/native/bin/relscope). Needs numpy only.
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def explain(relscope, model, x_path, composite, extra=()):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "R.npy")
        subprocess.run([relscope, "explain", model, x_path, "--composite", composite, "--out", out, *extra],
                       check=True, stdout=subprocess.DEVNULL)
        return np.load(out)


def predict(relscope, model, x_path):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "Y.npy")
        subprocess.run([relscope, "predict", model, x_path, "--out", out], check=True, stdout=subprocess.DEVNULL)
        return np.load(out)


def pos_share(r, mask):
    """Per sample: positive relevance inside mask / all positive relevance (r and mask [N, ...])."""
    p = np.maximum(r, 0).reshape(len(r), -1)
    return (p * mask.reshape(len(r), -1)).sum(1) / p.sum(1)


def summary(v):
    return f"mean {v.mean():.3f}, median {np.median(v):.3f}, min {v.min():.3f}, max {v.max():.3f} (n={len(v)})"


def clever_hans(relscope, dump, assets):
    exp = json.load(open(os.path.join(assets, "clever_hans", "samples", "expected.json")))
    w = exp["watermark"]
    model = os.path.join(assets, "clever_hans", "model.onnx")
    labels = np.load(os.path.join(dump, "hans_labels.npy"))
    box = np.zeros((1, 1, 28, 28), bool)
    box[..., w["top"]:w["top"] + w["height"], w["left"]:w["left"] + w["width"]] = True
    ring = np.zeros_like(box)   # the box grown by one pixel: the first conv's 3x3 footprint around it
    ring[..., max(w["top"] - 1, 0):w["top"] + w["height"] + 1, max(w["left"] - 1, 0):w["left"] + w["width"] + 1] = True
    print(f"clever_hans: watermark box rows {w['top']}..{w['top'] + w['height'] - 1}, cols {w['left']}.."
          f"{w['left'] + w['width'] - 1} ({box.mean():.2%} of the image)")
    for kind in ("marked", "clean"):
        x_path = os.path.join(dump, f"hans_{kind}.npy")
        pred = predict(relscope, model, x_path).argmax(1)
        for composite in ("epsilon-plus-flat", "epsilon-plus"):
            r = explain(relscope, model, x_path, composite)
            for name, sel in (("all", np.ones(len(r), bool)), (w["class_name"], labels == w["class"]),
                              (f"other classes not predicted {w['class_name']}", (labels != w["class"]) & (pred != w["class"])),
                              (f"other classes predicted {w['class_name']}", (labels != w["class"]) & (pred == w["class"]))):
                if sel.sum() == 0:
                    continue
                s = pos_share(r[sel], np.broadcast_to(box, r[sel].shape))
                s1 = pos_share(r[sel], np.broadcast_to(ring, r[sel].shape))
                print(f"  {kind:6s} {composite:17s} {name}:\n    box:     {summary(s)}, >= 0.5: {(s >= 0.5).mean():.3f}"
                      f"\n    box+1px: {summary(s1)}, >= 0.5: {(s1 >= 0.5).mean():.3f}")


def dna_motif(relscope, dump, assets):
    exp = json.load(open(os.path.join(assets, "dna_motif", "samples", "expected.json")))
    m = exp["motif_length"]
    model = os.path.join(assets, "dna_motif", "model.onnx")
    x_path = os.path.join(dump, "dna_pos.npy")
    starts = np.load(os.path.join(dump, "dna_pos_motif.npy"))
    decoys = np.load(os.path.join(dump, "dna_pos_decoy.npy"))
    for composite in ("epsilon-plus", "epsilon", "epsilon-plus-flat"):
        r = explain(relscope, model, x_path, composite).sum(1)   # [N, L]
        n, length = r.shape
        motif = np.zeros((n, length), bool)
        for k, p in enumerate(starts):
            motif[k, p:p + m] = True
        top1 = motif[np.arange(n), r.argmax(1)]
        topm = np.take_along_axis(motif, np.argsort(-r, 1)[:, :m], 1).mean(1)
        share = pos_share(r, motif)
        has_decoy = decoys >= 0
        dmask = np.zeros((n, length), bool)
        for k, d in enumerate(decoys):
            if d >= 0:
                dmask[k, d:d + m] = True
        dshare = pos_share(r[has_decoy], dmask[has_decoy])
        print(f"dna_motif {composite:17s}: top-1 position in motif {top1.mean():.3f}; top-{m} in motif "
              f"{summary(topm)}; positive share on motif {summary(share)}; on the decoy (n={has_decoy.sum()}) "
              f"mean {dshare.mean():.3f}, max {dshare.max():.3f}")


def attention(relscope, dump, assets):
    model = os.path.join(assets, "attention", "model.onnx")
    x_path = os.path.join(dump, "att_x.npy")
    p = np.load(os.path.join(dump, "att_p.npy"))
    logits = predict(relscope, model, x_path).max(1)
    for composite in ("epsilon", "epsilon-plus-flat"):
        r = explain(relscope, model, x_path, composite).sum(2)   # [N, T]
        n, t = r.shape
        mask = np.zeros((n, t), bool)
        mask[np.arange(n), p] = True
        ratio = r.sum(1) / logits
        print(f"attention {composite:17s}: top position is the marked token {(r.argmax(1) == p).mean():.3f}; "
              f"positive share on it {summary(pos_share(r, mask))}; on the '?' token mean "
              f"{pos_share(r, np.eye(t, dtype=bool)[np.zeros(n, int)]).mean():.3f}; sum R / logit median "
              f"{np.median(ratio):.3f}, 5-95% {np.percentile(ratio, 5):.3f}..{np.percentile(ratio, 95):.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("relscope")
    ap.add_argument("dump")
    ap.add_argument("--assets", default=os.path.join(HERE, "..", "assets"))
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    for name, fn in (("clever_hans", clever_hans), ("dna_motif", dna_motif), ("attention", attention)):
        if (not args.names or name in args.names) and os.path.isdir(os.path.join(args.assets, name)):
            fn(args.relscope, args.dump, args.assets)


if __name__ == "__main__":
    main()
