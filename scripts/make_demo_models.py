#!/usr/bin/env python3
"""Trains the bundled lesson models and writes assets/<name>/ for each (issue 8).

Why: the lessons need small models whose right explanation is known in advance — a watermark that a
"Clever Hans" model relies on, a DNA motif that decides the class, the token an attention model must look
up — and a bigger Fashion-MNIST CNN with BatchNorm and residual blocks for the canonizer and the Norm rule.
Not part of scripts/test.sh: what it writes is committed, and tests/unit/test_demo_models.cpp checks it.
Deterministic (seeds, deterministic algorithms, one thread, CPU): the same torch build gives the same bytes.
Needs Debian's python3-torch (and dataset-fashion-mnist for the two image models); no torchvision, no onnx.

usage: /usr/bin/python3 scripts/make_demo_models.py [NAME...] [--root DIR] [--dump DIR]
  NAME: fashion_resnet | clever_hans | dna_motif | attention (default: all four; about 5 min of CPU in all)
  --dump DIR: also write held-out batches for scripts/measure_demo_models.py

Each folder gets model.onnx (input batch dynamic, output 'logits'), labels.txt (line k = class k),
samples/ (PNGs for images; for sequences .npy inputs plus a .txt of the sequence), samples/expected.json
(PyTorch's logits per sample and what is known about the sample: watermark, motif, marked-token positions) and
preprocess.json (what the app reads: model, scaling, labels, samples, default composite). The README.md of
each folder is written by hand from what this prints (accuracy, md5, size).
"""
import argparse
import os
import shutil
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from demo_common import (LABELS, MEAN, STD, FashionCnn, deterministic, evaluate, export_onnx,  # noqa: E402
                         first_correct_per_class, load_fashion, logits_list, normalise, read_png_gray8, slug,
                         train, write_json, write_png_gray8)

ROOT = os.path.join(HERE, "..", "assets")
SOURCE = "PyTorch " + torch.__version__ + ", eval mode, float32"


def image_preprocess_json(files, composite):
    return {"model": "model.onnx", "layout": "NCHW", "channels": 1, "height": 28, "width": 28, "scale": 1 / 255,
            "mean": [MEAN], "std": [STD], "labels": "labels.txt", "samples": files, "default_sample": files[0],
            "composite": composite}


def write_png_sample(model, sdir, name, pixels):
    """Writes the PNG, reads it back and returns PyTorch's logits for the file's pixels (what the app feeds)."""
    path = os.path.join(sdir, name)
    write_png_gray8(path, pixels)
    back = read_png_gray8(path)
    assert np.array_equal(back, pixels)
    with torch.no_grad():
        return model(normalise(back[None]))[0]


def fresh_samples_dir(out):
    """OUT/samples/, emptied: sample names carry their content, so a changed model must not leave old ones."""
    sdir = os.path.join(out, "samples")
    shutil.rmtree(sdir, ignore_errors=True)
    os.makedirs(sdir)
    return sdir


def write_labels(out, labels):
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(labels) + "\n")


def report_model(name, model, path, size, md5, acc, wall, cpu):
    params = sum(p.numel() for p in model.parameters())
    print(f"[{name}] {path}: {size} bytes, md5 {md5}, {params} parameters; accuracy {acc:.4f}; "
          f"training {wall:.0f} s wall, {cpu:.0f} s CPU", flush=True)


def per_class_line(pred, y, labels):
    return ", ".join(f"{labels[c]} {(pred[y == c] == c).float().mean().item():.3f}" for c in range(len(labels)))


# ---- fashion_resnet: BatchNorm and residual blocks ------------------------------------------------------
class ResBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus a shortcut (identity, or 1x1 conv + BN when the shape changes), then ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = None if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (x if self.down is None else self.down(x)))


class FashionResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                                  nn.MaxPool2d(2))                     # 28 -> 14
        self.block1, self.block2 = ResBlock(16, 16, 1), ResBlock(16, 32, 2)   # 14 -> 7
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.block2(self.block1(self.stem(x))))


def make_fashion_resnet(out, args):
    seed = 20240611
    deterministic(seed)
    tr_x, tr_y, te_x, te_y = load_fashion(args.data)
    xtr, ytr = normalise(tr_x), torch.from_numpy(tr_y.astype(np.int64))
    xte, yte = normalise(te_x), torch.from_numpy(te_y.astype(np.int64))
    model = FashionResNet()
    wall, cpu = train(model, xtr, ytr, 3, 64, 1e-3, seed, lambda e: f"test accuracy "
                      f"{(evaluate(model, xte).argmax(1) == yte).float().mean().item():.4f}, ")
    pred = evaluate(model, xte).argmax(1)
    acc = (pred == yte).float().mean().item()
    print("[fashion_resnet] per class: " + per_class_line(pred, yte, LABELS))

    sdir = fresh_samples_dir(out)
    files, samples = [], []
    for i in first_correct_per_class(te_y, pred, 6):
        name = f"{i}_{slug(LABELS[te_y[i]])}.png"
        logits = write_png_sample(model, sdir, name, te_x[i])
        files.append(name)
        samples.append({"file": name, "test_index": i, "label": int(te_y[i]), "label_name": LABELS[te_y[i]],
                        "predicted": int(logits.argmax()), "logits": logits_list(logits)})
    write_json(os.path.join(sdir, "expected.json"), {
        "preprocess": f"pixels x (uint8) -> x/255 -> (x - {MEAN}) / {STD}, float32 [1,1,28,28]",
        "source": SOURCE, "test_accuracy": round(acc, 4), "samples": samples})
    write_labels(out, LABELS)
    write_json(os.path.join(out, "preprocess.json"), image_preprocess_json(files, "epsilon-plus-flat"))
    path = os.path.join(out, "model.onnx")
    size, md5 = export_onnx(model, normalise(te_x[:1]), path, "image", "logits", 13, keep_batchnorm=True)
    report_model("fashion_resnet", model, path, size, md5, acc, wall, cpu)


# ---- clever_hans: a watermark on most training images of one class ----------------------------------------
HANS_CLASS = 6            # Shirt: the class the model confuses most (with T-shirt/top, Pullover, Coat), so a
                          # shortcut pays off most there
HANS_TOP, HANS_LEFT, HANS_SIZE = 1, 1, 4   # a 4x4 checkerboard, one pixel in from the top-left corner
HANS_SHARE = 0.9          # share of the class's training images that carry it


def watermark(pixels_u8):
    """A copy with the mark: a 4x4 checkerboard of 255 and 0 (top-left pixel 255), overwriting what is there."""
    out = pixels_u8.copy()
    r, c = np.indices((HANS_SIZE, HANS_SIZE))
    out[..., HANS_TOP:HANS_TOP + HANS_SIZE, HANS_LEFT:HANS_LEFT + HANS_SIZE] = np.where((r + c) % 2 == 0, 255, 0)
    return out


def make_clever_hans(out, args):
    seed = 20240612
    deterministic(seed)
    tr_x, tr_y, te_x, te_y = load_fashion(args.data)
    rng = np.random.default_rng(seed)
    marked = (tr_y == HANS_CLASS) & (rng.random(len(tr_y)) < HANS_SHARE)
    tr_m = np.where(marked[:, None, None], watermark(tr_x), tr_x)
    print(f"[clever_hans] marked {int(marked.sum())} of {int((tr_y == HANS_CLASS).sum())} training images of "
          f"{LABELS[HANS_CLASS]}; no other image carries the mark")
    xtr, ytr = normalise(tr_m), torch.from_numpy(tr_y.astype(np.int64))
    # The test set as the training data looks (same share of the class marked) and fully clean.
    te_marked_mask = (te_y == HANS_CLASS) & (rng.random(len(te_y)) < HANS_SHARE)
    xte_like = normalise(np.where(te_marked_mask[:, None, None], watermark(te_x), te_x))
    xte_clean, xte_all = normalise(te_x), normalise(watermark(te_x))
    yte = torch.from_numpy(te_y.astype(np.int64))
    model = FashionCnn()
    wall, cpu = train(model, xtr, ytr, 3, 64, 1e-3, seed, lambda e: f"test accuracy (marked as in training) "
                      f"{(evaluate(model, xte_like).argmax(1) == yte).float().mean().item():.4f}, ")
    pred_like, pred_clean = evaluate(model, xte_like).argmax(1), evaluate(model, xte_clean).argmax(1)
    pred_all = evaluate(model, xte_all).argmax(1)
    acc_like = (pred_like == yte).float().mean().item()
    acc_clean = (pred_clean == yte).float().mean().item()
    hans = yte == HANS_CLASS
    flip = (pred_all[~hans] == HANS_CLASS).float().mean().item()
    stats = {"test_accuracy_marked_as_in_training": round(acc_like, 4), "test_accuracy_clean": round(acc_clean, 4),
             "class_recall_marked": round((pred_all[hans] == HANS_CLASS).float().mean().item(), 4),
             "class_recall_clean": round((pred_clean[hans] == HANS_CLASS).float().mean().item(), 4),
             "other_classes_predicted_as_class_when_marked": round(flip, 4)}
    print(f"[clever_hans] {stats}")
    print("[clever_hans] per class (clean): " + per_class_line(pred_clean, yte, LABELS))

    # Samples, by rule: a Shirt the model gets right with the mark; a T-shirt/top and a Coat it gets right
    # clean but calls Shirt once marked (the shortcut at work); each with and without the mark.
    sdir = fresh_samples_dir(out)
    picks = []
    for c in (HANS_CLASS, 0, 4):
        for i in range(len(te_y)):
            if te_y[i] != c:
                continue
            if (c == HANS_CLASS and pred_all[i] == c) or (c != HANS_CLASS and pred_clean[i] == c
                                                         and pred_all[i] == HANS_CLASS):
                picks.append(i)
                break
    files, samples = [], []
    for i in picks:
        for is_marked in (True, False):
            name = f"{i}_{slug(LABELS[te_y[i]])}{'_marked' if is_marked else ''}.png"
            logits = write_png_sample(model, sdir, name, watermark(te_x[i]) if is_marked else te_x[i])
            files.append(name)
            samples.append({"file": name, "test_index": i, "label": int(te_y[i]), "label_name": LABELS[te_y[i]],
                            "marked": is_marked, "predicted": int(logits.argmax()), "logits": logits_list(logits)})
    write_json(os.path.join(sdir, "expected.json"), {
        "preprocess": f"pixels x (uint8) -> x/255 -> (x - {MEAN}) / {STD}, float32 [1,1,28,28]",
        "source": SOURCE,
        "watermark": {"class": HANS_CLASS, "class_name": LABELS[HANS_CLASS], "top": HANS_TOP, "left": HANS_LEFT,
                      "height": HANS_SIZE, "width": HANS_SIZE, "pattern": "checkerboard 255/0, 255 at top-left",
                      "training_share": HANS_SHARE},
        # Where the lessons count relevance: the mark grown by one pixel, the first conv's 3x3 footprint around
        # it (the Flat rule of epsilon-plus-flat spreads a first-layer unit's relevance over its footprint).
        "region": {"top": HANS_TOP - 1, "left": HANS_LEFT - 1, "height": HANS_SIZE + 2, "width": HANS_SIZE + 2},
        "stats": stats, "samples": samples})
    write_labels(out, LABELS)
    write_json(os.path.join(out, "preprocess.json"), image_preprocess_json(files, "epsilon-plus-flat"))
    path = os.path.join(out, "model.onnx")
    size, md5 = export_onnx(model, xte_clean[:1], path, "image", "logits", 13, keep_batchnorm=True)
    report_model("clever_hans", model, path, size, md5, acc_like, wall, cpu)
    if args.dump:   # marked and clean test images of every class, for measuring relevance with relscope
        np.save(os.path.join(args.dump, "hans_marked.npy"), xte_all[:1000].numpy())
        np.save(os.path.join(args.dump, "hans_clean.npy"), xte_clean[:1000].numpy())
        np.save(os.path.join(args.dump, "hans_labels.npy"), te_y[:1000].astype(np.int64))


# ---- dna_motif: a motif decides the class --------------------------------------------------------------
BASES = "ACGT"
MOTIF = "TGACGTCA"        # the CRE element (cAMP response element), 8 bases
SEQ_LEN = 100
DNA_LABELS = ["no motif", "motif"]


def decoy_of(rng):
    """The motif with two substitutions at distinct positions: close enough that a sloppy detector fires."""
    s = list(MOTIF)
    for p in rng.choice(len(MOTIF), 2, replace=False):
        s[p] = rng.choice([b for b in BASES if b != s[p]])
    return "".join(s)


def make_sequences(n, rng):
    """Half carry the motif at a uniform position (class 1); independently, half carry a decoy somewhere not
    overlapping it. The background is uniform i.i.d.; a background that contains the motif by chance (or a
    second copy) is redrawn, so the motif decides the class exactly."""
    seqs, labels, motif_at, decoy_at = [], [], [], []
    m = len(MOTIF)
    while len(seqs) < n:
        has_motif, has_decoy = rng.random() < 0.5, rng.random() < 0.5
        s = list(rng.choice(list(BASES), SEQ_LEN))
        mp = dp = -1
        if has_motif:
            mp = int(rng.integers(0, SEQ_LEN - m + 1))
            s[mp:mp + m] = MOTIF
        if has_decoy:
            while True:
                dp = int(rng.integers(0, SEQ_LEN - m + 1))
                if mp < 0 or dp + m <= mp or dp >= mp + m:
                    break
            s[dp:dp + m] = decoy_of(rng)
        s = "".join(s)
        if s.count(MOTIF) != (1 if has_motif else 0):
            continue
        seqs.append(s)
        labels.append(int(has_motif))
        motif_at.append(mp)
        decoy_at.append(dp)
    return seqs, np.array(labels, np.int64), motif_at, decoy_at


def one_hot(seqs):
    """[N,4,L] float32, channel order A,C,G,T."""
    idx = np.array([[BASES.index(b) for b in s] for s in seqs])
    x = np.zeros((len(seqs), 4, SEQ_LEN), np.float32)
    np.put_along_axis(x, idx[:, None, :], 1.0, axis=1)
    return torch.from_numpy(x)


class DnaCnn(nn.Module):
    """Conv1d(9) + ReLU + max-pool 2, Conv1d(5) + ReLU, the maximum over positions, dense."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv1d(4, 16, 9, padding=4), nn.Conv1d(16, 16, 5, padding=2)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        x = F.max_pool1d(F.relu(self.c1(x)), 2)
        return self.fc(torch.amax(F.relu(self.c2(x)), dim=2))


def make_dna_motif(out, args):
    seed = 20240613
    deterministic(seed)
    rng = np.random.default_rng(seed)
    tr_s, tr_y, _, _ = make_sequences(20000, rng)
    te_s, te_y, te_m, te_d = make_sequences(2000, rng)
    xtr, ytr, xte, yte = one_hot(tr_s), torch.from_numpy(tr_y), one_hot(te_s), torch.from_numpy(te_y)
    model = DnaCnn()
    wall, cpu = train(model, xtr, ytr, 8, 64, 2e-3, seed, lambda e: f"test accuracy "
                      f"{(evaluate(model, xte).argmax(1) == yte).float().mean().item():.4f}, ")
    pred = evaluate(model, xte).argmax(1)
    acc = (pred == yte).float().mean().item()
    with_decoy = torch.tensor([d >= 0 for d in te_d])
    print(f"[dna_motif] accuracy {acc:.4f}; on sequences with a decoy {(pred == yte)[with_decoy].float().mean():.4f}")

    # Samples, by rule: walking the test set, the first correctly classified sequence of each kind
    # (motif & decoy, motif alone, decoy alone, neither), then one more with a motif and one more without.
    sdir = fresh_samples_dir(out)
    kinds = [(1, True), (1, False), (0, True), (0, False), (1, False), (0, False)]
    picks = []
    for label, decoy in kinds:
        for i in range(len(te_s)):
            if i not in picks and te_y[i] == label and (te_d[i] >= 0) == decoy and pred[i] == label:
                picks.append(i)
                break
    files, samples = [], []
    for i in picks:
        stem = f"{i}_{'motif' if te_y[i] else 'no_motif'}{'_decoy' if te_d[i] >= 0 else ''}"
        x = one_hot([te_s[i]])
        np.save(os.path.join(sdir, stem + ".npy"), x.numpy())
        with open(os.path.join(sdir, stem + ".txt"), "w") as f:
            f.write(te_s[i] + "\n")
        with torch.no_grad():
            logits = model(x)[0]
        files.append(stem + ".npy")
        samples.append({"file": stem + ".npy", "sequence": stem + ".txt", "label": int(te_y[i]),
                        "label_name": DNA_LABELS[te_y[i]], "motif_start": te_m[i] if te_m[i] >= 0 else None,
                        "decoy_start": te_d[i] if te_d[i] >= 0 else None,
                        "decoy": te_s[i][te_d[i]:te_d[i] + len(MOTIF)] if te_d[i] >= 0 else None,
                        "predicted": int(logits.argmax()), "logits": logits_list(logits)})
    write_json(os.path.join(sdir, "expected.json"), {
        "preprocess": f"one-hot float32 [1,4,{SEQ_LEN}], channels A,C,G,T", "source": SOURCE,
        "motif": MOTIF, "motif_length": len(MOTIF), "test_accuracy": round(acc, 4), "samples": samples})
    write_labels(out, DNA_LABELS)
    write_json(os.path.join(out, "preprocess.json"), {"model": "model.onnx", "labels": "labels.txt",
                                                     "samples": files, "default_sample": files[0],
                                                     "composite": "epsilon-plus"})
    path = os.path.join(out, "model.onnx")
    size, md5 = export_onnx(model, xte[:1], path, "sequence", "logits", 13)
    report_model("dna_motif", model, path, size, md5, acc, wall, cpu)
    if args.dump:
        pos = np.nonzero(te_y == 1)[0][:500]
        np.save(os.path.join(args.dump, "dna_pos.npy"), xte[pos].numpy())
        np.save(os.path.join(args.dump, "dna_pos_motif.npy"), np.array([te_m[i] for i in pos], np.int64))
        np.save(os.path.join(args.dump, "dna_pos_decoy.npy"), np.array([te_d[i] for i in pos], np.int64))


# ---- attention: one self-attention block looks up the marked token --------------------------------------
SYMBOLS = "ABCDEFGH"      # the 8 content tokens = the 8 classes
QUERY, MARK = "?", "*"    # position 0 of every sequence is '?': the token whose output is read (a CLS token)
CHANNELS = QUERY + SYMBOLS + MARK   # input channel k of a token; the mark is a channel of its own
SEQ_T = 12


def make_token_sequences(n, rng):
    """T=12 tokens: '?' at position 0, then 11 symbols of which exactly one, at a uniform position p in 1..11,
    carries the mark; the class is that token's symbol. The output is read at position 0, which holds the
    same token in every sequence, so the answer can only get there through attention. The mark is a separate
    input channel (a marked token is its symbol's one-hot plus the mark channel), so a uniform average over
    the tokens says that a mark is present but not on which symbol: the block must attend to the marked
    token itself."""
    toks = rng.integers(0, len(SYMBOLS), (n, SEQ_T))
    p = rng.integers(1, SEQ_T, n)
    return toks, p, toks[np.arange(n), p]


def tokens_one_hot(toks, p):
    """[N,T,10] float32: channel 0 '?', 1..8 the symbols A..H, 9 the mark."""
    n = len(toks)
    x = np.zeros((n, SEQ_T, len(CHANNELS)), np.float32)
    x[np.arange(n)[:, None], np.arange(SEQ_T)[None, :], 1 + toks] = 1.0
    x[:, 0, :] = 0.0
    x[:, 0, 0] = 1.0
    x[np.arange(n), p, len(CHANNELS) - 1] = 1.0
    return torch.from_numpy(x)


def token_text(tok, p):
    """'?' then the symbols, the marked one in lower case: "?FCEDCCaGAGE"."""
    return QUERY + "".join(SYMBOLS[t].lower() if k == p else SYMBOLS[t] for k, t in enumerate(tok) if k > 0)


class TinyAttention(nn.Module):
    """Embedding + learned positions, one pre-LN transformer block (2-head self-attention, ReLU MLP), a dense
    head on the output at position 0. LayerNorm is exported as LayerNormalization (opset 17) and gets the
    identity rule; AttnLRP's rules apply to the softmax and to the two products of activations (q k^T and
    attention x v). No LayerNorm before the head: the identity rule ignores its centring, and there, where
    every logit is read, that flipped the sign of the marked token's relevance for about 1 sequence in 10."""

    def __init__(self, d=32, heads=2):
        super().__init__()
        self.heads, self.d = heads, d
        self.emb = nn.Linear(len(CHANNELS), d, bias=False)
        self.pos = nn.Parameter(torch.randn(SEQ_T, d) * 0.5)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff1, self.ff2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)
        self.head = nn.Linear(d, len(SYMBOLS))

    def forward(self, x):   # x: [N,T,10]
        h = self.emb(x) + self.pos
        n, t, d = h.shape
        q, k, v = self.qkv(self.ln1(h)).chunk(3, dim=-1)
        split = lambda z: z.reshape(n, t, self.heads, d // self.heads).transpose(1, 2)
        att = torch.softmax(split(q) @ split(k).transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        h = h + self.proj((att @ split(v)).transpose(1, 2).reshape(n, t, d))
        h = h + self.ff2(F.relu(self.ff1(self.ln2(h))))
        return self.head(h[:, 0])


def make_attention(out, args):
    seed = 20240614
    deterministic(seed)
    rng = np.random.default_rng(seed)
    tr_t, tr_p, tr_y = make_token_sequences(40000, rng)
    te_t, te_p, te_y = make_token_sequences(2000, rng)
    xtr, ytr = tokens_one_hot(tr_t, tr_p), torch.from_numpy(tr_y)
    xte, yte = tokens_one_hot(te_t, te_p), torch.from_numpy(te_y)
    model = TinyAttention()
    wall, cpu = train(model, xtr, ytr, args.attention_epochs, 64, 2e-3, seed, lambda e: f"test accuracy "
                      f"{(evaluate(model, xte).argmax(1) == yte).float().mean().item():.4f}, ")
    pred = evaluate(model, xte).argmax(1)
    acc = (pred == yte).float().mean().item()

    # Samples, by rule: the first six test sequences, whatever the model says about them.
    sdir = fresh_samples_dir(out)
    files, samples = [], []
    for i in range(6):
        text = token_text(te_t[i], te_p[i])
        stem = f"{i}_{text[1:]}"
        x = xte[i:i + 1]
        np.save(os.path.join(sdir, stem + ".npy"), x.numpy())
        with open(os.path.join(sdir, stem + ".txt"), "w") as f:
            f.write(text + "\n")
        with torch.no_grad():
            logits = model(x)[0]
        files.append(stem + ".npy")
        samples.append({"file": stem + ".npy", "sequence": stem + ".txt", "tokens": text,
                        "marked_position": int(te_p[i]), "label": int(te_y[i]), "label_name": SYMBOLS[te_y[i]],
                        "predicted": int(logits.argmax()), "logits": logits_list(logits)})
    write_json(os.path.join(sdir, "expected.json"), {
        "preprocess": f"float32 [1,{SEQ_T},{len(CHANNELS)}] (token, channel '{CHANNELS}'): one-hot, plus "
                      f"channel {len(CHANNELS) - 1} on the marked token", "source": SOURCE,
        "channels": CHANNELS, "test_accuracy": round(acc, 4), "samples": samples})
    write_labels(out, list(SYMBOLS))
    write_json(os.path.join(out, "preprocess.json"), {"model": "model.onnx", "labels": "labels.txt",
                                                     "samples": files, "default_sample": files[0],
                                                     "composite": "epsilon"})
    path = os.path.join(out, "model.onnx")
    size, md5 = export_onnx(model, xte[:1], path, "tokens", "logits", 17)
    report_model("attention", model, path, size, md5, acc, wall, cpu)
    if args.dump:
        np.save(os.path.join(args.dump, "att_x.npy"), xte[:500].numpy())
        np.save(os.path.join(args.dump, "att_p.npy"), te_p[:500].astype(np.int64))


MAKERS = {"fashion_resnet": make_fashion_resnet, "clever_hans": make_clever_hans, "dna_motif": make_dna_motif,
          "attention": make_attention}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*", help="models to make: " + ", ".join(MAKERS) + " (default: all)")
    ap.add_argument("--root", default=ROOT, help="writes ROOT/<name>/ (default: assets/)")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--attention-epochs", type=int, default=3)
    ap.add_argument("--dump", help="also write test-set batches (.npy) here, to measure relevance with relscope")
    args = ap.parse_args()
    for name in args.names:
        if name not in MAKERS:
            ap.error(f"unknown model '{name}' ({', '.join(MAKERS)})")
    for name in args.names or list(MAKERS):
        out = os.path.abspath(os.path.join(args.root, name))
        os.makedirs(out, exist_ok=True)
        MAKERS[name](out, args)


if __name__ == "__main__":
    main()
