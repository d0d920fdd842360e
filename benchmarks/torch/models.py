"""The PyTorch twin of our Transformer (packages/model), written the way a PyTorch user writes a small GPT.

Pre-LN blocks (LayerNorm eps 1e-5), separate q/k/v projections with biases, scores scaled by 1/sqrt(head dim),
tanh-GELU MLP, final LayerNorm, LM head tied to the token embedding; learned positions or rotary ones in our
convention (pairs (i, i + d/2) of each head, angle p * 10000^(-2i/d), applied before the heads are split).
Our weights are [in, out] (x @ W); nn.Linear keeps [out, in], so they are transposed on the way in (AdamW is
elementwise, so the update is the same).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, d, heads, d_ff):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=1e-5)
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d, eps=1e-5)
        self.fc = nn.Linear(d, d_ff)
        self.out = nn.Linear(d_ff, d)

    def forward(self, x, mask, rotary):
        b, t, d = x.shape
        h = self.ln1(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        if rotary is not None:
            q, k = apply_rotary(q, rotary, self.heads), apply_rotary(k, rotary, self.heads)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d // self.heads))
        attended = scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v
        x = x + self.proj(attended.transpose(1, 2).reshape(b, t, d))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


def rotary_tables(positions, d, heads, base=10000.0):
    """cos/sin [B, T, d] at int positions [B, T], per column as ours (computed in float64, stored as float32)."""
    head_dim = d // heads
    half = head_dim // 2
    i = torch.arange(d, dtype=torch.float64) % head_dim % half
    angle = positions.to(torch.float64)[..., None] * base ** (-(2 * i) / head_dim)
    return angle.cos().float(), angle.sin().float()


def apply_rotary(x, tables, heads):
    """x * cos + rotate_half(x) * sin, rotate_half putting -x2 in each head's first half and x1 in its second."""
    cos, sin = tables
    b, t, d = x.shape
    xh = x.view(b, t, heads, 2, d // heads // 2)
    rotated = torch.stack((-xh[:, :, :, 1], xh[:, :, :, 0]), dim=3).reshape(b, t, d)
    return x * cos + rotated * sin


class GPT(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d = cfg["dModel"]
        self.cfg = cfg
        self.tokens = nn.Embedding(cfg["vocabSize"], d)
        self.learned = cfg["positions"] == "learned"
        if self.learned:
            self.positions = nn.Embedding(cfg["maxPositions"], d)
        self.blocks = nn.ModuleList(Block(d, cfg["heads"], cfg["dFF"]) for _ in range(cfg["layers"]))
        self.norm = nn.LayerNorm(d, eps=1e-5)

    def hidden(self, x, positions, lengths, rotary=None):
        """Hidden states after the final norm; causal attention over keys before each sequence's length."""
        t = x.shape[1]
        if self.learned:
            x = x + self.positions(positions)
        keys = torch.arange(t)
        mask = (keys[None, :] <= keys[:, None])[None, None] & (keys[None, :] < lengths[:, None])[:, None, None]
        for block in self.blocks:
            x = block(x, mask, rotary)
        return self.norm(x)

    def lm_loss(self, tokens, targets):
        b, t = tokens.shape
        positions = torch.arange(t).expand(b, t)
        h = self.hidden(self.tokens(tokens), positions, torch.full((b,), t))
        logits = F.linear(h, self.tokens.weight)
        return F.cross_entropy(logits.view(b * t, -1), targets.view(-1), ignore_index=-100)


class Labeler(nn.Module):
    """SequenceLabeler (packages/model/src/labeler.ts) without dropout: a linear head on the last copy's rows."""

    def __init__(self, cfg, num_labels):
        super().__init__()
        self.backbone = GPT(cfg)
        self.head = nn.Linear(cfg["dModel"], num_labels)

    def loss(self, layout, labels):
        """Our repeatBatch layout (host arrays) → mean cross-entropy over the labeled rows of the last copy."""
        bb = self.backbone
        b, n = layout["baseTokens"].shape
        base = bb.tokens(layout["baseTokens"]).view(b * n, -1)
        # Each copy reads the sentence's embedding rows, so their gradient sums over the copies (as ours).
        x = base[layout["repeatIndex"]]
        rotary = None if bb.learned else rotary_tables(layout["positions"], bb.cfg["dModel"], bb.cfg["heads"])
        h = bb.hidden(x, layout["positions"], layout["lengths"], rotary)
        h = h.reshape(-1, h.shape[-1])[layout["lastCopyRows"].view(-1)]
        return F.cross_entropy(self.head(h), labels.view(-1), ignore_index=-100)


def our_names(model):
    """Our parameter name → (torch parameter, transposed?) for a GPT or a Labeler."""
    gpt = model.backbone if isinstance(model, Labeler) else model
    names = {"embed.tokens": (gpt.tokens.weight, False), "norm.weight": (gpt.norm.weight, False),
             "norm.bias": (gpt.norm.bias, False)}
    if gpt.learned:
        names["embed.positions"] = (gpt.positions.weight, False)
    ours = {"ln1": "ln1", "attn.q": "q", "attn.k": "k", "attn.v": "v", "attn.proj": "proj", "ln2": "ln2",
            "mlp.fc": "fc", "mlp.proj": "out"}
    for i, block in enumerate(gpt.blocks):
        for our, mine in ours.items():
            module = getattr(block, mine)
            linear = isinstance(module, nn.Linear)
            names[f"blocks.{i}.{our}.weight"] = (module.weight, linear)
            names[f"blocks.{i}.{our}.bias"] = (module.bias, False)
    if isinstance(model, Labeler):
        names["head.weight"] = (model.head.weight, True)
        names["head.bias"] = (model.head.bias, False)
    return names
