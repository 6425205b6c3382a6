// A thin layer over onnxruntime-node: open a model file with a clear error, read its input/output names and
// shapes, and run it on float32 buffers.

import { access } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';

export interface OnnxValueInfo {
  name: string;
  /** Dimensions; a symbolic or unknown dimension is -1. */
  shape: number[];
  type: string;
}

export interface OnnxOutput {
  data: Float32Array;
  dims: number[];
}

export interface OnnxSessionOptions {
  /** Threads for one operator (default: onnxruntime's choice). */
  intraOpThreads?: number;
}

export class OnnxSession {
  private constructor(private readonly session: ort.InferenceSession, readonly path: string) {}

  static async open(path: string, options: OnnxSessionOptions = {}): Promise<OnnxSession> {
    try {
      await access(path);
    } catch {
      throw new Error(`cannot open ONNX model ${path}: file not found`);
    }
    try {
      const session = await ort.InferenceSession.create(path, {
        executionProviders: ['cpu'],
        ...(options.intraOpThreads ? { intraOpNumThreads: options.intraOpThreads } : {}),
      });
      return new OnnxSession(session, path);
    } catch (err) {
      throw new Error(`cannot open ONNX model ${path}: ${(err as Error).message}`);
    }
  }

  private info(meta: readonly ort.InferenceSession.ValueMetadata[]): OnnxValueInfo[] {
    return meta.map((m) => ({
      name: m.name,
      shape: m.isTensor ? m.shape.map((d) => (typeof d === 'number' ? d : -1)) : [],
      type: m.isTensor ? m.type : 'non-tensor',
    }));
  }

  get inputs(): OnnxValueInfo[] {
    return this.info(this.session.inputMetadata);
  }

  get outputs(): OnnxValueInfo[] {
    return this.info(this.session.outputMetadata);
  }

  /** Runs the model with float32 inputs (by name, or the first input when one buffer is given). */
  async run(feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, OnnxOutput>> {
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, v] of Object.entries(feeds)) tensors[name] = new ort.Tensor('float32', v.data, v.dims);
    let results: ort.InferenceSession.OnnxValueMapType;
    try {
      results = await this.session.run(tensors);
    } catch (err) {
      const given = Object.entries(feeds).map(([n, v]) => `${n}[${v.dims}]`).join(', ');
      throw new Error(`${this.path}: inference failed for ${given}: ${(err as Error).message}`);
    }
    const out: Record<string, OnnxOutput> = {};
    for (const name of this.session.outputNames) {
      const t = results[name] as ort.Tensor;
      if (t.type !== 'float32') throw new Error(`${this.path}: output ${name} is ${t.type}, expected float32`);
      out[name] = { data: t.data as Float32Array, dims: t.dims.slice() };
    }
    return out;
  }

  /** Runs with one float32 input, the model's first. */
  async runSingle(data: Float32Array, dims: number[]): Promise<OnnxOutput[]> {
    const out = await this.run({ [this.session.inputNames[0]]: { data, dims } });
    return this.session.outputNames.map((n) => out[n]);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
