# The Python side of `npm run bench -- svd`: the SVD-xt UNet forward in PyTorch eager, written the way
# diffusers 0.31 computes it on PyTorch 1.13 (module names as in the checkpoints, the AttnProcessor path
# with baddbmm + softmax since 1.13 has no scaled_dot_product_attention, the temporal cross-attention
# context broadcast to every spatial position, GEGLU feed-forwards). diffusers itself cannot be installed
# here (no PyPI); `--check DIR` proves this file computes what diffusers computes by matching the
# reference's own output on a fixture (config.json, weights/inputs/output.safetensors).
#   python3 bench/svd_unet_torch.py --threads 2 --dtype f32 [--frames 14 --size 32]
#   python3 bench/svd_unet_torch.py --check ../shared/fixtures/unet_svd_tiny
import argparse, json, math, resource, struct, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SVD_XT = {
    'in_channels': 8, 'out_channels': 4, 'block_out_channels': [320, 640, 1280, 1280],
    'down_block_types': ['CrossAttnDownBlockSpatioTemporal'] * 3 + ['DownBlockSpatioTemporal'],
    'up_block_types': ['UpBlockSpatioTemporal'] + ['CrossAttnUpBlockSpatioTemporal'] * 3,
    'addition_time_embed_dim': 256, 'projection_class_embeddings_input_dim': 768, 'layers_per_block': 2,
    'cross_attention_dim': 1024, 'transformer_layers_per_block': 1, 'num_attention_heads': [5, 10, 20, 20],
}


def timestep_embedding(t, dim):  # flip_sin_to_cos=True, downscale_freq_shift=0
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / half
    args = t[:, None].float() * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim, out=None):
        super().__init__()
        self.linear_1, self.act, self.linear_2 = nn.Linear(cin, dim), nn.SiLU(), nn.Linear(dim, out or dim)

    def forward(self, x):
        return self.linear_2(self.act(self.linear_1(x)))


class Attention(nn.Module):
    def __init__(self, query_dim, heads, dim_head, cross_dim=None):
        super().__init__()
        inner = heads * dim_head
        self.heads, self.scale = heads, dim_head ** -0.5
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(cross_dim or query_dim, inner, bias=False)
        self.to_v = nn.Linear(cross_dim or query_dim, inner, bias=False)
        self.to_out = nn.ModuleList([nn.Linear(inner, query_dim), nn.Dropout(0.0)])

    def head_to_batch(self, x):
        b, n, d = x.shape
        return x.reshape(b, n, self.heads, d // self.heads).permute(0, 2, 1, 3).reshape(b * self.heads, n, d // self.heads)

    def forward(self, x, context=None):
        context = x if context is None else context
        q, k, v = self.head_to_batch(self.to_q(x)), self.head_to_batch(self.to_k(context)), self.head_to_batch(self.to_v(context))
        # diffusers passes torch.empty with beta=0; libtorch 1.13's small-matrix baddbmm kernel still multiplies the
        # uninitialised result by 0, so garbage NaN/Inf bits leak through (seen once in CI on the tiny fixture).
        # A broadcast zero with beta=1 gives the same scores for one extra write pass over them.
        scores = torch.baddbmm(torch.zeros(1, 1, 1, dtype=q.dtype), q, k.transpose(-1, -2), beta=1, alpha=self.scale)
        out = torch.bmm(scores.softmax(dim=-1).to(q.dtype), v)
        bh, n, d = out.shape
        out = out.reshape(bh // self.heads, self.heads, n, d).permute(0, 2, 1, 3).reshape(bh // self.heads, n, d * self.heads)
        return self.to_out[1](self.to_out[0](out))


class GEGLU(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.proj = nn.Linear(cin, cout * 2)

    def forward(self, x):
        h, gate = self.proj(x).chunk(2, dim=-1)
        return h * F.gelu(gate)


class FeedForward(nn.Module):
    def __init__(self, dim, dim_out=None):
        super().__init__()
        self.net = nn.ModuleList([GEGLU(dim, dim * 4), nn.Dropout(0.0), nn.Linear(dim * 4, dim_out or dim)])

    def forward(self, x):
        for layer in self.net:
            x = layer(x)
        return x


class BasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, dim_head, cross):
        super().__init__()
        self.norm1, self.attn1 = nn.LayerNorm(dim), Attention(dim, heads, dim_head)
        self.norm2, self.attn2 = nn.LayerNorm(dim), Attention(dim, heads, dim_head, cross)
        self.norm3, self.ff = nn.LayerNorm(dim), FeedForward(dim)

    def forward(self, x, context):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class TemporalBasicTransformerBlock(nn.Module):
    def __init__(self, dim, heads, dim_head, cross):
        super().__init__()
        self.norm_in, self.ff_in = nn.LayerNorm(dim), FeedForward(dim, dim)
        self.norm1, self.attn1 = nn.LayerNorm(dim), Attention(dim, heads, dim_head)
        self.norm2, self.attn2 = nn.LayerNorm(dim), Attention(dim, heads, dim_head, cross)
        self.norm3, self.ff = nn.LayerNorm(dim), FeedForward(dim)

    def forward(self, x, num_frames, context):
        bf, s, c = x.shape
        b = bf // num_frames
        x = x[None, :].reshape(b, num_frames, s, c).permute(0, 2, 1, 3).reshape(b * s, num_frames, c)
        x = self.ff_in(self.norm_in(x)) + x
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        x = self.ff(self.norm3(x)) + x
        return x[None, :].reshape(b, s, num_frames, c).permute(0, 2, 1, 3).reshape(b * num_frames, s, c)


class AlphaBlender(nn.Module):  # 'learned_with_images' with an all-zero image_only_indicator
    def __init__(self):
        super().__init__()
        self.mix_factor = nn.Parameter(torch.tensor([0.5]))

    def forward(self, spatial, temporal, indicator):
        alpha = torch.where(indicator.bool(), torch.ones(1, 1, dtype=spatial.dtype), torch.sigmoid(self.mix_factor)[..., None])
        alpha = alpha.reshape(indicator.shape[0], -1)[:, None, :, None, None] if spatial.ndim == 5 else alpha.reshape(-1)[:, None, None]
        return (alpha * spatial + (1.0 - alpha) * temporal).to(spatial.dtype)


class TransformerSpatioTemporalModel(nn.Module):
    def __init__(self, heads, dim_head, cin, cross):
        super().__init__()
        inner = heads * dim_head
        self.norm, self.proj_in = nn.GroupNorm(32, cin, eps=1e-6), nn.Linear(cin, inner)
        self.transformer_blocks = nn.ModuleList([BasicTransformerBlock(inner, heads, dim_head, cross)])
        self.temporal_transformer_blocks = nn.ModuleList([TemporalBasicTransformerBlock(inner, heads, dim_head, cross)])
        self.time_pos_embed, self.time_mixer = TimestepEmbedding(cin, cin * 4, cin), AlphaBlender()
        self.proj_out = nn.Linear(inner, cin)
        self.cin = cin

    def forward(self, x, context, indicator):
        bf, _, h, w = x.shape
        f = indicator.shape[-1]
        b = bf // f
        time_context = context[None, :].reshape(b, f, -1, context.shape[-1])[:, 0]
        time_context = time_context[:, None].broadcast_to(b, h * w, time_context.shape[-2], time_context.shape[-1]).reshape(b * h * w, -1, context.shape[-1])
        residual = x
        x = self.norm(x)
        x = self.proj_in(x.permute(0, 2, 3, 1).reshape(bf, h * w, x.shape[1]))
        emb = self.time_pos_embed(timestep_embedding(torch.arange(f).repeat(b, 1).reshape(-1), self.cin).to(x.dtype))[:, None, :]
        for block, temporal in zip(self.transformer_blocks, self.temporal_transformer_blocks):
            x = block(x, context)
            x = self.time_mixer(x, temporal(x + emb, f, time_context), indicator)
        x = self.proj_out(x).reshape(bf, h, w, -1).permute(0, 3, 1, 2).contiguous()
        return x + residual


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, eps):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(32, cin, eps=eps), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2, self.dropout, self.conv2 = nn.GroupNorm(32, cout, eps=eps), nn.Dropout(0.0), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return (self.conv_shortcut(x) if self.conv_shortcut is not None else x) + h


class TemporalResnetBlock(nn.Module):
    def __init__(self, c, temb, eps):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(32, c, eps=eps), nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0))
        self.time_emb_proj = nn.Linear(temb, c)
        self.norm2, self.dropout, self.conv2 = nn.GroupNorm(32, c, eps=eps), nn.Dropout(0.0), nn.Conv3d(c, c, (3, 1, 1), padding=(1, 0, 0))

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time_emb_proj(F.silu(temb))[:, :, :, None, None].permute(0, 2, 1, 3, 4)
        h = self.conv2(self.dropout(F.silu(self.norm2(h))))
        return x + h


class SpatioTemporalResBlock(nn.Module):
    def __init__(self, cin, cout, temb, eps):
        super().__init__()
        self.spatial_res_block = ResnetBlock2D(cin, cout, temb, eps)
        self.temporal_res_block = TemporalResnetBlock(cout, temb, eps)
        self.time_mixer = AlphaBlender()

    def forward(self, x, temb, indicator):
        f = indicator.shape[-1]
        x = self.spatial_res_block(x, temb)
        bf, c, h, w = x.shape
        b = bf // f
        mix = x[None, :].reshape(b, f, c, h, w).permute(0, 2, 1, 3, 4)
        x = self.temporal_res_block(mix, temb.reshape(b, f, -1))
        x = self.time_mixer(mix, x, indicator)
        return x.permute(0, 2, 1, 3, 4).reshape(bf, c, h, w)


class Sampler(nn.Module):  # Downsample2D / Upsample2D with use_conv (module `conv`)
    def __init__(self, c, up):
        super().__init__()
        self.conv, self.up = nn.Conv2d(c, c, 3, stride=1 if up else 2, padding=1), up

    def forward(self, x):
        if self.up:  # diffusers upsamples bf16 through f32
            x = F.interpolate(x.float() if x.dtype == torch.bfloat16 else x, scale_factor=2.0, mode='nearest').to(x.dtype)
        return self.conv(x)


class Block(nn.Module):  # the four down/up block types: resnets [+ attentions] [+ samplers]
    def __init__(self, cins, cout, temb, eps, heads, cross, sampler):
        super().__init__()
        self.resnets = nn.ModuleList([SpatioTemporalResBlock(cin, cout, temb, eps) for cin in cins])
        if heads:
            self.attentions = nn.ModuleList([TransformerSpatioTemporalModel(heads, cout // heads, cout, cross) for _ in cins])
        if sampler:
            setattr(self, sampler, nn.ModuleList([Sampler(cout, sampler == 'upsamplers')]))

    def forward(self, x, temb, context, indicator, skips=None):
        states = []
        for i, resnet in enumerate(self.resnets):
            if skips is not None:
                x = torch.cat([x, skips.pop()], dim=1)
            x = resnet(x, temb, indicator)
            if hasattr(self, 'attentions'):
                x = self.attentions[i](x, context, indicator)
            states.append(x)
        for s in getattr(self, 'downsamplers', []):
            x = s(x)
            states.append(x)
        for s in getattr(self, 'upsamplers', []):
            x = s(x)
        return x, states


class MidBlock(nn.Module):
    def __init__(self, c, temb, heads, cross):
        super().__init__()
        self.attentions = nn.ModuleList([TransformerSpatioTemporalModel(heads, c // heads, c, cross)])
        self.resnets = nn.ModuleList([SpatioTemporalResBlock(c, c, temb, 1e-5) for _ in range(2)])

    def forward(self, x, temb, context, indicator):
        x = self.resnets[0](x, temb, indicator)
        return self.resnets[1](self.attentions[0](x, context, indicator), temb, indicator)


class UNetSpatioTemporalConditionModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        boc, n = cfg['block_out_channels'], len(cfg['block_out_channels'])
        per = lambda v: v if isinstance(v, list) else [v] * n
        heads, layers = per(cfg['num_attention_heads']), per(cfg['layers_per_block'])
        cross, temb = cfg['cross_attention_dim'], boc[0] * 4
        self.conv_in = nn.Conv2d(cfg['in_channels'], boc[0], 3, padding=1)
        self.time_embedding = TimestepEmbedding(boc[0], temb)
        self.add_embedding = TimestepEmbedding(cfg['projection_class_embeddings_input_dim'], temb)
        self.down_blocks = nn.ModuleList()
        for i, kind in enumerate(cfg['down_block_types']):
            cin, attn = boc[max(i - 1, 0)], kind.startswith('CrossAttn')
            self.down_blocks.append(Block([cin] + [boc[i]] * (layers[i] - 1), boc[i], temb, 1e-6 if attn else 1e-5,
                                          heads[i] if attn else 0, cross, 'downsamplers' if i < n - 1 else None))
        self.mid_block = MidBlock(boc[-1], temb, heads[-1], cross)
        self.up_blocks = nn.ModuleList()
        rboc, rheads, rlayers = boc[::-1], heads[::-1], layers[::-1]
        for i, kind in enumerate(cfg['up_block_types']):
            prev, cin, cout, k = rboc[max(i - 1, 0)], rboc[min(i + 1, n - 1)], rboc[i], rlayers[i] + 1
            cins = [(prev if j == 0 else cout) + (cin if j == k - 1 else cout) for j in range(k)]
            self.up_blocks.append(Block(cins, cout, temb, 1e-6, rheads[i] if kind.startswith('CrossAttn') else 0, cross,
                                        'upsamplers' if i < n - 1 else None))
        self.conv_norm_out, self.conv_out = nn.GroupNorm(32, boc[0], eps=1e-5), nn.Conv2d(boc[0], cfg['out_channels'], 3, padding=1)
        self.boc0, self.add_dim = boc[0], cfg['addition_time_embed_dim']

    def forward(self, sample, timestep, context, added_time_ids):
        b, f = sample.shape[:2]
        emb = self.time_embedding(timestep_embedding(timestep.expand(b), self.boc0).to(sample.dtype))
        emb = emb + self.add_embedding(timestep_embedding(added_time_ids.flatten(), self.add_dim).reshape(b, -1).to(emb.dtype))
        emb, context = emb.repeat_interleave(f, dim=0), context.repeat_interleave(f, dim=0)
        indicator = torch.zeros(b, f, dtype=sample.dtype)
        x = self.conv_in(sample.flatten(0, 1))
        skips = [x]
        for block in self.down_blocks:
            x, states = block(x, emb, context, indicator)
            skips += states
        x = self.mid_block(x, emb, context, indicator)
        for block in self.up_blocks:
            x, _ = block(x, emb, context, indicator, skips)
        x = self.conv_out(F.silu(self.conv_norm_out(x)))
        return x.reshape(b, f, *x.shape[1:])


def read_safetensors(path):
    with open(path, 'rb') as fh:
        n = struct.unpack('<Q', fh.read(8))[0]
        header, data = json.loads(fh.read(n)), fh.read()
    dtypes = {'F32': np.float32, 'F16': np.float16, 'I64': np.int64}
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        if v['dtype'] not in dtypes:
            sys.exit(f"{path}: tensor {k} has dtype {v['dtype']}, expected one of {', '.join(dtypes)}")
        raw = data[v['data_offsets'][0]:v['data_offsets'][1]]
        out[k] = torch.from_numpy(np.frombuffer(raw, dtype=dtypes[v['dtype']]).reshape(v['shape']).copy())
    return out


def check(folder):
    cfg = json.load(open(f'{folder}/config.json'))
    model = UNetSpatioTemporalConditionModel(cfg).eval()
    state = read_safetensors(f'{folder}/weights.safetensors')
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        sys.exit(f'{folder}: state dict mismatch: missing {missing[:5]}, unexpected {unexpected[:5]}')
    i = read_safetensors(f'{folder}/inputs.safetensors')
    ref = read_safetensors(f'{folder}/output.safetensors')['sample']
    with torch.no_grad():
        out = model(i['sample'], i['timestep'], i['encoder_hidden_states'], i['added_time_ids'])
    err = (out - ref).abs().max().item() / ref.abs().max().item()
    print(json.dumps({'fixture': folder, 'parameters': sum(p.numel() for p in model.parameters()), 'max_rel_err': err}))
    sys.exit(0 if err <= 1e-4 else 1)


def bench(threads, dtype, frames, size):
    torch.set_num_threads(threads)
    dt = {'f32': torch.float32, 'bf16': torch.bfloat16}[dtype]
    torch.manual_seed(0)
    model = UNetSpatioTemporalConditionModel(SVD_XT).eval().to(dt)  # default (random) PyTorch init, as from_config
    g = torch.Generator().manual_seed(1)
    sample = torch.randn(1, frames, 8, size, size, generator=g).to(dt)
    context = torch.randn(1, 1, 1024, generator=g).to(dt)
    ids, t = torch.tensor([[6.0, 127.0, 0.02]]).to(dt), torch.tensor([0.25 * math.log(10)])
    times = []
    with torch.no_grad():
        for _ in range(2):  # the first is the warm-up, as on our side
            t0 = time.perf_counter()
            model(sample, t, context, ids)
            times.append(time.perf_counter() - t0)
    print(json.dumps({'name': f'unet_{dtype}', 'seconds': times[-1], 'warmup_seconds': times[0], 'threads': threads,
                      'torch': torch.__version__, 'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == '__main__':
    p = argparse.ArgumentParser()
    p.add_argument('--check')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--dtype', default='f32')
    p.add_argument('--frames', type=int, default=14)
    p.add_argument('--size', type=int, default=32)
    a = p.parse_args()
    check(a.check) if a.check else bench(a.threads, a.dtype, a.frames, a.size)
