// ArcFace iResNet (insightface arcface_torch `backbones/iresnet.py`, as copied into StableAnimator
// `animation/helper/backbones/`): the face-identity embedder of the HJB face optimisation
// (`glintr100_torch.pth` = iresnet100). Input: aligned 112x112 RGB faces in [-1, 1]; output: the
// raw, un-normalised embedding. Channel widths are configurable so a width-reduced copy loads too.
import * as torch from '../../torch/index.ts';
import type { Tensor } from '../../torch/index.ts';
import * as nn from '../../nn/index.ts';
import { headerDim, readCheckpointHeader } from '../../torch/serialization/index.ts';
import { readStateDict, type CheckpointOptions } from '../checkpoint.ts';
import { knownFields, snakeCaseKeys } from '../config.ts';

/** arcface_torch builds every BatchNorm with eps 1e-5. */
const BN_EPS = 1e-5;

const conv3x3 = (cin: number, cout: number, stride = 1) => new nn.Conv2d(cin, cout, 3, { stride, padding: 1, bias: false });

/** Pre-activation residual block: BN -> conv3x3 -> BN -> PReLU -> conv3x3(stride) -> BN, plus the (downsampled) input. */
export class IBasicBlock extends nn.Module {
  bn1: nn.BatchNorm;
  conv1: nn.Conv2d;
  bn2: nn.BatchNorm;
  prelu: nn.PReLU;
  conv2: nn.Conv2d;
  bn3: nn.BatchNorm;
  /** conv1x1(stride) + BN when the shape changes. */
  downsample?: nn.Sequential;

  constructor(inplanes: number, planes: number, stride = 1) {
    super();
    this.bn1 = new nn.BatchNorm(inplanes, BN_EPS);
    this.conv1 = conv3x3(inplanes, planes);
    this.bn2 = new nn.BatchNorm(planes, BN_EPS);
    this.prelu = new nn.PReLU(planes);
    this.conv2 = conv3x3(planes, planes, stride);
    this.bn3 = new nn.BatchNorm(planes, BN_EPS);
    if (stride !== 1 || inplanes !== planes) {
      this.downsample = new nn.Sequential([new nn.Conv2d(inplanes, planes, 1, { stride, bias: false }), new nn.BatchNorm(planes, BN_EPS)]);
    }
  }

  forward(x: Tensor): Tensor {
    return torch.scope(() => {
      let out = this.bn1.forward(x);
      out = this.conv1.forward(out);
      out = this.prelu.forward(this.bn2.forward(out));
      out = this.bn3.forward(this.conv2.forward(out));
      return out.add(this.downsample ? this.downsample.forward(x) : x);
    });
  }
}

/** arcface_torch's `IResNet` arguments (layers, dropout, num_features) plus the widths and input side we make configurable. */
export interface IResNetConfig {
  /** Blocks per stage; iresnet100 = [3, 13, 30, 3]. */
  layers: [number, number, number, number];
  /** Embedding width (512). */
  num_features: number;
  /** Stem width (64). */
  stem_width: number;
  /** Stage widths (64, 128, 256, 512); each stage halves the resolution. */
  widths: [number, number, number, number];
  /** Dropout before fc (0 in arcface_torch; inactive in eval anyway). */
  dropout: number;
  /** Input side (112); the final map is side/16 square and fc reads it flattened. */
  input_size: number;
}

export const IRESNET100: IResNetConfig = {
  layers: [3, 13, 30, 3], num_features: 512, stem_width: 64, widths: [64, 128, 256, 512], dropout: 0, input_size: 112,
};

export class IResNet extends nn.Module {
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm;
  prelu: nn.PReLU;
  layer1: nn.Sequential;
  layer2: nn.Sequential;
  layer3: nn.Sequential;
  layer4: nn.Sequential;
  bn2: nn.BatchNorm;
  dropout: nn.Dropout;
  fc: nn.Linear;
  /** BatchNorm1d on the embedding; its weight is fixed at 1 in training (not learned). */
  features: nn.BatchNorm;
  readonly config: IResNetConfig;

  constructor(config: Partial<IResNetConfig> = {}) {
    super();
    const c = (this.config = { ...IRESNET100, ...config });
    this.conv1 = conv3x3(3, c.stem_width);
    this.bn1 = new nn.BatchNorm(c.stem_width, BN_EPS);
    this.prelu = new nn.PReLU(c.stem_width);
    let inplanes = c.stem_width;
    const stage = (planes: number, blocks: number) => {
      const list = [new IBasicBlock(inplanes, planes, 2)];
      inplanes = planes;
      for (let i = 1; i < blocks; i++) list.push(new IBasicBlock(planes, planes));
      return new nn.Sequential(list);
    };
    this.layer1 = stage(c.widths[0], c.layers[0]);
    this.layer2 = stage(c.widths[1], c.layers[1]);
    this.layer3 = stage(c.widths[2], c.layers[2]);
    this.layer4 = stage(c.widths[3], c.layers[3]);
    this.bn2 = new nn.BatchNorm(c.widths[3], BN_EPS);
    this.dropout = new nn.Dropout(c.dropout);
    const side = c.input_size / 16;
    this.fc = new nn.Linear(c.widths[3] * side * side, c.num_features);
    this.features = new nn.BatchNorm(c.num_features, BN_EPS);
    this.features.weight.requiresGrad_(false);
  }

  /** faces: [B, 3, 112, 112] RGB in [-1, 1] ((x/255 − 0.5)/0.5) -> [B, num_features], un-normalised. */
  forward(faces: Tensor): Tensor {
    const side = this.config.input_size;
    if (faces.ndim !== 4 || faces.size(1) !== 3 || faces.size(2) !== side || faces.size(3) !== side) {
      throw new Error(`IResNet: expected faces [B,3,${side},${side}], got [${faces.shape}]`);
    }
    return torch.scope(() => {
      let x = this.prelu.forward(this.bn1.forward(this.conv1.forward(faces)));
      x = this.layer4.forward(this.layer3.forward(this.layer2.forward(this.layer1.forward(x))));
      x = this.dropout.forward(this.bn2.forward(x).flatten(1));
      return this.features.forward(this.fc.forward(x));
    });
  }

  /**
   * Adopts a state dict strictly (shapes and names must match), with `assign` semantics. BatchNorm's
   * `num_batches_tracked` counters are unused in eval, and checkpoints may omit them: missing ones are
   * filled with 0. Leaves the model in eval mode with every parameter frozen (it is only an embedder).
   */
  loadWeights(state: Map<string, Tensor>, source?: string): this {
    const full = new Map(state);
    for (const [key, t] of this.stateDict()) {
      if (key.endsWith('.num_batches_tracked') && !full.has(key)) full.set(key, torch.zeros([], t.dtype));
    }
    this.loadStateDict(full, { strict: true, assign: true, source });
    return this.eval().requiresGrad_(false);
  }

  /** Depth and widths from a state dict (iresnet100: [3, 13, 30, 3], widths 64..512, 512 features, 112 px). */
  static configFromHeader(header: Map<string, { shape: number[] }>, file = 'arcface'): Partial<IResNetConfig> {
    const blocks = (stage: number) => new Set([...header.keys()].map((k) => new RegExp(`^layer${stage}\\.(\\d+)\\.`).exec(k)?.[1]).filter((x) => x !== undefined)).size;
    const layers = [1, 2, 3, 4].map(blocks) as [number, number, number, number];
    const widths = [1, 2, 3, 4].map((s) => headerDim(header, `layer${s}.0.conv1.weight`, 0, file)) as [number, number, number, number];
    const side = Math.round(Math.sqrt(headerDim(header, 'fc.weight', 1, file) / widths[3]));
    return { layers, widths, stem_width: headerDim(header, 'conv1.weight', 0, file), num_features: headerDim(header, 'fc.weight', 0, file), input_size: side * 16 };
  }

  /**
   * From a config.json object (unknown fields such as _class_name ignored). The camelCase keys that face-ID
   * configs had before the snake_case convention (`numFeatures`, as in weights/faceid/config.json) are read too.
   */
  static fromConfig(json: Record<string, unknown>): IResNet {
    return new IResNet(knownFields(snakeCaseKeys(json), IRESNET100));
  }

  /**
   * Loads `glintr100_torch.pth` (or the miniature's face_id.safetensors): built on 'meta' at the depth and
   * widths its header gives (or `config`), strict, eval, frozen.
   */
  static fromPretrained(path: string, opts: CheckpointOptions & { config?: Partial<IResNetConfig> } = {}): IResNet {
    const config = opts.config ?? IResNet.configFromHeader(readCheckpointHeader(path), path);
    const model = nn.withInit({ device: 'meta' }, () => IResNet.fromConfig({ ...config }));
    return model.loadWeights(readStateDict(path, opts), path);
  }
}

/** arcface_torch `iresnet100` (glintr100): layers [3, 13, 30, 3], 512 features. */
export function iresnet100(): IResNet {
  return new IResNet(IRESNET100);
}
