// Learning-rate schedules as pure functions of the step (so a resumed run gets the same rate).
export type LrSchedule = (step: number) => number;

export function constantWithWarmup(lr: number, warmupSteps = 0): LrSchedule {
  return (step) => (warmupSteps > 0 && step < warmupSteps ? (lr * (step + 1)) / warmupSteps : lr);
}

export function cosineWithWarmup(lr: number, totalSteps: number, opts: { warmupSteps?: number; minLr?: number } = {}): LrSchedule {
  const warm = opts.warmupSteps ?? 0;
  const minLr = opts.minLr ?? 0;
  return (step) => {
    if (step < warm) return (lr * (step + 1)) / warm;
    const t = Math.min(1, (step - warm) / Math.max(1, totalSteps - warm));
    return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t));
  };
}
