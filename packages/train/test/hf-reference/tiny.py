"""Tiny random models of each supported architecture: the config.json transformers (4.48) writes for it and
weights under HF's names, seeded.

The configs hold the keys `save_pretrained` writes for each config class (its own init arguments, plus the
PretrainedConfig keys that differ from the base defaults), sized small. Weights are drawn at a scale that
makes attention far from uniform (std 1/sqrt(fan_in) for matrices, O(1) embeddings, gains 1 ± 0.1, biases
± 0.1): at HF's init (std 0.02) logits hardly depend on positions or masks, and a wrong one would pass.
"""
import torch

from models import head_names

VERSION = "4.48.0"
SIZES = {"vocab": 101, "d": 24, "layers": 2, "heads": 4, "kv_heads": 2, "ff": 40, "positions": 64}


def gpt2_config(s):
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": s["vocab"] - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": s["vocab"] - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_embd": s["d"],
        "n_head": s["heads"],
        "n_inner": s["ff"],
        "n_layer": s["layers"],
        "n_positions": s["positions"],
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "transformers_version": VERSION,
        "use_cache": True,
        "vocab_size": s["vocab"],
    }


def llama_family_config(arch, s):
    common = {
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "hidden_act": "silu",
        "hidden_size": s["d"],
        "initializer_range": 0.02,
        "intermediate_size": s["ff"],
        "max_position_embeddings": s["positions"],
        "num_attention_heads": s["heads"],
        "num_hidden_layers": s["layers"],
        "num_key_value_heads": s["kv_heads"],
        "rms_norm_eps": 1e-06,
        "tie_word_embeddings": False,
        "transformers_version": VERSION,
        "use_cache": True,
        "vocab_size": s["vocab"],
    }
    head_dim = s["d"] // s["heads"]
    if arch == "llama":
        return dict(common, architectures=["LlamaForCausalLM"], model_type="llama", attention_bias=False,
                    head_dim=head_dim, mlp_bias=False, pretraining_tp=1, rope_scaling=None, rope_theta=10000.0)
    if arch == "mistral":
        return dict(common, architectures=["MistralForCausalLM"], model_type="mistral", head_dim=head_dim,
                    rope_theta=1000000.0, sliding_window=4096)
    # Qwen2.5's small models tie their head; the tiny one does too, so that tied heads are covered.
    return dict(common, architectures=["Qwen2ForCausalLM"], model_type="qwen2", max_window_layers=28,
                rope_scaling=None, rope_theta=1000000.0, sliding_window=None, tie_word_embeddings=True,
                use_sliding_window=False)


def tiny_config(arch, overrides):
    if arch == "gpt2":
        config = gpt2_config(SIZES)
    elif arch in ("llama", "mistral", "qwen2"):
        config = llama_family_config(arch, SIZES)
    else:
        raise ValueError(f"--arch {arch!r}: expected gpt2, llama, mistral or qwen2")
    config.update(overrides)
    return config


def weight_shapes(spec):
    """HF name → (shape, kind) of every tensor `save_pretrained` writes for `spec` (a tied head has none)."""
    d, f, v = spec.d, spec.ff, spec.vocab
    out = {}
    if spec.family == "gpt2":
        p = spec.prefix
        out[p + "wte.weight"] = ([v, d], "embedding")
        out[p + "wpe.weight"] = ([spec.max_positions, d], "embedding")
        for i in range(spec.layers):
            m = f"{p}h.{i}."
            for ln in ("ln_1", "ln_2"):
                out[m + ln + ".weight"] = ([d], "gain")
                out[m + ln + ".bias"] = ([d], "bias")
            for name, shape in (("attn.c_attn", [d, 3 * d]), ("attn.c_proj", [d, d]), ("mlp.c_fc", [d, f]), ("mlp.c_proj", [f, d])):
                out[m + name + ".weight"] = (shape, "conv1d")
                out[m + name + ".bias"] = ([shape[1]], "bias")
        out[p + "ln_f.weight"] = ([d], "gain")
        out[p + "ln_f.bias"] = ([d], "bias")
    else:
        p = spec.prefix
        q, kv = spec.heads * spec.head_dim, spec.kv_heads * spec.head_dim
        out[p + "embed_tokens.weight"] = ([v, d], "embedding")
        for i in range(spec.layers):
            m = f"{p}layers.{i}."
            out[m + "input_layernorm.weight"] = ([d], "gain")
            out[m + "post_attention_layernorm.weight"] = ([d], "gain")
            for name, rows, cols, bias in (("q_proj", q, d, spec.qkv_bias), ("k_proj", kv, d, spec.qkv_bias),
                                           ("v_proj", kv, d, spec.qkv_bias), ("o_proj", d, q, spec.o_bias)):
                out[f"{m}self_attn.{name}.weight"] = ([rows, cols], "linear")
                if bias:
                    out[f"{m}self_attn.{name}.bias"] = ([rows], "bias")
            for name, rows, cols in (("gate_proj", f, d), ("up_proj", f, d), ("down_proj", d, f)):
                out[f"{m}mlp.{name}.weight"] = ([rows, cols], "linear")
                if spec.mlp_bias:
                    out[f"{m}mlp.{name}.bias"] = ([rows], "bias")
        out[p + "norm.weight"] = ([d], "gain")
    if spec.head == "token-classification":
        hw, hb = head_names(spec)
        out[hw] = ([spec.num_labels, d], "linear")
        out[hb] = ([spec.num_labels], "bias")
    elif not spec.tied:
        out["lm_head.weight"] = ([v, d], "linear")
    return out


def random_weights(spec, seed):
    """name → float32 tensor, drawn in sorted name order from one seeded generator."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, (shape, kind) in sorted(weight_shapes(spec).items()):
        z = torch.randn(shape, generator=g, dtype=torch.float32)
        if kind == "embedding":
            out[name] = z
        elif kind == "gain":
            out[name] = 1.0 + 0.1 * z
        elif kind == "bias":
            out[name] = 0.1 * z
        else:  # a matrix: fan_in is its input side ([out, in] for nn.Linear, [in, out] for Conv1D)
            fan_in = shape[1] if kind == "linear" else shape[0]
            out[name] = z / fan_in**0.5
    return out
