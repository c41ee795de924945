#!/usr/bin/env python3
"""Exports a torchvision-style ResNet-18 (seeded random weights) to ONNX for the benchmarks.

The architecture is written out in plain torch (torchvision's resnet18: 7x7/2 stem, max-pool, four stages
of two BasicBlocks with 1x1/2 downsampling, global average pool, fc 512->1000), so only Debian's
python3-torch is needed; when torchvision is installed its own resnet18 is used instead (same graph).
The weights do not matter for speed; BatchNorm gets non-trivial running statistics so the canonizer's
merge is exercised as on a trained model. 45 MB, so it is generated into build/bench/, never committed.

usage: /usr/bin/python3 bench/make_resnet18.py [OUT.onnx]
"""
import os
import sys

import torch
from torch import nn


# ---- torchvision's BasicBlock / ResNet-18, written out ----------------------------------------------------
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + idt)


class ResNet18(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
            cin = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)
        for m in self.modules():   # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


# ---- export -----------------------------------------------------------------------------------------------
def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join("build", "bench", "resnet18.onnx")
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    torch.manual_seed(0)
    try:
        import torchvision
        model = torchvision.models.resnet18(weights=None)
    except ImportError:
        model = ResNet18()
    with torch.no_grad():   # trained-looking BatchNorm statistics
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    model.eval()
    args = dict(opset_version=13, input_names=["input"], output_names=["logits"],
                dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    try:   # torch >= 2.9 exports through dynamo by default: ask for the TorchScript exporter, the same graph
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), out, dynamo=False, **args)
    except TypeError:   # a torch without the dynamo argument (Debian's)
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), out, **args)
    except Exception as e:   # a torch whose TorchScript exporter is gone: dynamo's graph (opset 18)
        print(f"the TorchScript exporter failed ({e}); exporting with dynamo", file=sys.stderr)
        torch.onnx.export(model, torch.randn(1, 3, 224, 224), out, dynamo=True, opset_version=18,
                          input_names=["input"], output_names=["logits"], external_data=False)
    print(f"wrote {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
