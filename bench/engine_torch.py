# The Python PyTorch side of `npm run bench -- engine`: the same ops on the same libtorch.
import json, sys, time
import torch

quick = '--quick' in sys.argv
torch.set_num_threads(int(sys.argv[1]))
dtypes = sys.argv[2].split(',')
reps = 2 if quick else 10

def time_ms(fn, reps, warmup=1):
    for _ in range(warmup): fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); ts.append((time.perf_counter() - t0) * 1000)
    ts.sort(); return ts[len(ts) // 2]

def attention(q, k, v):
    s = torch.matmul(q * (q.shape[-1] ** -0.5), k.transpose(-1, -2))
    p = s.softmax(-1) if s.dtype == torch.float32 else s.softmax(-1, dtype=torch.float32).to(v.dtype)
    return torch.matmul(p, v)

g = torch.Generator().manual_seed(0)
out = {}
for name in dtypes:
    dt = {'f32': torch.float32, 'bf16': torch.bfloat16}[name]
    x = torch.randn(2, 320, 64, 64, generator=g).to(dt); w = torch.randn(320, 320, 3, 3, generator=g).mul(0.02).to(dt)
    a = torch.randn(2048, 2048, generator=g).to(dt); b = torch.randn(2048, 2048, generator=g).to(dt)
    q, k, v = [torch.randn(16, 5, 1024, 64, generator=g).to(dt) for _ in range(3)]
    cases = {
        'conv2d': (lambda: torch.conv2d(x, w, None, 1, 1), [x, w]),
        'matmul': (lambda: torch.matmul(a, b), [a, b]),
        'attention': (lambda: attention(q, k, v), [q, k, v]),
    }
    for op, (f, ins) in cases.items():
        r = 1 if quick else 3 if op == 'attention' else reps
        with torch.no_grad():
            out[f'{op}_fwd_{name}'] = time_ms(f, r)
        def fb():
            for t in ins: t.requires_grad_(True); t.grad = None
            f().sum().backward()
        out[f'{op}_fwdbwd_{name}'] = time_ms(fb, r)
        for t in ins: t.requires_grad_(False); t.grad = None

s1 = torch.ones(1); s2 = torch.ones(1)
n = 20000 if quick else 100000
def tiny():
    for _ in range(n): torch.add(s1, s2)
out['overhead_add_us'] = time_ms(tiny, 3) * 1000 / n
def tiny_method():
    for _ in range(n): s1.mul(2)
out['overhead_mul_scalar_us'] = time_ms(tiny_method, 3) * 1000 / n
print(json.dumps(out))
