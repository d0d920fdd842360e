"""PyTorch fp32 baseline on the same GPU for the numbers of benchmarks/src/gpu-check.ts (TF32 off)."""
import json
import os

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
sizes = [int(s) for s in os.environ.get("SIZES", "1024,2048,4096,8192").split(",")]
for n in sizes:
    a = torch.rand(n, n, device="cuda") - 0.5
    b = torch.rand(n, n, device="cuda") - 0.5
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    times = []
    for _ in range(7):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        a @ b
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    ms = sorted(times)[len(times) // 2]
    print(json.dumps({"bench": "matmul", "shape": [n, n, n], "impl": "torch-fp32-cuda", "adapter": torch.cuda.get_device_name(),
                      "median_ms": ms, "gflops": 2 * n**3 / ms / 1e6}))

# Attention forward+backward, causal, fp32 (PyTorch picks its SDPA kernel), the shapes of gpu-check.ts.
for bh, seq in [(32, 512), (32, 1024), (32, 2048)]:
    q, k, v, do = (torch.randn(1, bh, seq, 64, device="cuda", requires_grad=True) for _ in range(4))
    def step():
        o = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        o.backward(do)
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(7):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        step()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    ms = sorted(times)[len(times) // 2]
    flops = 3.5 * 4 * bh * seq * seq * 64 / 2
    print(json.dumps({"bench": "attention fwd+bwd", "shape": [bh, seq, 64], "impl": "torch-sdpa-fp32", "median_ms": ms,
                      "gflops": flops / ms / 1e6}))
