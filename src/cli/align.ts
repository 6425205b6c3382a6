// `stable-animator align train|eval`: the learnable pose-alignment block's training and evaluation.

import { alignEval } from './align-eval.ts';
import { alignTrain } from './align-train.ts';
import type { Command } from './main.ts';

const SUBCOMMANDS: Record<string, Command> = { train: alignTrain, eval: alignEval };

export const alignCommand: Command = {
  summary: 'pose alignment: train the learnable block, evaluate it (MisAlign)',
  usage: Object.values(SUBCOMMANDS).map((c) => c.usage).join('\n\n'),
  async run(args) {
    const [sub, ...rest] = args;
    const cmd = sub !== undefined ? SUBCOMMANDS[sub] : undefined;
    if (!cmd) throw new Error(`expected a subcommand: ${Object.keys(SUBCOMMANDS).join(' | ')}${sub ? ` (got '${sub}')` : ''}`);
    return cmd.run(rest);
  },
};
