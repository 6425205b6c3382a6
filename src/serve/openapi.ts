// The OpenAPI 3 document of the API, built from the fastify routes' own schemas (the ones that validate
// requests), so the documentation cannot drift from what the server checks.
import type { RouteOptions } from 'fastify';

type Schema = Record<string, unknown> & { summary?: string; hide?: boolean; body?: object; params?: { properties?: Record<string, object> }; querystring?: { properties?: Record<string, object> }; response?: Record<string, object>; consumes?: string[] };

export function openApiDocument(routes: readonly RouteOptions[]): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of routes) {
    const schema = (r.schema ?? {}) as Schema;
    if (schema.hide || !r.url.startsWith('/api/')) continue;
    const path = r.url.replace(/:(\w+)/g, '{$1}');
    const parameters = [
      ...Object.entries(schema.params?.properties ?? {}).map(([name, s]) => ({ name, in: 'path', required: true, schema: s })),
      ...Object.entries(schema.querystring?.properties ?? {}).map(([name, s]) => ({ name, in: 'query', schema: s })),
    ];
    const responses = Object.fromEntries(Object.entries(schema.response ?? { 200: {} }).map(([code, s]) => [code, { description: code.startsWith('2') ? 'success' : 'error', content: { 'application/json': { schema: s } } }]));
    for (const method of [r.method].flat()) {
      if (method === 'HEAD') continue;
      paths[path] ??= {};
      paths[path]![method.toLowerCase()] = {
        summary: schema.summary, ...(parameters.length ? { parameters } : {}), responses,
        ...(schema.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema.body } } } } : {}),
        ...(schema.consumes ? { requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } } } } } } : {}),
      };
    }
  }
  return {
    openapi: '3.0.3',
    info: { title: 'stable-animator serve', version: '1', description: 'Animate a reference photo with driving poses (StableAnimator++); jobs run on workers sharing a Redis.' },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    paths,
  };
}

// the documentation keywords this module reads (as @fastify/swagger declares them)
declare module 'fastify' {
  interface FastifySchema {
    summary?: string;
    hide?: boolean;
    consumes?: string[];
  }
}
