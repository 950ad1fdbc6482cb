#!/usr/bin/python3
"""Small torchvision-style models + WeightWatcher golden CSVs (run with Debian's /usr/bin/python3; needs python3-torch).

usage: /usr/bin/python3 make_ww_golden.py [--no-ww]

Writes, beside this script:
  resnet_mini.safetensors   random-init (torch.manual_seed(0)) ResNet with torchvision resnet18's key names and block
                            layout (conv1, bn1, layer1..4 x 2 BasicBlocks with downsample, fc), widths 16/32/64/128
                            instead of 64/128/256/512, 100 classes; kaiming_normal(fan_out) convs like torchvision.
  vit_mini.safetensors      random-init ViT with torchvision vit_b_16's key names (conv_proj, class_token,
                            encoder.pos_embedding, encoder.layers.encoder_layer_i.{ln_1, self_attention.in_proj_weight,
                            self_attention.out_proj, ln_2, mlp.0, mlp.3}, encoder.ln, heads.head): patch 8, hidden 128,
                            4 layers, mlp 512, 100 classes (heads.head zero-init as in torchvision).
  *.csv                     WeightWatcher 0.7.5.5 details (/work/shared/peers/weightwatcher/ww-run, real WW, CPU path)
                            for the two models above and for ../safetensors/small.safetensors (--all-2d: its F64/F32/F16/BF16
                            matrices and the conv) and ../safetensors/langdetect/langdetect.safetensors (real weights).
torchvision itself is not packaged for this Debian, so the modules are built here with plain torch.nn.
The safetensors writer is our own (8-byte LE header length, JSON header padded to 8 bytes, raw LE data).
"""
import json, math, os, struct, subprocess, sys
from collections import OrderedDict

import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
WW_RUN = "/work/shared/peers/weightwatcher/ww-run"


def write_safetensors(sd, path):
    header, blobs, off = OrderedDict(), [], 0
    for name, t in sd.items():
        t = t.detach().cpu().contiguous()
        dt = {torch.float32: ("F32", "<f4"), torch.int64: ("I64", "<i8")}[t.dtype]
        b = t.numpy().astype(dt[1]).tobytes()
        header[name] = {"dtype": dt[0], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


class ResNetMini(nn.Module):
    def __init__(self, widths=(16, 32, 64, 128), classes=100):
        super().__init__()
        self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
            cin = w
        self.fc = nn.Linear(cin, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")


class EncoderBlock(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.self_attention = nn.MultiheadAttention(d, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp), nn.GELU(), nn.Dropout(0.0), nn.Linear(mlp, d), nn.Dropout(0.0))
        for m in self.mlp.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)


class Encoder(nn.Module):
    def __init__(self, seq, d, layers, heads, mlp):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq, d).normal_(std=0.02))
        self.layers = nn.Sequential(OrderedDict((f"encoder_layer_{i}", EncoderBlock(d, heads, mlp)) for i in range(layers)))
        self.ln = nn.LayerNorm(d)


class VitMini(nn.Module):
    def __init__(self, image=32, patch=8, d=128, layers=4, heads=4, mlp=512, classes=100):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, d, patch, patch)
        fan_in = 3 * patch * patch
        nn.init.trunc_normal_(self.conv_proj.weight, std=math.sqrt(1 / fan_in))
        nn.init.zeros_(self.conv_proj.bias)
        self.class_token = nn.Parameter(torch.zeros(1, 1, d))
        self.encoder = Encoder((image // patch) ** 2 + 1, d, layers, heads, mlp)
        self.heads = nn.Sequential(OrderedDict(head=nn.Linear(d, classes)))
        nn.init.zeros_(self.heads.head.weight)
        nn.init.zeros_(self.heads.head.bias)


def run_ww(model, csv, extra=()):
    cmd = [WW_RUN, *extra, model, csv]
    r = subprocess.run(cmd, capture_output=True, text=True)
    sys.stderr.write(r.stderr)
    if r.returncode != 0:
        sys.exit(f"ww-run failed on {model}")


def main():
    models = {"resnet_mini": ResNetMini, "vit_mini": VitMini}
    for name, ctor in models.items():
        torch.manual_seed(0)
        m = ctor()
        sd = OrderedDict((k, v) for k, v in m.state_dict().items() if v.dtype == torch.float32)
        write_safetensors(sd, os.path.join(HERE, name + ".safetensors"))
    if "--no-ww" in sys.argv:
        return
    for name in models:
        run_ww(os.path.join(HERE, name + ".safetensors"), os.path.join(HERE, name + ".csv"))
    st = os.path.join(HERE, "..", "safetensors")
    run_ww(os.path.join(st, "small.safetensors"), os.path.join(HERE, "small.csv"), ["--all-2d"])
    run_ww(os.path.join(st, "langdetect", "langdetect.safetensors"), os.path.join(HERE, "langdetect.csv"))


if __name__ == "__main__":
    main()
