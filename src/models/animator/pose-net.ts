// PoseNet: encodes a rendered pose image into a 320-channel feature map at the latent resolution
// (stride 8), which the UNet adds to its conv_in output. StableAnimator's (and MimicMotion's)
// `animation/modules/pose_net.py`; state-dict keys as in `pose_net.pth`.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { headerDim, readCheckpointHeader } from '../../torch/serialization/index.ts';
import { loadCheckpointInto, type CheckpointOptions } from '../checkpoint.ts';

/** [in, out, kernel, stride] of the eight hidden convs (padding 1 each), SiLU after every one. */
const HIDDEN: [number, number, number, number][] = [
  [3, 3, 3, 1], [3, 16, 4, 2], [16, 16, 3, 1], [16, 32, 4, 2],
  [32, 32, 3, 1], [32, 64, 4, 2], [64, 64, 3, 1], [64, 128, 3, 1],
];

function replaceInit(conv: nn.Conv2d, weight: Tensor, bias: Tensor): void {
  conv.weight.dispose();
  conv.bias?.dispose();
  conv.weight = nn.parameter(weight);
  conv.bias = nn.parameter(bias);
}

export class PoseNet extends nn.Module {
  /** Learned output gain, 2 at initialisation. Declared first: PyTorch lists a module's own parameters before its children's. */
  scale: Tensor;
  /** Conv, SiLU, Conv, SiLU, ...: convs at even indices 0..14. */
  conv_layers: nn.Sequential;
  /** 1x1 conv to the UNet's first block width; zero at initialisation so a fresh PoseNet adds nothing. */
  final_proj: nn.Conv2d;

  constructor(readonly noiseLatentChannels = 320) {
    super();
    this.scale = nn.parameter(nn.init.constant([1], 2));
    const layers: nn.Layer[] = [];
    for (const [cin, cout, k, stride] of HIDDEN) {
      const conv = new nn.Conv2d(cin, cout, k, { stride, padding: 1 });
      // He init: N(0, sqrt(2 / (k*k*C_in))), bias 0.
      replaceInit(conv, nn.init.normal(conv.weight.shape, Math.sqrt(2 / (k * k * cin))), nn.init.constant([cout], 0));
      layers.push(conv, new nn.SiLU());
    }
    this.conv_layers = new nn.Sequential(layers);
    this.final_proj = new nn.Conv2d(128, noiseLatentChannels, 1);
    replaceInit(this.final_proj, nn.init.constant(this.final_proj.weight.shape, 0), nn.init.constant([noiseLatentChannels], 0));
  }

  /**
   * pose: [F, 3, H, W] (or [B, F, 3, H, W], flattened to B·F frames) in [-1, 1]
   * -> [F (or B·F), noiseLatentChannels, H/8, W/8].
   */
  forward(pose: Tensor): Tensor {
    return torch.scope(() => {
      const x = pose.ndim === 5 ? pose.flatten(0, 1) : pose;
      if (x.ndim !== 4 || x.size(1) !== 3) throw new Error(`PoseNet: expected [F,3,H,W] or [B,F,3,H,W], got [${pose.shape}]`);
      return this.final_proj.forward(this.conv_layers.forward(x)).mul(this.scale);
    });
  }

  /**
   * Pose images [..., 3, H, W] at the size this net maps onto a latent of latentH x latentW: 8x the latent. With
   * SVD's VAE (latent = 1/8 of the frame) they pass unchanged; a VAE of another factor (the miniature's, 1/4) gets
   * them resized by nearest neighbour (integer factors repeat pixels), so the released structure stays as it is.
   */
  static inputAt(poses: Tensor, latentH: number, latentW: number): Tensor {
    const [h, w] = poses.shape.slice(-2);
    if (h === latentH * 8 && w === latentW * 8) return poses;
    return torch.scope(() => {
      const lead = poses.shape.slice(0, -3);
      const flat = poses.reshape([-1, 3, h, w]);
      return torch.interpolateNearest(flat, [latentH * 8, latentW * 8]).reshape([...lead, 3, latentH * 8, latentW * 8]);
    });
  }

  /** Output channels (the UNet's first block width) from a state dict: 320 in the released file. */
  static channelsFromHeader(header: Map<string, { shape: number[] }>, file = 'pose net'): number {
    return headerDim(header, 'final_proj.weight', 0, file);
  }

  /**
   * Loads `pose_net.pth` (or a .safetensors with its keys): built on 'meta' with the output channels its header
   * gives (or `noiseLatentChannels`), loaded strictly, eval mode.
   */
  static fromPretrained(path: string, opts: CheckpointOptions & { noiseLatentChannels?: number } = {}): PoseNet {
    const channels = opts.noiseLatentChannels ?? PoseNet.channelsFromHeader(readCheckpointHeader(path), path);
    const model = nn.withInit({ device: 'meta' }, () => new PoseNet(channels));
    return loadCheckpointInto(model, path, opts);
  }
}
