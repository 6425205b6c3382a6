// `stable-animator <command>`: each command lives in its own file and registers here.
import { readFileSync } from 'node:fs';
import { ablate } from './ablate.ts';
import { alignCommand } from './align.ts';
import { animate } from './animate.ts';
import { dataset } from './dataset.ts';
import { demo } from './demo.ts';
import { engineDemo } from './engine-demo.ts';
import { evalCommand } from './eval.ts';
import { faces } from './faces.ts';
import { mini } from './mini.ts';
import { poses } from './poses.ts';
import { posesAlign } from './poses-align.ts';
import { serve } from './serve.ts';
import { synth } from './synth.ts';
import { train } from './train.ts';
import { weights } from './weights.ts';
import { worker } from './worker.ts';

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

/** `poses align` lives with the alignment code; the other `poses` subcommands with extraction. */
const posesWithAlign: Command = {
  summary: poses.summary + '; align a driving sequence to a reference',
  usage: `${poses.usage}\n\n${posesAlign.usage}`,
  run: (args) => (args[0] === 'align' ? posesAlign.run(args.slice(1)) : poses.run(args)),
};

const COMMANDS: Record<string, Command> = {
  demo,
  engine: engineDemo,
  animate,
  poses: posesWithAlign,
  faces,
  align: alignCommand,
  weights,
  dataset,
  eval: evalCommand,
  synth,
  train,
  mini,
  ablate,
  serve,
  worker,
};

function version(): string {
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    'stable-animator: StableAnimator++ (identity-preserving human image animation) in TypeScript on libtorch',
    '',
    'usage: stable-animator <command> [options]     stable-animator <command> --help',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`stable-animator: unknown command '${name}'\n\n${help()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`${cmd.summary}\n\nusage: ${cmd.usage}`);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    console.error(`stable-animator ${name}: ${(e as Error).message}`);
    return 1;
  }
}
