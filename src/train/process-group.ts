// This process's place in a data-parallel run started by the launcher (launch.ts sets RANK, WORLD_SIZE,
// MASTER_ADDR and MASTER_PORT): the process group (gloo on CPU, NCCL on CUDA) as the trainer's DataParallel;
// undefined when the process was not started as a rank.
import * as torch from '../torch/index.ts';
import type { DataParallel } from './animator/trainer.ts';

/** Joins the process group of the environment's run; undefined outside one. */
export async function processGroup(device: string): Promise<DataParallel | undefined> {
  const dist = await import('../torch/distributed.ts');
  const env = dist.fromEnv({ backend: device.startsWith('cuda') ? 'nccl' : 'gloo' });
  if (!env) return undefined;
  dist.initProcessGroup(env);
  return {
    rank: env.rank,
    worldSize: env.worldSize,
    allReduceGradients: (params) => dist.allReduceGradients(params),
    broadcastParameters: (params) => dist.broadcastParameters(params),
    averageScalars: (values) => torch.scope(() => Array.from(dist.allReduce(torch.tensor(Float64Array.from(values)), 'avg').data<'f64'>())),
  };
}
