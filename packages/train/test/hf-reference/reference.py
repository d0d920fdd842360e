"""The PyTorch side of the Hugging Face verification (issue 16, item 5): tiny HF model directories, their logits,
and LoRA gradients, computed by a plain PyTorch implementation (models.py; it cites the transformers files and
commits it follows) since transformers itself is not installed. Each subcommand prints one JSON object.

  make --arch gpt2|llama|mistral|qwen2 --out DIR [--dtype f32|f16|bf16] [--shards N] [--seed S]
       [--tiny-config JSON] [--num-labels N]
      A tiny random model saved as transformers would (config.json; model.safetensors, or N shards and
      model.safetensors.index.json). --tiny-config: config keys to override; --num-labels: a
      …ForTokenClassification with that many labels instead of the causal LM.
  resave --dir DIR --out DIR2 [--dtype f32|f16|bf16] [--shards N]
      The same model in another dtype or sharding.
  logits --dir DIR --ids JSON [--bin PATH]
      Float32 logits [batch, T, vocab (or labels)] for a batch of token ids: as JSON, or written to PATH as raw
      little-endian float32 (row-major) with only the shape in the JSON.
  lora-grads --dir DIR --ids JSON --labels JSON [--rank r] [--alpha a] [--targets q,k,v,o] [--seed S]
             [--b-init zeros|normal] [--num-labels N] [--init JSON] [--perturb NAME:INDEX:DELTA] [--precision f32|f64]
      LoRA adapters on the targets, a token-classification head, cross-entropy (mean over labels != -100); prints
      the loss, every trainable tensor and its gradient by name.

JSON arguments are literal JSON or the path of a file holding it. Run with -B (no __pycache__ in the tree).
"""
import argparse
import json
import math
import os
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hf_files import BY_NAME, read_model_dir, write_model_dir  # noqa: E402
from models import Lora, Spec, forward, head_names, with_prefix  # noqa: E402
from tiny import random_weights, tiny_config, weight_shapes  # noqa: E402


def json_arg(text, what):
    try:
        if text.lstrip().startswith(("[", "{")):
            return json.loads(text)
        with open(text) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise SystemExit(f"{what}: expected JSON or a JSON file, {e}")


def token_grid(value, what, bound=None, allow=()):
    """A rectangular int64 [batch, T] tensor from nested lists; values in [0, bound) or in `allow`."""
    if not (isinstance(value, list) and value and all(isinstance(r, list) and r for r in value)):
        raise SystemExit(f"{what}: expected a non-empty list of non-empty lists of integers")
    if len({len(r) for r in value}) != 1:
        raise SystemExit(f"{what}: rows must have one length, found lengths {[len(r) for r in value]}")
    for b, row in enumerate(value):
        for t, x in enumerate(row):
            if not isinstance(x, int) or (bound is not None and not 0 <= x < bound and x not in allow):
                raise SystemExit(f"{what}[{b}][{t}]: expected an integer in [0, {bound}), found {x!r}")
    return torch.tensor(value, dtype=torch.int64)


def load(path, dtype=torch.float32):
    """The spec and weights (in `dtype`) of a model directory whose tensors are exactly the config's."""
    config, tensors = read_model_dir(path)
    spec = Spec(config)
    tensors = with_prefix(spec, tensors)
    if spec.head == "lm" and spec.tied:
        tensors.pop("lm_head.weight", None)  # transformers re-ties a tied head whatever the file holds
    expected = {n: shape for n, (shape, _) in weight_shapes(spec).items()}
    problems = [f"missing {n} {s}" for n, s in expected.items() if n not in tensors]
    problems += [f"unexpected {n}" for n in tensors if n not in expected]
    problems += [f"{n}: shape {list(t.shape)}, expected {expected[n]}" for n, t in tensors.items()
                 if n in expected and list(t.shape) != expected[n]]
    if problems:
        raise ValueError(f"{path}: the weights do not fit {spec.arch}: {'; '.join(problems[:10])}")
    return spec, {n: t.to(dtype) for n, t in tensors.items()}


def as_json(t):
    return {"shape": list(t.shape), "data": t.detach().reshape(-1).tolist()}


def cmd_make(args):
    overrides = json_arg(args.tiny_config, "--tiny-config") if args.tiny_config else {}
    config = tiny_config(args.arch, overrides)
    if args.num_labels:
        config["architectures"] = [config["architectures"][0].replace("LMHeadModel", "ForTokenClassification")
                                   .replace("ForCausalLM", "ForTokenClassification")]
        config["id2label"] = {str(i): f"LABEL_{i}" for i in range(args.num_labels)}
        config["label2id"] = {f"LABEL_{i}": i for i in range(args.num_labels)}
    spec = Spec(config)
    tensors = random_weights(spec, args.seed)
    write_model_dir(args.out, config, tensors, BY_NAME[args.dtype], args.shards)
    return {"dir": args.out, "architecture": spec.arch, "tensors": {n: list(t.shape) for n, t in sorted(tensors.items())}}


def cmd_resave(args):
    config, tensors = read_model_dir(args.dir)
    write_model_dir(args.out, config, tensors, BY_NAME[args.dtype], args.shards)
    return {"dir": args.out, "tensors": len(tensors)}


def cmd_logits(args):
    spec, w = load(args.dir)
    ids = token_grid(json_arg(args.ids, "--ids"), "--ids", spec.vocab)
    with torch.no_grad():
        logits = forward(spec, w, ids).to(torch.float32).contiguous()
    if not args.bin:
        return {"shape": list(logits.shape), "logits": logits.reshape(-1).tolist()}
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(args.bin)), prefix=".logits-")
    with os.fdopen(fd, "wb") as f:
        f.write(logits.numpy().astype("<f4").tobytes())
    os.replace(tmp, args.bin)
    return {"shape": list(logits.shape), "bin": args.bin}


def lora_modules(spec, target):
    """(module, name tag, input width, output slice) per layer for one --targets entry."""
    p, d = spec.prefix, spec.d
    q, kv = spec.heads * spec.head_dim, spec.kv_heads * spec.head_dim
    if spec.family == "gpt2":
        # q, k and v are thirds of the fused c_attn; PEFT can only adapt c_attn whole ("c_attn" here). The thirds'
        # adapters are named after c_attn with the role added: …attn.c_attn.q.lora_A.weight (not a PEFT name).
        table = {
            "q": ("attn.c_attn", ".q", d, 0, d), "k": ("attn.c_attn", ".k", d, d, 2 * d),
            "v": ("attn.c_attn", ".v", d, 2 * d, 3 * d), "c_attn": ("attn.c_attn", "", d, 0, 3 * d),
            "o": ("attn.c_proj", "", d, 0, d), "up": ("mlp.c_fc", "", d, 0, spec.ff),
            "down": ("mlp.c_proj", "", spec.ff, 0, d),
        }
        layer = "h"
    else:
        table = {
            "q": ("self_attn.q_proj", "", d, 0, q), "k": ("self_attn.k_proj", "", d, 0, kv),
            "v": ("self_attn.v_proj", "", d, 0, kv), "o": ("self_attn.o_proj", "", q, 0, d),
            "gate": ("mlp.gate_proj", "", d, 0, spec.ff), "up": ("mlp.up_proj", "", d, 0, spec.ff),
            "down": ("mlp.down_proj", "", spec.ff, 0, d),
        }
        layer = "layers"
    if target not in table:
        raise SystemExit(f"--targets: {target!r} is not a {spec.family} target (expected some of {', '.join(table)})")
    module, tag, fan_in, lo, hi = table[target]
    return [(f"{p}{layer}.{i}.{module}", tag, fan_in, lo, hi) for i in range(spec.layers)]


def cmd_lora_grads(args):
    dtype = torch.float64 if args.precision == "f64" else torch.float32
    spec, w = load(args.dir, dtype)
    ids = token_grid(json_arg(args.ids, "--ids"), "--ids", spec.vocab)
    labels_list = json_arg(args.labels, "--labels")
    if spec.head == "token-classification":
        num_labels = spec.num_labels
    else:
        num_labels = args.num_labels or 1 + max(x for row in labels_list for x in row if isinstance(x, int))
    labels = token_grid(labels_list, "--labels", num_labels, allow=(-100,))
    if labels.shape != ids.shape:
        raise SystemExit(f"--labels: shape {list(labels.shape)} must equal --ids' {list(ids.shape)}")

    # Initialization in a fixed order from one seed: per layer, per target, A then B; the head last.
    torch.manual_seed(args.seed)
    lora = Lora(args.alpha / args.rank)
    params = {}
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    per_target = [lora_modules(spec, t) for t in targets]
    for i in range(spec.layers):
        for mods in per_target:
            module, tag, fan_in, lo, hi = mods[i]
            a = torch.empty(args.rank, fan_in, dtype=torch.float32)
            torch.nn.init.kaiming_uniform_(a, a=math.sqrt(5))  # PEFT's LoraLayer.reset_lora_parameters
            b = torch.zeros(hi - lo, args.rank) if args.b_init == "zeros" else 0.2 * torch.randn(hi - lo, args.rank)
            params[f"{module}{tag}.lora_A.weight"] = a
            params[f"{module}{tag}.lora_B.weight"] = b
    hw, hb = head_names(spec)
    if spec.head == "token-classification":
        params[hw], params[hb] = w[hw].to(torch.float32), w[hb].to(torch.float32)
    else:
        linear = torch.nn.Linear(spec.d, num_labels)  # nn.Linear's own init, as a fresh HF head gets it
        params[hw], params[hb] = linear.weight.detach().clone(), linear.bias.detach().clone()

    if args.init:
        given = json_arg(args.init, "--init")
        for name, value in given.items():
            if name not in params:
                raise SystemExit(f"--init: unknown tensor {name!r} (expected some of {sorted(params)})")
            if list(value["shape"]) != list(params[name].shape):
                raise SystemExit(f"--init: tensor {name!r} has shape {value['shape']}, expected {list(params[name].shape)}")
            params[name] = torch.tensor(value["data"], dtype=torch.float64).reshape(value["shape"])
    params = {n: t.to(dtype).requires_grad_(False) for n, t in params.items()}
    for spec_text in args.perturb or []:
        name, index, delta = spec_text.rsplit(":", 2)
        if name not in params:
            raise SystemExit(f"--perturb: unknown tensor {name!r} (expected one of {sorted(params)})")
        params[name].view(-1)[int(index)] += float(delta)
    for t in params.values():
        t.requires_grad_(True)
    for i in range(spec.layers):
        for mods in per_target:
            module, tag, _, lo, hi = mods[i]
            lora.add(module, params[f"{module}{tag}.lora_A.weight"], params[f"{module}{tag}.lora_B.weight"], lo, hi)

    logits = forward(spec, w, ids, lora=lora, head={hw: params[hw], hb: params[hb]})
    loss = F.cross_entropy(logits.reshape(-1, num_labels), labels.reshape(-1), ignore_index=-100)
    loss.backward()
    return {
        "loss": loss.item(),
        "precision": args.precision,
        "scaling": lora.scaling,
        "params": {n: as_json(t) for n, t in params.items()},
        "grads": {n: as_json(t.grad) for n, t in params.items()},
    }


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dtypes = list(BY_NAME)

    make = sub.add_parser("make", help="a tiny random HF model directory")
    make.add_argument("--arch", required=True, choices=["gpt2", "llama", "mistral", "qwen2"])
    make.add_argument("--out", required=True)
    make.add_argument("--dtype", default="f32", choices=dtypes)
    make.add_argument("--shards", type=int, default=1)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--tiny-config", help="JSON object of config keys to override")
    make.add_argument("--num-labels", type=int, help="make a …ForTokenClassification with this many labels")

    resave = sub.add_parser("resave", help="an HF model directory in another dtype or sharding")
    resave.add_argument("--dir", required=True)
    resave.add_argument("--out", required=True)
    resave.add_argument("--dtype", default="f32", choices=dtypes)
    resave.add_argument("--shards", type=int, default=1)

    logits = sub.add_parser("logits", help="float32 logits for a batch of token ids")
    logits.add_argument("--dir", required=True)
    logits.add_argument("--ids", required=True)
    logits.add_argument("--bin", help="write the logits here as little-endian float32 instead of into the JSON")

    grads = sub.add_parser("lora-grads", help="LoRA and head gradients of a token-classification loss")
    grads.add_argument("--dir", required=True)
    grads.add_argument("--ids", required=True)
    grads.add_argument("--labels", required=True)
    grads.add_argument("--rank", type=int, default=4)
    grads.add_argument("--alpha", type=float, default=8.0)
    grads.add_argument("--targets", default="q,k,v,o")
    grads.add_argument("--seed", type=int, default=0)
    grads.add_argument("--b-init", default="zeros", choices=["zeros", "normal"])
    grads.add_argument("--num-labels", type=int)
    grads.add_argument("--init", help="JSON {name: {shape, data}} replacing initial adapter or head tensors")
    grads.add_argument("--perturb", action="append", help="NAME:INDEX:DELTA, added to one element before the forward")
    grads.add_argument("--precision", default="f32", choices=["f32", "f64"])

    args = parser.parse_args(argv)
    run = {"make": cmd_make, "resave": cmd_resave, "logits": cmd_logits, "lora-grads": cmd_lora_grads}[args.command]
    try:
        result = run(args)
    except (ValueError, KeyError, FileNotFoundError, FileExistsError) as e:
        raise SystemExit(f"reference.py {args.command}: {type(e).__name__}: {e}")
    json.dump(result, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
