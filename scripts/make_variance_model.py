#!/usr/bin/env python3
"""Synthetic variance benchmark (after Iversen et al.): Gaussian-head MLPs whose true drivers are known.

Why: `relscope drivers` and the variance view need models where we know which features drive the mean and
which drive the noise variance, so that "does the variance explanation land on the variance drivers?" has
a checkable answer. Not part of scripts/test.sh: what it writes to assets/variance/ is committed.
Deterministic (fixed seeds, deterministic algorithms, one CPU thread): the same torch build gives the same
bytes. Needs Debian's python3-torch only. A few minutes of CPU time.

Data-generating process (F = 8 features; A = {0,1,2} drive the mean, B = {3,4} the noise, 5..7 are noise):
  x ~ N(0, I_8)
  mu(x)         = 1.5 x0 - 1.0 x1 + 0.8 x2
  log s^2(x)    = 0.9 x3 - 0.7 x4 - 1.0
  y             = mu(x) + s(x) * e,  e ~ N(0, 1)
Models are trained by the Gaussian negative log-likelihood 0.5 * (logvar + (y - mean)^2 / exp(logvar)).

usage: /usr/bin/python3 scripts/make_variance_model.py [--out DIR]

Writes to OUT (default assets/variance/):
  gaussian_mlp.onnx        8 -> 64 -> 64 -> 2, ReLU; input 'x' [N,8], output 'mean_logvar' [N,2]
                           (unit 0 the mean, unit 1 the log-variance)
  ensemble_<k>.onnx        k = 0..3: the same trunk, two outputs 'mean' [N,1] and 'logvar' [N,1], each
                           member from its own seed and its own bootstrap sample of the data
  mc_dropout_mlp.onnx      like gaussian_mlp with Dropout(p=0.2) after each ReLU, kept in the graph as ONNX
                           Dropout nodes (identity at inference; `--method cov-lrp --mc-dropout N` samples them)
  samples.npy              64 test rows, float32 [64,8]; samples.csv the first 8 of them
  samples_expected.npy     torch's gaussian_mlp outputs for samples.npy, float32 [64,2]
"""
import argparse
import os

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240606
F = 8
W_MEAN = {0: 1.5, 1: -1.0, 2: 0.8}
W_LOGVAR = {3: 0.9, 4: -0.7}
LOGVAR_BIAS = -1.0


def deterministic(seed):
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)


def make_data(n, rng):
    x = rng.standard_normal((n, F)).astype(np.float32)
    mu = sum(w * x[:, i] for i, w in W_MEAN.items())
    logvar = sum(v * x[:, j] for j, v in W_LOGVAR.items()) + LOGVAR_BIAS
    y = mu + np.exp(0.5 * logvar) * rng.standard_normal(n)
    return x, y.astype(np.float32)


class McDropoutOp(torch.autograd.Function):
    """Identity at inference, exported as an ONNX Dropout node (torch drops eval-mode dropout from exports)."""

    @staticmethod
    def forward(ctx, x, p):
        return x.clone()

    @staticmethod
    def symbolic(g, x, p):
        return g.op("Dropout", x, g.op("Constant", value_t=torch.tensor(p, dtype=torch.float32)))


class McDropout(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.training:
            return nn.functional.dropout(x, self.p, True)
        return McDropoutOp.apply(x, self.p)


class GaussianMlp(nn.Module):
    """8 -> 64 -> 64 -> (mean, logvar); `split` gives two outputs, else one [N,2] output."""

    def __init__(self, split=False, dropout=0.0):
        super().__init__()
        layers = [nn.Linear(F, 64), nn.ReLU()]
        if dropout:
            layers.append(McDropout(dropout))
        layers += [nn.Linear(64, 64), nn.ReLU()]
        if dropout:
            layers.append(McDropout(dropout))
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Linear(64, 2)
        self.split = split

    def forward(self, x):
        out = self.head(self.trunk(x))
        if self.split:
            return out[:, 0:1], out[:, 1:2]
        return out

    def mean_logvar(self, x):
        out = self.head(self.trunk(x))
        return out[:, 0], out[:, 1]


def train(model, x, y, epochs=8, batch=256, lr=2e-3, seed=0):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=g)
        for k in range(0, len(xt), batch):
            idx = perm[k:k + batch]
            mean, logvar = model.mean_logvar(xt[idx])
            loss = 0.5 * (logvar + (yt[idx] - mean) ** 2 / torch.exp(logvar)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        for group in opt.param_groups:   # a steady decay for a stable, reproducible end point
            group["lr"] = lr * (0.7 ** (epoch + 1))
    model.eval()
    return model


def report(name, model, x, y):
    with torch.no_grad():
        mean, logvar = model.mean_logvar(torch.from_numpy(x))
        mse = float(((mean - torch.from_numpy(y)) ** 2).mean())
        true_logvar = sum(v * x[:, j] for j, v in W_LOGVAR.items()) + LOGVAR_BIAS
        lv_err = float(np.abs(logvar.numpy() - true_logvar).mean())
    print(f"{name}: test mse {mse:.3f}, mean |logvar - true| {lv_err:.3f}")


def export(model, path, outputs):
    torch.onnx.export(model, torch.zeros(1, F), path, input_names=["x"], output_names=outputs, opset_version=13,
                      dynamic_axes={"x": {0: "N"}, **{o: {0: "N"} for o in outputs}})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "..", "assets", "variance"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(SEED)
    # Many rows, few epochs: the variance is learnt from one squared residual per row, and with fewer rows
    # the log-variance picks up spurious slopes on the mean and noise features (40 000 rows x 40 epochs gave
    # 75% of |R| of the variance explanation on its drivers; 200 000 x 8 gives 85%).
    x, y = make_data(200000, rng)
    x_test, y_test = make_data(4000, rng)

    deterministic(SEED)
    mlp = train(GaussianMlp(), x, y, seed=SEED)
    report("gaussian_mlp", mlp, x_test, y_test)
    export(mlp, os.path.join(args.out, "gaussian_mlp.onnx"), ["mean_logvar"])

    for k in range(4):
        deterministic(SEED + 1 + k)
        boot = np.random.default_rng(SEED + 100 + k).integers(0, len(x), len(x))
        member = train(GaussianMlp(split=True), x[boot], y[boot], seed=SEED + 1 + k)
        report(f"ensemble_{k}", member, x_test, y_test)
        export(member, os.path.join(args.out, f"ensemble_{k}.onnx"), ["mean", "logvar"])

    deterministic(SEED + 50)
    mc = train(GaussianMlp(dropout=0.2), x, y, seed=SEED + 50)
    report("mc_dropout_mlp", mc, x_test, y_test)
    export(mc, os.path.join(args.out, "mc_dropout_mlp.onnx"), ["mean_logvar"])

    samples = x_test[:64]
    np.save(os.path.join(args.out, "samples.npy"), samples)
    np.savetxt(os.path.join(args.out, "samples.csv"), samples[:8], delimiter=",", fmt="%.6f",
               header=",".join(f"x{i}" for i in range(F)), comments="")
    with torch.no_grad():
        np.save(os.path.join(args.out, "samples_expected.npy"), mlp(torch.from_numpy(samples)).numpy().astype(np.float32))
    print("wrote samples.npy, samples.csv, samples_expected.npy")


if __name__ == "__main__":
    main()
