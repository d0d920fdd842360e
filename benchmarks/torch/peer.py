"""The PyTorch peer of `pnpm bench` (benchmarks/src/peers/torch.ts): `python3 peer.py JOB_DIR`.

JOB_DIR/manifest.json names the job (gpt, labeler or matmul), its settings and its inputs, raw little-endian
files in JOB_DIR. The peer prints one JSON line describing itself (torch version, BLAS library, threads), then
answers one JSON line per command read from stdin, so that the bench times it with the same loop as every
other implementation:
  {"cmd": "step"}    one training step (or one matmul): {"loss": ...} ({"ok": true} for a matmul)
  {"cmd": "output"}  a matmul's product, written to JOB_DIR/output.f32: {"path": ...}
  {"cmd": "peak"}    one more step, measuring its peak resident memory: {"peak_bytes": ..., "how": ...}
Any failure answers {"error": "..."} and exits 1.
"""
import json
import os
import sys
import traceback

# env first: it sets OMP_WAIT_POLICY before torch loads OpenMP.
from env import describe, memory_baseline, peak_resident_during, set_threads  # isort: skip
import numpy as np
import torch
from models import GPT, Labeler, our_names


def read(job, name, dtype, shape):
    return torch.from_numpy(np.fromfile(os.path.join(job, name), dtype=dtype).reshape(shape))


def load_weights(job, model, params):
    names = our_names(model)
    missing = set(names) - {p["name"] for p in params}
    if missing:
        raise ValueError(f"the manifest lacks our parameters {sorted(missing)}")
    with torch.no_grad():
        for p in params:
            if p["name"] not in names:
                raise ValueError(f"parameter {p['name']} has no place in the PyTorch twin")
            param, transposed = names[p["name"]]
            w = read(job, p["file"], "<f4", p["shape"])
            param.copy_(w.t() if transposed else w)
    return names


def optimizer(names, settings, no_decay):
    """torch.optim.AdamW with our no-decay set (isNoDecay) as a param group without weight decay."""
    decay = [param for name, (param, _) in names.items() if name not in no_decay]
    exempt = [param for name, (param, _) in names.items() if name in no_decay]
    groups = [{"params": decay, "weight_decay": settings["weightDecay"]}, {"params": exempt, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=settings["lr"], betas=tuple(settings["betas"]), eps=settings["eps"])


def training(job, m):
    """A step function: zero_grad, loss, backward, clip (if asked), AdamW; returns the loss as a float."""
    cfg = m["config"]
    if m["kind"] == "gpt":
        model = GPT(cfg)
        b, t = m["batch"]["shape"]
        tokens = read(job, m["batch"]["tokens"], "<i4", (b, t)).long()
        targets = read(job, m["batch"]["targets"], "<i4", (b, t)).long()
        compute = lambda: model.lm_loss(tokens, targets)  # noqa: E731
    else:
        model = Labeler(cfg, m["numLabels"])
        lay = m["layout"]
        b, n, s = lay["batch"], lay["baseSeq"], lay["seq"]
        layout = {
            "baseTokens": read(job, lay["baseTokens"], "<i4", (b, n)).long(),
            "repeatIndex": read(job, lay["repeatIndex"], "<i4", (b, s)).long(),
            "positions": read(job, lay["positions"], "<i4", (b, s)).long(),
            "lengths": read(job, lay["lengths"], "<i4", (b,)).long(),
            "lastCopyRows": read(job, lay["lastCopyRows"], "<i4", (b, n)).long(),
        }
        labels = read(job, lay["labels"], "<i4", (b, n)).long()
        compute = lambda: model.loss(layout, labels)  # noqa: E731
    names = load_weights(job, model, m["params"])
    opt = optimizer(names, m["adamw"], set(m["noDecay"]))
    params = [param for param, _ in names.values()]
    clip = m["adamw"].get("maxGradNorm")

    def step():
        opt.zero_grad(set_to_none=True)
        loss = compute()
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        return {"loss": loss.item()}

    return step, None


def matmul(job, m):
    a = read(job, m["a"], "<f4", (m["M"], m["K"]))
    b = read(job, m["b"], "<f4", (m["K"], m["N"]))

    def step():
        a @ b
        return {"ok": True}

    def output():
        path = os.path.join(job, "output.f32")
        (a @ b).numpy().astype("<f4").tofile(path)
        return {"path": path}

    return step, output


def main():
    job = sys.argv[1]
    with open(os.path.join(job, "manifest.json")) as f:
        m = json.load(f)
    set_threads()
    baseline = memory_baseline()
    step, output = (matmul if m["kind"] == "matmul" else training)(job, m)
    print(json.dumps(describe()), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)["cmd"]
        if cmd == "step":
            answer = step()
        elif cmd == "output" and output:
            answer = output()
        elif cmd == "peak":
            answer = peak_resident_during(step, baseline)
        else:
            raise ValueError(f"unknown command {cmd!r} for a {m['kind']} job")
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 (every failure reaches the bench as one line)
        traceback.print_exc(file=sys.stderr)
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        sys.exit(1)
