#!/usr/bin/python3
"""Golden values for Cartan.Torch's ResNet builder (model_type "resnet"), computed independently with Debian's
python3-torch (1.13). Run from this folder:  /usr/bin/python3 make_resnet.py

transformers is not installed here, so the Hugging Face ResNetForImageClassification architecture is rebuilt from
plain torch.nn modules whose attribute names give exactly the HF state_dict names (resnet.embedder.embedder.
convolution.weight, ...encoder.stages.{s}.layers.{l}.shortcut..., classifier.1.weight). Per variant (basic/,
bottleneck/) it writes
  model/config.json        the HF config
  model/model.safetensors  every state_dict entry: F32 weights and running statistics (random, non-trivial),
                           I64 num_batches_tracked
  reference.safetensors    F64: pixel_values, output (logits, eval mode), targets, loss and the gradient of the
                           cross-entropy loss for every trainable weight ("grad." + HF name), all computed in
                           float64 from the F32 weights.
"""
import json
import os
import sys
import struct

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))


sys.path.insert(0, os.path.join(HERE, "../.."))
from safetensors_writer import write_safetensors  # noqa: E402  (one writer for every reference script here)


class ConvLayer(nn.Module):  # HF ResNetConvLayer: conv (no bias, padding k//2) + BatchNorm + optional ReLU
    def __init__(self, cin, cout, k=3, stride=1, act=True):
        super().__init__()
        self.convolution = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
        self.normalization = nn.BatchNorm2d(cout)
        self.act = act

    def forward(self, x):
        h = self.normalization(self.convolution(x))
        return torch.relu(h) if self.act else h


class ShortCut(nn.Module):  # HF ResNetShortCut: 1x1 conv with stride + BatchNorm
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.convolution = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
        self.normalization = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.normalization(self.convolution(x))


class Block(nn.Module):  # HF ResNetBasicLayer / ResNetBottleNeckLayer
    def __init__(self, kind, cin, cout, stride, downsample_in_bottleneck=False, reduction=4):
        super().__init__()
        self.shortcut = ShortCut(cin, cout, stride) if (cin != cout or stride != 1) else nn.Identity()
        if kind == "basic":
            self.layer = nn.Sequential(ConvLayer(cin, cout, stride=stride), ConvLayer(cout, cout, act=False))
        else:
            r = cout // reduction
            self.layer = nn.Sequential(
                ConvLayer(cin, r, k=1, stride=stride if downsample_in_bottleneck else 1),
                ConvLayer(r, r, stride=1 if downsample_in_bottleneck else stride),
                ConvLayer(r, cout, k=1, act=False))

    def forward(self, x):
        return torch.relu(self.layer(x) + self.shortcut(x))


class Stage(nn.Module):
    def __init__(self, cfg, cin, cout, stride, depth):
        super().__init__()
        kind, dib = cfg["layer_type"], cfg.get("downsample_in_bottleneck", False)
        self.layers = nn.Sequential(Block(kind, cin, cout, stride, dib),
                                    *[Block(kind, cout, cout, 1) for _ in range(depth - 1)])

    def forward(self, x):
        return self.layers(x)


class Embeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embedder = ConvLayer(cfg["num_channels"], cfg["embedding_size"], k=7, stride=2)
        self.pooler = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x):
        return self.pooler(self.embedder(x))


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hs, ds = cfg["hidden_sizes"], cfg["depths"]
        self.stages = nn.ModuleList([Stage(cfg, cfg["embedding_size"], hs[0],
                                           2 if cfg["downsample_in_first_stage"] else 1, ds[0])])
        for i in range(1, len(hs)):
            self.stages.append(Stage(cfg, hs[i - 1], hs[i], 2, ds[i]))

    def forward(self, x):
        for s in self.stages:
            x = s(x)
        return x


class ResNetModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embedder = Embeddings(cfg)
        self.encoder = Encoder(cfg)
        self.pooler = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        return self.pooler(self.encoder(self.embedder(x)))


class ResNetForImageClassification(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.resnet = ResNetModel(cfg)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(cfg["hidden_sizes"][-1], cfg["num_labels"]))

    def forward(self, x):
        return self.classifier(self.resnet(x))


def make(name, cfg, seed):
    g = torch.Generator().manual_seed(seed)
    model = ResNetForImageClassification(cfg).double()
    with torch.no_grad():
        for n, t in model.state_dict().items():
            if n.endswith("num_batches_tracked"):
                t.fill_(7)
            elif n.endswith("running_mean"):
                t.copy_(0.2 * torch.randn(t.shape, generator=g, dtype=torch.float64))
            elif n.endswith("running_var"):
                t.copy_(0.5 + torch.rand(t.shape, generator=g, dtype=torch.float64))
            elif "normalization.weight" in n:
                t.copy_(1.0 + 0.2 * torch.randn(t.shape, generator=g, dtype=torch.float64))
            elif n.endswith("bias"):
                t.copy_(0.1 * torch.randn(t.shape, generator=g, dtype=torch.float64))
            else:  # conv / linear weights, He-like scale so activations stay O(1)
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g, dtype=torch.float64) * (2.0 / fan_in) ** 0.5)
            if t.dtype == torch.float64:
                t.copy_(t.float().double())  # the F32 values that are saved, computed in float64
    model.eval()
    x = torch.randn(2, cfg["num_channels"], 32, 32, generator=g, dtype=torch.float64)
    targets = torch.tensor([1, cfg["num_labels"] - 1], dtype=torch.int64)
    out = model(x)
    loss = nn.functional.cross_entropy(out, targets)
    loss.backward()

    folder = os.path.join(HERE, name)
    os.makedirs(os.path.join(folder, "model"), exist_ok=True)
    with open(os.path.join(folder, "model", "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    sd = model.state_dict()
    write_safetensors(os.path.join(folder, "model", "model.safetensors"),
                      [(n, t.numpy().astype(np.int64 if t.dtype == torch.int64 else np.float32)) for n, t in sd.items()])
    ref = [("pixel_values", x.numpy()), ("output", out.detach().numpy()), ("targets", targets.numpy()),
           ("loss", loss.detach().reshape(1).numpy())]
    ref += [("grad." + n, p.grad.numpy()) for n, p in model.named_parameters()]
    write_safetensors(os.path.join(folder, "reference.safetensors"), ref)
    print(f"{name}: output {tuple(out.shape)}, loss {loss.item():.6f}, {len(sd)} state_dict entries")


if __name__ == "__main__":
    base = {"model_type": "resnet", "num_channels": 3, "embedding_size": 8, "hidden_act": "relu", "num_labels": 5,
            "architectures": ["ResNetForImageClassification"]}
    make("basic", dict(base, hidden_sizes=[8, 16], depths=[1, 2], layer_type="basic",
                       downsample_in_first_stage=False), 1234)
    make("bottleneck", dict(base, hidden_sizes=[16, 32], depths=[2, 1], layer_type="bottleneck",
                            downsample_in_first_stage=True, downsample_in_bottleneck=False), 4321)
