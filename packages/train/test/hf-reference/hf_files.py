"""Hugging Face model directories without transformers or the safetensors package (neither is installed here).

Writes and reads what `save_pretrained` writes: `config.json`, and `model.safetensors` or shards listed by
`model.safetensors.index.json`. The safetensors layout: an 8-byte little-endian header length N, N bytes of
JSON (`{name: {dtype, shape, data_offsets}, "__metadata__": {"format": "pt"}}`, padded with spaces to a
multiple of 8 as the reference writer does), then the raw little-endian tensor bytes. F32, F16 and BF16 are
read and written; every tensor is handed back as float32. Directories are written to a temporary sibling and
renamed into place, so a failed write never leaves a half-written model behind.
"""
import json
import os
import shutil
import struct
import sys
import tempfile

import numpy as np
import torch

WEIGHTS_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
CONFIG_FILE = "config.json"

# safetensors dtype ↔ torch dtype, and the numpy dtype its bytes are read as (bf16 through int16: numpy has none).
DTYPES = {
    "F32": (torch.float32, "<f4"),
    "F16": (torch.float16, "<f2"),
    "BF16": (torch.bfloat16, "<i2"),
}
BY_NAME = {"f32": "F32", "f16": "F16", "bf16": "BF16"}
TORCH_DTYPE_NAMES = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}

if sys.byteorder != "little":
    raise SystemExit("hf_files.py writes raw tensor bytes and needs a little-endian host")


def tensor_bytes(t, st_dtype):
    t = t.detach().to(DTYPES[st_dtype][0]).contiguous()
    if st_dtype == "BF16":
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def encode_safetensors(tensors, st_dtype):
    """The bytes of one safetensors file holding `tensors` (name → tensor) cast to `st_dtype`."""
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        blob = tensor_bytes(tensors[name], st_dtype)
        header[name] = {
            "dtype": st_dtype,
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        offset += len(blob)
        blobs.append(blob)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def read_safetensors(path):
    """name → float32 tensor, for a file of F32, F16 and BF16 tensors."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: {len(data)} bytes, too short for a safetensors file (expected at least 8)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(data)} bytes)")
    header = json.loads(data[8 : 8 + n].decode("utf-8"))
    body = data[8 + n :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in DTYPES:
            raise ValueError(f"{path}: tensor '{name}' has dtype {entry['dtype']} (expected one of {list(DTYPES)})")
        torch_dtype, np_dtype = DTYPES[entry["dtype"]]
        begin, end = entry["data_offsets"]
        arr = np.frombuffer(body[begin:end], dtype=np_dtype).copy()
        t = torch.from_numpy(arr)
        if entry["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        count = int(np.prod(entry["shape"])) if entry["shape"] else 1
        if t.numel() != count:
            raise ValueError(f"{path}: tensor '{name}' has {t.numel()} elements, its shape {entry['shape']} needs {count}")
        out[name] = t.reshape(entry["shape"]).to(torch.float32)
    return out


def read_model_dir(path):
    """(config dict, name → float32 tensor) of an HF model directory, single file or sharded."""
    with open(os.path.join(path, CONFIG_FILE)) as f:
        config = json.load(f)
    single = os.path.join(path, WEIGHTS_FILE)
    if os.path.exists(single):
        return config, read_safetensors(single)
    index = os.path.join(path, INDEX_FILE)
    if not os.path.exists(index):
        raise FileNotFoundError(f"{path}: neither {WEIGHTS_FILE} nor {INDEX_FILE}")
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        tensors.update(read_safetensors(os.path.join(path, shard)))
    missing = sorted(set(weight_map) - set(tensors))
    if missing:
        raise ValueError(f"{index}: lists tensors no shard holds: {missing[:5]}")
    return config, tensors


def write_model_dir(out, config, tensors, st_dtype, shards=1):
    """Writes config.json and the weights (cast to `st_dtype`, in `shards` files) as a new directory `out`."""
    if os.path.exists(out) and os.listdir(out):
        raise FileExistsError(f"{out} exists and is not empty; refusing to overwrite a model directory")
    names = sorted(tensors)
    if not 1 <= shards <= len(names):
        raise ValueError(f"--shards must be between 1 and the number of tensors ({len(names)}), found {shards}")
    config = dict(config, torch_dtype=TORCH_DTYPE_NAMES[st_dtype])
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".hf-reference-", dir=parent)
    try:
        with open(os.path.join(tmp, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
        if shards == 1:
            with open(os.path.join(tmp, WEIGHTS_FILE), "wb") as f:
                f.write(encode_safetensors(tensors, st_dtype))
        else:
            weight_map = {}
            total = 0
            for k in range(shards):
                part = names[k * len(names) // shards : (k + 1) * len(names) // shards]
                shard = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
                with open(os.path.join(tmp, shard), "wb") as f:
                    f.write(encode_safetensors({n: tensors[n] for n in part}, st_dtype))
                for n in part:
                    weight_map[n] = shard
                    total += tensors[n].numel() * torch.finfo(DTYPES[st_dtype][0]).bits // 8
            with open(os.path.join(tmp, INDEX_FILE), "w") as f:
                json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2, sort_keys=True)
                f.write("\n")
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
