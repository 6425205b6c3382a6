// npm run bench -- <name> [--quick]: runs one benchmark and writes bench/results/<name>.json.
const BENCHES: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  engine: () => import('./engine.ts'),
  svd: () => import('./svd.ts'),
  poses: () => import('./poses.ts'),
  animate: () => import('./animate.ts'),
  hjb: () => import('./hjb.ts'),
  train: () => import('./train.ts'),
  serve: () => import('./serve.ts'),
};

const [name, ...args] = process.argv.slice(2);
if (!name || !BENCHES[name]) {
  console.error(`usage: npm run bench -- <${Object.keys(BENCHES).join('|')}> [--quick]`);
  process.exit(2);
}
await (await BENCHES[name]()).run(args);
