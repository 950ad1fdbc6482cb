#!/usr/bin/python3
"""Writes the PyTorch zip-checkpoint fixtures and golden.json for Cartan's PyTorch reader tests.

Run with Debian's /usr/bin/python3 (python3-torch 1.13):

    cd tests/Cartan.Tests/Fixtures/pytorch && /usr/bin/python3 make_pytorch.py

Files:
  model.pt        torch.save(model.state_dict()) of a small module (Linear, Conv2d, LayerNorm, BatchNorm2d with its
                  int64 counter, an fp16 Linear, a bf16 Linear, an fp64 buffer), plus a transposed (non-contiguous)
                  view and a slice with a storage offset that shares its storage with another entry.
  model_p4.pt     the same state dict saved with pickle protocol 4 (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL).
  nested.pt       {"model": state_dict, "epoch": 3, "note": "..."}: names are flattened to model.<key>.
  malicious.pt    a zip whose data.pkl calls os.getcwd through GLOBAL + REDUCE (harmless; it must be refused, not run).
golden.json holds, per file and tensor, the shape, dtype, strides and every value (float64) as torch reads them.
"""
import io
import json
import pickle
import zipfile

import torch
import torch.nn as nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 8)
        self.conv = nn.Conv2d(3, 4, 3)
        self.norm = nn.LayerNorm(8)
        self.bn = nn.BatchNorm2d(4)
        self.fc16 = nn.Linear(8, 6).half()
        self.fcbf = nn.Linear(6, 5).to(torch.bfloat16)
        self.register_buffer('scale64', torch.linspace(-1, 1, 5, dtype=torch.float64))


def state():
    torch.manual_seed(1234)
    m = Tiny()
    with torch.no_grad():
        m.norm.weight.uniform_(0.5, 1.5)
        m.bn.running_mean.uniform_(-1, 1)
        m.bn.num_batches_tracked.fill_(7)
    sd = m.state_dict()
    base = torch.randn(6, 7)
    sd['extra.transposed'] = torch.randn(5, 7).t()          # non-contiguous, strides (1, 7)
    sd['extra.base'] = base
    sd['extra.slice'] = base[2:5, 1:4]                       # storage offset 15, strides (7, 1), shares base's storage
    sd['extra.int32'] = torch.arange(-3, 9, dtype=torch.int32).reshape(3, 4)
    sd['extra.bool'] = torch.tensor([True, False, True])
    return sd


def golden(sd, prefix=''):
    out = {}
    for k, v in sd.items():
        if isinstance(v, dict):
            out.update(golden(v, prefix + k + '.'))
        elif torch.is_tensor(v):
            out[prefix + k] = dict(shape=list(v.shape), dtype=str(v.dtype).replace('torch.', ''), stride=list(v.stride()),
                                   offset=v.storage_offset(), values=[float(x) for x in v.double().flatten().tolist()])
    return out


def main():
    sd = state()
    torch.save(sd, 'model.pt')
    torch.save(sd, 'model_p4.pt', pickle_protocol=4)
    torch.save({'model': sd, 'epoch': 3, 'note': 'nested checkpoint'}, 'nested.pt')

    # Reading back with torch must keep the strides (a check of this script, not of Cartan).
    back = torch.load('model.pt')
    assert back['extra.transposed'].stride() == (1, 7), back['extra.transposed'].stride()
    assert back['extra.slice'].storage_offset() == 15

    g = {'model.pt': golden(back), 'model_p4.pt': golden(torch.load('model_p4.pt')),
         'nested.pt': golden(torch.load('nested.pt'))}

    # A pickle that would call os.getcwd (harmless) if it were executed: GLOBAL 'os getcwd', EMPTY_TUPLE, REDUCE.
    evil = b'\x80\x02' + b'cos\ngetcwd\n' + b')' + b'R' + b'.'
    with zipfile.ZipFile('malicious.pt', 'w', compression=zipfile.ZIP_STORED) as z:
        z.writestr('malicious/data.pkl', evil)
        z.writestr('malicious/version', '3\n')
    try:  # what Python's unpickler would do with it: proves the payload is the GLOBAL call
        assert isinstance(pickle.loads(evil), str)
    except Exception as e:  # pragma: no cover
        raise SystemExit('malicious payload check failed: %s' % e)

    with open('golden.json', 'w') as f:
        json.dump(g, f, indent=1)
    for name in ['model.pt', 'model_p4.pt', 'nested.pt']:
        with zipfile.ZipFile(name) as z:
            print(name, [(i.filename, i.compress_type, i.file_size) for i in z.infolist()][:4], '...')


if __name__ == '__main__':
    main()
