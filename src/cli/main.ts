// `stable-animator <command>`: each command lives in its own file and registers here.
import { readFileSync } from 'node:fs';

export interface Command {
  summary: string;
  usage: string;
  run(args: string[]): Promise<number>;
}

/** `poses align` lives with the alignment code; the other `poses` subcommands with extraction. */
async function posesWithAlign(): Promise<Command> {
  const [{ poses }, { posesAlign }] = await Promise.all([import('./poses.ts'), import('./poses-align.ts')]);
  return {
    summary: poses.summary + '; align a driving sequence to a reference',
    usage: `${poses.usage}\n\n${posesAlign.usage}`,
    run: (args) => (args[0] === 'align' ? posesAlign.run(args.slice(1)) : poses.run(args)),
  };
}

/**
 * Each command's module is loaded when it runs, not before: `serve`'s API process then never loads libtorch
 * (its workers do), and a command does not pay for the others' imports.
 */
const COMMANDS: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo.ts')).demo,
  engine: async () => (await import('./engine-demo.ts')).engineDemo,
  animate: async () => (await import('./animate.ts')).animate,
  poses: posesWithAlign,
  faces: async () => (await import('./faces.ts')).faces,
  align: async () => (await import('./align.ts')).alignCommand,
  weights: async () => (await import('./weights.ts')).weights,
  dataset: async () => (await import('./dataset.ts')).dataset,
  eval: async () => (await import('./eval.ts')).evalCommand,
  synth: async () => (await import('./synth.ts')).synth,
  train: async () => (await import('./train.ts')).train,
  mini: async () => (await import('./mini.ts')).mini,
  ablate: async () => (await import('./ablate.ts')).ablate,
  serve: async () => (await import('./serve.ts')).serve,
  worker: async () => (await import('./worker.ts')).worker,
};

function version(): string {
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
}

async function help(): Promise<string> {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const commands = await Promise.all(Object.entries(COMMANDS).map(async ([name, load]) => [name, await load()] as const));
  return [
    'stable-animator: StableAnimator++ (identity-preserving human image animation) in TypeScript on libtorch',
    '',
    'usage: stable-animator <command> [options]     stable-animator <command> --help',
    '',
    'commands:',
    ...commands.map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(await help());
    return name ? 0 : 1;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    console.error(`stable-animator: unknown command '${name}'\n\n${await help()}`);
    return 2;
  }
  const cmd = await load();
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
