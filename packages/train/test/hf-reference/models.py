"""Plain PyTorch forward passes of GPT-2 and the Llama family, written from Hugging Face's modeling code.

Followed (huggingface/transformers, read through the code index; eager attention only, no cache, no dropout):
- src/transformers/models/gpt2/modeling_gpt2.py at c44b2d9976e8eafbdcb89cb2710141b2bc9b138f: GPT2Attention._attn
  (scores / sqrt(head_dim), causal mask by torch.where with finfo.min, softmax), GPT2MLP (c_fc, act, c_proj),
  GPT2Block (pre-LayerNorm residuals), GPT2Model (wte + wpe, ln_f), Conv1D (x @ W + b with W [in, out]).
  The activations follow src/transformers/activations.py (gelu_new, gelu_pytorch_tanh, gelu_fast, gelu).
- src/transformers/models/llama/modeling_llama.py at 5dd4a63548857797727ae73eeb6a6e886ea02a3e: LlamaRMSNorm
  (variance in float32, weight * x.to(input dtype)), LlamaRotaryEmbedding (default rope: inv_freq =
  1 / theta^(arange(0, dim, 2) / dim), emb = cat(freqs, freqs), cos/sin in float32), rotate_half and
  apply_rotary_pos_emb, repeat_kv, eager_attention_forward (scores * head_dim^-0.5 + mask, softmax in float32),
  LlamaMLP (down(silu(gate(x)) * up(x))), LlamaDecoderLayer, LlamaModel.
- src/transformers/models/qwen2/modeling_qwen2.py at 63bb723747035466e5339aea864b133f709b067d: Qwen2Attention
  (q/k/v with bias, o without); otherwise Llama's blocks. Mistral is Llama without biases plus a sliding
  window, which only matters past `sliding_window` tokens (refused here).
Heads: the LM head (tied: the token embedding) and `…ForTokenClassification` (`classifier` for GPT-2, `score`
for the Llama family: nn.Linear with bias).

Everything runs in `dtype` (float32, or float64 for finite differences). Where HF computes in float32 whatever
the model's dtype (RMSNorm's variance, rotary tables, attention softmax) this code uses float32 too, widened to
float64 in float64 mode: HF would narrow a float64 model there, which would only blur a finite-difference check.
"""
import math

import torch
import torch.nn.functional as F

ARCHITECTURES = {
    "GPT2LMHeadModel": ("gpt2", "lm"),
    "GPT2ForTokenClassification": ("gpt2", "token-classification"),
    "LlamaForCausalLM": ("llama", "lm"),
    "LlamaForTokenClassification": ("llama", "token-classification"),
    "MistralForCausalLM": ("mistral", "lm"),
    "MistralForTokenClassification": ("mistral", "token-classification"),
    "Qwen2ForCausalLM": ("qwen2", "lm"),
    "Qwen2ForTokenClassification": ("qwen2", "token-classification"),
}


class Spec:
    """A config.json read with the defaults of its transformers config class; what the forward pass needs."""

    def __init__(self, config):
        archs = config.get("architectures") or []
        model_type = config.get("model_type")
        arch = archs[0] if archs else next((a for a, (t, h) in ARCHITECTURES.items() if t == model_type and h == "lm"), None)
        if arch not in ARCHITECTURES or ARCHITECTURES[arch][0] != model_type:
            raise ValueError(f"unsupported architecture {arch!r} with model_type {model_type!r} (supported: {list(ARCHITECTURES)})")
        self.arch = arch
        self.model_type, self.head = ARCHITECTURES[arch]
        self.family = "gpt2" if model_type == "gpt2" else "llama"
        self.vocab = config["vocab_size"]
        labels = config.get("id2label") or {"0": "LABEL_0", "1": "LABEL_1"}
        self.num_labels = len(labels)
        if self.family == "gpt2":
            self.d = config["n_embd"]
            self.layers = config["n_layer"]
            self.heads = self.kv_heads = config["n_head"]
            self.head_dim = self.d // self.heads
            self.ff = config.get("n_inner") or 4 * self.d
            self.eps = config.get("layer_norm_epsilon", 1e-5)
            self.act = config.get("activation_function", "gelu_new")
            self.tied = config.get("tie_word_embeddings", True)
            self.max_positions = config["n_positions"]
            for key, ok in (("scale_attn_weights", True), ("scale_attn_by_inverse_layer_idx", False),
                            ("reorder_and_upcast_attn", False), ("add_cross_attention", False)):
                if config.get(key, ok) != ok:
                    raise ValueError(f"config {key}: only {ok} is implemented, found {config[key]!r}")
            self.prefix = "transformer."
            return
        self.d = config["hidden_size"]
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.kv_heads = config.get("num_key_value_heads") or self.heads
        self.head_dim = config.get("head_dim") or self.d // self.heads
        self.ff = config["intermediate_size"]
        self.eps = config.get("rms_norm_eps", 1e-6)
        self.theta = float(config.get("rope_theta", 10000.0))
        self.tied = config.get("tie_word_embeddings", False)
        self.max_positions = config["max_position_embeddings"]
        if config.get("hidden_act", "silu") != "silu":
            raise ValueError(f"config hidden_act: only silu is implemented, found {config['hidden_act']!r}")
        scaling = config.get("rope_scaling")
        if scaling is not None and scaling.get("rope_type", scaling.get("type")) != "default":
            raise ValueError(f"config rope_scaling: only unscaled rotary is implemented, found {scaling!r}")
        if model_type == "qwen2" and config.get("use_sliding_window", False):
            raise ValueError("config use_sliding_window: only full attention is implemented, found true")
        self.window = config.get("sliding_window", 4096) if model_type == "mistral" else None
        bias = config.get("attention_bias", False) if model_type == "llama" else False
        self.qkv_bias = model_type == "qwen2" or bias
        self.o_bias = bias
        self.mlp_bias = model_type == "llama" and config.get("mlp_bias", False)
        self.prefix = "model."


class Lora:
    """LoRA adapters as PEFT adds them: y += (x @ A^T @ B^T) · alpha / r, on all or a slice of a layer's outputs."""

    def __init__(self, scaling):
        self.scaling = scaling
        self.adapters = {}  # module name → [(A, B, lo, hi)]

    def add(self, module, a, b, lo, hi):
        self.adapters.setdefault(module, []).append((a, b, lo, hi))

    def apply(self, module, x, y):
        for a, b, lo, hi in self.adapters.get(module, ()):
            delta = (x @ a.t()) @ b.t() * self.scaling
            y = torch.cat([y[..., :lo], y[..., lo:hi] + delta, y[..., hi:]], dim=-1)
        return y


def linear(w, module, x, lora, bias=True):
    """nn.Linear: weight [out, in]."""
    b = w.get(f"{module}.bias") if bias else None
    y = x @ w[f"{module}.weight"].t()
    if b is not None:
        y = y + b
    return lora.apply(module, x, y) if lora else y


def conv1d(w, module, x, lora):
    """GPT-2's Conv1D: weight [in, out], always with a bias."""
    y = x @ w[f"{module}.weight"] + w[f"{module}.bias"]
    return lora.apply(module, x, y) if lora else y


def gelu(kind, x):
    if kind == "gelu_new":
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))
    if kind == "gelu_pytorch_tanh":
        return F.gelu(x, approximate="tanh")
    if kind == "gelu_fast":
        return 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x)))
    if kind == "gelu":
        return F.gelu(x)
    raise ValueError(f"config activation_function: {kind!r} is not implemented (gelu_new, gelu_pytorch_tanh, gelu_fast, gelu)")


def wide(dtype):
    """float32, or the dtype itself when it is wider."""
    return torch.promote_types(dtype, torch.float32)


def gpt2_hidden(spec, w, ids, lora):
    p = spec.prefix
    batch, t = ids.shape
    if t > spec.max_positions:
        raise ValueError(f"sequence of {t} tokens exceeds n_positions {spec.max_positions}")
    h = w[p + "wte.weight"][ids] + w[p + "wpe.weight"][torch.arange(t)]
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    for i in range(spec.layers):
        m = f"{p}h.{i}."
        x = F.layer_norm(h, (spec.d,), w[m + "ln_1.weight"], w[m + "ln_1.bias"], spec.eps)
        q, k, v = conv1d(w, m + "attn.c_attn", x, lora).split(spec.d, dim=2)
        q, k, v = (z.view(batch, t, spec.heads, spec.head_dim).permute(0, 2, 1, 3) for z in (q, k, v))
        scores = (q @ k.transpose(-1, -2)) / torch.full([], v.size(-1) ** 0.5, dtype=q.dtype)
        scores = torch.where(causal, scores, torch.full([], torch.finfo(scores.dtype).min, dtype=scores.dtype))
        att = torch.softmax(scores, dim=-1) @ v
        att = att.permute(0, 2, 1, 3).reshape(batch, t, spec.d)
        h = h + conv1d(w, m + "attn.c_proj", att, lora)
        x = F.layer_norm(h, (spec.d,), w[m + "ln_2.weight"], w[m + "ln_2.bias"], spec.eps)
        h = h + conv1d(w, m + "mlp.c_proj", gelu(spec.act, conv1d(w, m + "mlp.c_fc", x, lora)), lora)
    return F.layer_norm(h, (spec.d,), w[p + "ln_f.weight"], w[p + "ln_f.bias"], spec.eps)


def rms_norm(x, weight, eps):
    dtype = x.dtype
    x = x.to(wide(dtype))
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return weight * x.to(dtype)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def repeat_kv(x, n_rep):
    batch, kv, t, hd = x.shape
    if n_rep == 1:
        return x
    return x[:, :, None, :, :].expand(batch, kv, n_rep, t, hd).reshape(batch, kv * n_rep, t, hd)


def llama_hidden(spec, w, ids, lora):
    p = spec.prefix
    batch, t = ids.shape
    if spec.window is not None and t > spec.window:
        raise ValueError(f"sequence of {t} tokens exceeds Mistral's sliding_window {spec.window}: not implemented")
    h = w[p + "embed_tokens.weight"][ids]
    dtype = h.dtype
    # Rotary tables in float32 (float64 in float64 mode), from an int64 arange as LlamaRotaryEmbedding does.
    hd = spec.head_dim
    inv_freq = 1.0 / (spec.theta ** (torch.arange(0, hd, 2, dtype=torch.int64).to(wide(dtype)) / hd))
    freqs = torch.outer(torch.arange(t).to(wide(dtype)), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().to(dtype), emb.sin().to(dtype)
    mask = torch.triu(torch.full((t, t), torch.finfo(dtype).min, dtype=dtype), diagonal=1)
    groups = spec.heads // spec.kv_heads
    for i in range(spec.layers):
        m = f"{p}layers.{i}."
        x = rms_norm(h, w[m + "input_layernorm.weight"], spec.eps)
        a = m + "self_attn."
        q = linear(w, a + "q_proj", x, lora, spec.qkv_bias).view(batch, t, -1, hd).transpose(1, 2)
        k = linear(w, a + "k_proj", x, lora, spec.qkv_bias).view(batch, t, -1, hd).transpose(1, 2)
        v = linear(w, a + "v_proj", x, lora, spec.qkv_bias).view(batch, t, -1, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k, v = repeat_kv(k, groups), repeat_kv(v, groups)
        scores = (q @ k.transpose(2, 3)) * hd**-0.5 + mask
        probs = torch.softmax(scores, dim=-1, dtype=wide(dtype)).to(dtype)
        att = (probs @ v).transpose(1, 2).reshape(batch, t, -1)
        h = h + linear(w, a + "o_proj", att, lora, spec.o_bias)
        x = rms_norm(h, w[m + "post_attention_layernorm.weight"], spec.eps)
        f = m + "mlp."
        gate = linear(w, f + "gate_proj", x, lora, spec.mlp_bias)
        up = linear(w, f + "up_proj", x, lora, spec.mlp_bias)
        h = h + linear(w, f + "down_proj", F.silu(gate) * up, lora, spec.mlp_bias)
    return rms_norm(h, w[p + "norm.weight"], spec.eps)


def head_names(spec):
    """The token-classification head's weight and bias names."""
    name = "classifier" if spec.family == "gpt2" else "score"
    return f"{name}.weight", f"{name}.bias"


def forward(spec, w, ids, lora=None, head=None):
    """Logits [batch, T, vocab or labels]. `head`: name → tensor of a token-classification head to use instead of
    the model's own head (lora-grads trains one on top of a causal LM)."""
    hidden = (gpt2_hidden if spec.family == "gpt2" else llama_hidden)(spec, w, ids, lora)
    if head is not None:
        hw, hb = head_names(spec)
        return hidden @ head[hw].t() + head[hb]
    if spec.head == "token-classification":
        hw, hb = head_names(spec)
        return hidden @ w[hw].t() + w[hb]
    if spec.tied:
        return hidden @ w[spec.prefix + ("wte.weight" if spec.family == "gpt2" else "embed_tokens.weight")].t()
    return hidden @ w["lm_head.weight"].t()


def with_prefix(spec, tensors):
    """The tensors under the names the forward pass reads: a bare base model's names get the base prefix."""
    bare = [n for n in tensors if not n.startswith(spec.prefix) and n.split(".")[0] not in ("lm_head", "classifier", "score")]
    if not bare:
        return tensors
    return {(spec.prefix + n if n in bare else n): t for n, t in tensors.items()}
