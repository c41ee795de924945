#!/usr/bin/env python3
"""Exports small PyTorch models to ONNX with a reference input and output each.

Why: the engine must run what real exporters write (Shape->Gather->Concat->Reshape
chains, BatchNorm, residual Adds, opset-dependent forms), and PyTorch's own
outputs are the reference. Not part of scripts/test.sh: the files it writes to
tests/data/models/ are committed. Needs Debian's python3-torch and python3-onnx.

usage: /usr/bin/python3 scripts/make_test_models.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "models")


class Mlp(nn.Module):  # tabular: Gemm, Relu, BatchNormalization (not fusable after ReLU), Sigmoid, Tanh, ReduceSum
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(8, 16), nn.Linear(16, 16), nn.Linear(16, 3)
        self.bn = nn.BatchNorm1d(16)

    def forward(self, x):
        h = self.bn(torch.relu(self.fc1(x)))
        return self.fc3(torch.tanh(self.fc2(h)) * torch.sigmoid(x.sum(1, keepdim=True)))


class Cnn(nn.Module):  # Conv, BN, MaxPool, AvgPool, view(x.size(0), -1) -> Shape chain, Linear
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c2 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.c3 = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=4)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.b1(self.c1(x))), 2)
        x = F.leaky_relu(self.c2(x), 0.1)
        x = F.avg_pool2d(F.relu(self.c3(x)), 2, ceil_mode=True, count_include_pad=False)
        return self.fc(x.view(x.size(0), -1))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
        self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
        self.down = None if stride == 1 and cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        return F.relu(y + (x if self.down is None else self.down(x)))


class ResNetTiny(nn.Module):  # residual Adds, depthwise conv, global average pool, flatten
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        self.l1, self.l2 = Block(8, 8, 1), Block(8, 16, 2)
        self.dw = nn.Conv2d(16, 16, 3, padding=1, groups=16)
        self.fc = nn.Linear(16, 5)

    def forward(self, x):
        x = self.l2(self.l1(self.stem(x)))
        x = F.relu6(self.dw(x))  # Clip
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class DnaCnn(nn.Module):  # 1-D: Conv1d, MaxPool1d, GlobalMaxPool, Softmax
    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv1d(4, 8, 5, padding=2), nn.Conv1d(8, 8, 3, padding=1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        x = F.max_pool1d(F.relu(self.c1(x)), 2)
        x = torch.amax(F.relu(self.c2(x)), dim=2)
        return torch.softmax(self.fc(x), dim=1)


class Attention(nn.Module):  # MatMul of activations, Softmax, LayerNorm, GELU (Erf), Transpose, Split-free reshapes
    def __init__(self, d=16, heads=2):
        super().__init__()
        self.heads, self.d = heads, d
        self.emb = nn.Linear(4, d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff1, self.ff2 = nn.Linear(d, 2 * d), nn.Linear(2 * d, d)
        self.head = nn.Linear(d, 3)

    def forward(self, x):  # x: (N, T, 4)
        h = self.emb(x)
        n, t, d = h.shape
        q, k, v = self.qkv(self.ln1(h)).chunk(3, dim=-1)
        sh = lambda z: z.reshape(n, t, self.heads, d // self.heads).transpose(1, 2)
        a = torch.softmax(sh(q) @ sh(k).transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1) @ sh(v)
        h = h + self.proj(a.transpose(1, 2).reshape(n, t, d))
        h = h + self.ff2(F.gelu(self.ff1(self.ln2(h))))
        return self.head(h.mean(dim=1))


class Decoder(nn.Module):  # ConvTranspose, Sigmoid, Concat, Pad
    def __init__(self):
        super().__init__()
        self.up1 = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1)
        self.up2 = nn.ConvTranspose2d(6, 2, 4, stride=2, padding=1, groups=2)

    def forward(self, x):
        y = F.relu(self.up1(x))
        y = torch.cat([y, F.pad(y[:, :2, 1:, 1:], (0, 1, 0, 1))], dim=1)
        return torch.sigmoid(self.up2(y[:, :6]))


class TwoHeads(nn.Module):  # a shared trunk, a classifier head and a regression head (two graph outputs)
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU())
        self.cls, self.reg = nn.Linear(12, 4), nn.Linear(12, 2)

    def forward(self, x):
        h = self.trunk(x)
        return self.cls(h), self.reg(h)


class ConvBn(nn.Module):  # BatchNormalization kept in the graph after each Conv (exported in PRESERVE mode)
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(6, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                               nn.Flatten(), nn.Linear(8, 3))

    def forward(self, x):
        return self.f(x)


CASES = [  # name, module, input shape, opset, dynamic batch
    ("mlp_opset13", Mlp, (4, 8), 13, True),
    ("cnn_opset11", Cnn, (2, 1, 28, 28), 11, True),
    ("cnn_opset13", Cnn, (2, 1, 28, 28), 13, True),
    ("resnet_tiny_opset13", ResNetTiny, (2, 3, 32, 32), 13, True),
    ("resnet_tiny_batch1_opset13", ResNetTiny, (1, 3, 32, 32), 13, False),
    ("dna_cnn_opset13", DnaCnn, (3, 4, 40), 13, True),
    ("attention_opset14", Attention, (2, 6, 4), 14, True),
    ("attention_opset17", Attention, (2, 6, 4), 17, True),
    ("decoder_opset13", Decoder, (2, 4, 5, 5), 13, True),
    ("two_heads_opset13", TwoHeads, (3, 6), 13, True),
    ("conv_bn_opset13", ConvBn, (2, 2, 10, 10), 13, True),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, cls, shape, opset, dynamic in CASES:
        torch.manual_seed(7)
        m = cls()
        for mod in m.modules():  # non-trivial BatchNorm statistics
            if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.data.uniform_(0.5, 1.5)
                mod.bias.data.uniform_(-0.2, 0.2)
        m.eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            y = m(x)
        ys = list(y) if isinstance(y, tuple) else [y]
        outputs = ["output"] if len(ys) == 1 else ["logits", "regression"]
        path = os.path.join(OUT, name + ".onnx")
        axes = {n: {0: "batch"} for n in ["input"] + outputs} if dynamic else None
        # PRESERVE keeps BatchNormalization nodes (EVAL would fuse them into the convolutions), so the
        # relevance canonizer has real ones to merge.
        mode = torch.onnx.TrainingMode.PRESERVE if cls is ConvBn else torch.onnx.TrainingMode.EVAL
        torch.onnx.export(m, x, path, opset_version=opset, input_names=["input"], output_names=outputs,
                          dynamic_axes=axes, do_constant_folding=False, training=mode)
        np.save(os.path.join(OUT, name + "_input.npy"), x.numpy().astype(np.float32))
        for k, yk in enumerate(ys):
            suffix = "_output.npy" if k == 0 else f"_output{k}.npy"
            np.save(os.path.join(OUT, name + suffix), yk.numpy().astype(np.float32))
        print(f"{name}: {os.path.getsize(path)} bytes, outputs {[tuple(t.shape) for t in ys]}")


if __name__ == "__main__":
    main()
