// Generates src/torch/generated/ops.ts from src/torch/op-table.ts and libtorch's operator schemas.
// Run after changing the table: npm run gen:ops
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../src/torch/native.ts';
import { OP_TABLE } from '../src/torch/op-table.ts';

interface Param { name: string; type: string; optional: boolean; hasDefault: boolean }
interface Schema { qualified: string; params: Param[]; returns: string[] }

function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0, cur = '';
  for (const c of s) {
    if (c === '(' || c === '[') depth++;
    if (c === ')' || c === ']') depth--;
    if (c === ',' && depth === 0) { out.push(cur.trim()); cur = ''; } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

function parseSchema(qualified: string, text: string): Schema {
  const open = text.indexOf('(');
  const arrow = text.lastIndexOf(' -> ');
  const args = text.slice(open + 1, text.lastIndexOf(')', arrow));
  const params: Param[] = [];
  for (const a of splitTop(args)) {
    if (a === '*') continue;
    const [decl, def] = a.split('=');
    const m = /^(.*)\s+(\w+)$/.exec(decl.trim());
    if (!m) throw new Error(`${qualified}: cannot parse argument '${a}'`);
    const type = m[1].replace(/\([^)]*\)/g, '').trim();
    params.push({ name: m[2], type, optional: type.endsWith('?'), hasDefault: def !== undefined });
  }
  let ret = text.slice(arrow + 4).trim();
  if (ret.startsWith('(')) ret = ret.slice(1, -1);
  const returns = ret ? splitTop(ret).map((r) => r.replace(/\([^)]*\)/g, '').split(' ')[0]) : [];
  return { qualified, params, returns };
}

// Argument kinds, which decide the TypeScript type and the conversion to the native call.
type Kind = 'tensor' | 'tensors' | 'optTensors' | 'int' | 'ints' | 'float' | 'floats' | 'scalar' | 'bool' | 'bools'
  | 'str' | 'dtype' | 'memoryFormat' | 'layout' | 'device' | 'generator';

function kindOf(type: string): Kind {
  const t = type.replace(/\?$/, '');
  if (t === 'Tensor') return 'tensor';
  if (t === 'Tensor[]') return 'tensors';
  if (t === 'Tensor?[]') return 'optTensors';
  if (t === 'int' || t === 'SymInt') return 'int';
  if (/^(int|SymInt)\[\d*\]$/.test(t)) return 'ints';
  if (t === 'float') return 'float';
  if (/^float\[\d*\]$/.test(t)) return 'floats';
  if (t === 'Scalar') return 'scalar';
  if (t === 'bool') return 'bool';
  if (/^bool\[\d*\]$/.test(t)) return 'bools';
  if (t === 'str') return 'str';
  if (t === 'ScalarType') return 'dtype';
  if (t === 'MemoryFormat') return 'memoryFormat';
  if (t === 'Layout') return 'layout';
  if (t === 'Device') return 'device';
  if (t === 'Generator') return 'generator';
  throw new Error(`unsupported schema type '${type}'`);
}

const TS_TYPE: Record<Kind, string> = {
  tensor: 'Tensor', tensors: 'Tensor[]', optTensors: '(Tensor | undefined)[]', int: 'number',
  ints: 'number[]', float: 'number', floats: 'number[]', scalar: 'number', bool: 'boolean', bools: 'boolean[]',
  str: 'string', dtype: 'DType', memoryFormat: 'MemoryFormat', layout: 'undefined', device: 'Device',
  generator: 'Generator',
};

function tsType(p: Param): string {
  const k = kindOf(p.type);
  // int[2] accepts one number for all dimensions, as in Python
  if (k === 'ints' && /\[\d+\]/.test(p.type)) return 'number | number[]';
  return TS_TYPE[k];
}

function toNative(k: Kind, v: string): string {
  switch (k) {
    case 'tensor': return `${v}?.h`;
    case 'tensors': return `${v}.map((t) => t.h)`;
    case 'optTensors': return `${v}.map((t) => t?.h)`;
    case 'dtype': return `dtypeCode(${v})`;
    case 'memoryFormat': return `memoryFormatCode(${v})`;
    case 'generator': return `${v}?.h`;
    default: return v;
  }
}

function tsReturn(returns: string[]): { type: string; expr: (r: string) => string } {
  if (returns.length === 0) return { type: 'void', expr: (r) => `void ${r}` };
  const one = (t: string): { type: string; expr: (r: string) => string } => {
    if (t === 'Tensor') return { type: 'Tensor', expr: (r) => `wrap(${r} as Handle)` };
    if (t === 'Tensor[]') return { type: 'Tensor[]', expr: (r) => `(${r} as Handle[]).map(wrap)` };
    if (t === 'bool') return { type: 'boolean', expr: (r) => `${r} as boolean` };
    if (['int', 'float', 'Scalar', 'SymInt'].includes(t)) return { type: 'number', expr: (r) => `${r} as number` };
    throw new Error(`unsupported return type '${t}'`);
  };
  if (returns.length === 1) return one(returns[0]);
  const parts = returns.map(one);
  return {
    type: `[${parts.map((p) => p.type).join(', ')}]`,
    expr: (r) => `[${parts.map((p, i) => p.expr(`(${r} as unknown[])[${i}]`)).join(', ')}]`,
  };
}

const RESERVED = new Set(['default', 'function', 'var', 'delete', 'new', 'in', 'new', 'delete', 'return', 'class', 'this']);
const safe = (n: string) => (RESERVED.has(n) ? `${n}_` : n);

function predicate(k: Kind | undefined, v: string, optional: boolean): string | undefined {
  if (k === undefined) return `${v} === undefined`;
  const orUndef = optional ? `${v} === undefined || ` : '';
  if (k === 'tensor') return `(${orUndef}typeof ${v} === 'object')`;
  if (k === 'int' || k === 'scalar' || k === 'float') return `(${orUndef}typeof ${v} === 'number')`;
  if (k === 'ints') return `(${orUndef}Array.isArray(${v}))`;
  return undefined;
}

const names: string[] = [];
const fnLines: string[] = [];
const methodLines: string[] = [];
const fnNames = new Set<string>();

for (const [tsName, spec] of Object.entries(OP_TABLE)) {
  const atens = Array.isArray(spec.aten) ? spec.aten : [spec.aten];
  const schemas = atens.map((q) => {
    const [name, overload = ''] = q.split('.');
    return parseSchema(q, native.opSchema(native.opLookup(name, overload)));
  });
  const arity = Math.max(...schemas.map((s) => s.params.length));
  const params: { name: string; types: Set<string>; optional: boolean }[] = [];
  for (let i = 0; i < arity; i++) {
    const ps = schemas.map((s) => s.params[i]);
    const first = ps.find((p) => p)!;
    const types = new Set(ps.filter((p) => p).map((p) => tsType(p!)));
    // an optional schema type before a required argument stays positional but may be undefined
    if (ps.some((p) => p?.optional)) types.add('undefined');
    params.push({
      name: first.name === tsName ? `${first.name}Arg` : safe(first.name),
      types,
      optional: ps.some((p) => !p || p.optional || p.hasDefault),
    });
  }
  // a required parameter cannot follow an optional one
  for (let i = params.length - 2; i >= 0; i--) if (params[i + 1].optional === false) params[i].optional = false;
  const ret = tsReturn(schemas[0].returns);
  for (const s of schemas) {
    if (tsReturn(s.returns).type !== ret.type) throw new Error(`${tsName}: overloads return different types`);
  }
  const typeOf = (p: { types: Set<string>; optional: boolean }) =>
    [...p.types].filter((t) => !(p.optional && t === 'undefined')).join(' | ') || 'undefined';
  const sig = params.map((p) => `${p.name}${p.optional ? '?' : ''}: ${typeOf(p)}`).join(', ');
  const inPlace = tsName.endsWith('_');
  const call = (s: Schema) => {
    const idx = names.push(s.qualified) - 1;
    const args = s.params.map((p, i) => toNative(kindOf(p.type), params[i].name)).join(', ');
    const r = `native.opCall(op(${idx}), ${args})`;
    if (inPlace) return `{ native.dispose(${r} as Handle); return ${params[0].name}; }`;
    return `{ const r = ${r}; return ${ret.expr('r')}; }`;
  };
  let body: string;
  if (schemas.length === 1) {
    body = `  ${call(schemas[0])}`;
  } else {
    const lines: string[] = [];
    schemas.forEach((s, j) => {
      const conds: string[] = [];
      for (let i = 0; i < arity; i++) {
        const kinds = schemas.map((x) => (x.params[i] ? kindOf(x.params[i].type) : undefined));
        if (new Set(kinds).size === 1) continue;
        const p = s.params[i];
        const c = predicate(kinds[j], params[i].name, !!p && (p.optional || p.hasDefault));
        if (c) conds.push(c);
      }
      if (conds.length === 0 && j < schemas.length - 1) throw new Error(`${tsName}: cannot tell ${s.qualified} apart`);
      lines.push(j < schemas.length - 1 ? `  if (${conds.join(' && ')}) ${call(s)}` : `  ${call(s)}`);
    });
    body = lines.join('\n');
  }
  const doc = `/** ${atens.map((q) => q.replace('aten::', '')).join(' | ')} */`;
  const fnName = safe(tsName);
  fnLines.push(`${doc}\nexport function ${fnName}(${sig}): ${ret.type} {\n${body}\n}\n`);
  const isMethod = !spec.fn && params[0] && params[0].types.has('Tensor') && [...params[0].types].every((t) => t === 'Tensor' || t === 'undefined');
  if (isMethod) {
    const rest = params.slice(1);
    const msig = rest.map((p) => `${p.name}${p.optional ? '?' : ''}: ${typeOf(p)}`).join(', ');
    const margs = ['this as unknown as Tensor', ...rest.map((p) => p.name)].join(', ');
    const mret = inPlace ? 'this' : ret.type;
    const mbody = inPlace ? `    ${fnName}(${margs});\n    return this;` : `    return ${fnName}(${margs});`;
    fnNames.add(fnName);
    methodLines.push(`  ${doc}\n  ${tsName}(${msig}): ${mret} {\n${mbody}\n  }\n`);
  }
}

const header = `// GENERATED by scripts/gen-ops.ts from src/torch/op-table.ts and libtorch's schemas. Do not edit.\n`;
const opsFile = `${header}import { native, opIds, type Handle } from '../native.ts';
import type { DType } from '../dtype.ts';
import { dtypeCode, memoryFormatCode, type Device, type MemoryFormat } from '../codes.ts';
import { wrap, type Tensor } from '../tensor.ts';
import type { Generator } from '../random.ts';

const op = opIds(${JSON.stringify(names).replace(/","/g, '", "')});

${fnLines.join('\n')}`;
// A separate module, so that Tensor's base class exists before ops.ts (which needs Tensor) runs.
const methodsFile = `${header}import type { DType } from '../dtype.ts';
import type { Device, MemoryFormat } from '../codes.ts';
import type { Tensor } from '../tensor.ts';
import type { Generator } from '../random.ts';
import { ${[...fnNames].join(', ')} } from './ops.ts';

/** Every table op whose first argument is a tensor, as a method. */
export abstract class TensorOps {
${methodLines.join('\n')}}
`;
const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'torch', 'generated');
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, 'ops.ts'), opsFile);
writeFileSync(join(dir, 'methods.ts'), methodsFile);
console.log(`wrote ${dir}/{ops,methods}.ts: ${Object.keys(OP_TABLE).length} ops, ${names.length} ATen overloads`);
