#!/usr/bin/env python3
"""Exports a torchvision ResNet-18 (random, seeded weights) to ONNX for the benchmarks.

The weights do not matter for speed; the architecture and the exporter's graph do.
45 MB, so it is generated into build/bench/ rather than committed.
Needs Debian's python3-torch, python3-torchvision, python3-onnx.

usage: /usr/bin/python3 bench/make_resnet18.py [OUT.onnx]
"""
import os
import sys

import torch
import torchvision

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("build", "bench", "resnet18.onnx")
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
torch.manual_seed(0)
model = torchvision.models.resnet18(weights=None).eval()
torch.onnx.export(model, torch.randn(1, 3, 224, 224), out, opset_version=13, input_names=["input"],
                  output_names=["logits"], dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
print(f"wrote {out} ({os.path.getsize(out)} bytes)")
