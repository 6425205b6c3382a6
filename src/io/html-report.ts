// A self-contained HTML report (demo, ablations): headings, paragraphs, tables and images referenced by
// relative path, written atomically. Everything given as text is escaped.
import { writeFileAtomic } from './atomic.ts';

export type ReportBlock =
  | { kind: 'heading'; text: string }
  | { kind: 'text'; text: string }
  | { kind: 'table'; columns: string[]; rows: (string | number)[][] }
  | { kind: 'images'; items: { src: string; caption: string; width?: number }[] }
  | { kind: 'video'; src: string; caption: string };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const cell = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(4)) : v);

function block(b: ReportBlock): string {
  switch (b.kind) {
    case 'heading': return `<h2>${escapeHtml(b.text)}</h2>`;
    case 'text': return `<p>${escapeHtml(b.text)}</p>`;
    case 'table': return `<table><tr>${b.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>\n${
      b.rows.map((r) => `<tr>${r.map((v) => `<td>${escapeHtml(cell(v))}</td>`).join('')}</tr>`).join('\n')}</table>`;
    case 'images': return `<div class="images">${b.items.map((i) => `<figure><img src="${escapeHtml(i.src)}"${
      i.width ? ` width="${i.width}"` : ''} alt="${escapeHtml(i.caption)}"><figcaption>${escapeHtml(i.caption)}</figcaption></figure>`).join('')}</div>`;
    case 'video': return `<figure><video src="${escapeHtml(b.src)}" controls loop autoplay muted></video><figcaption>${escapeHtml(b.caption)}</figcaption></figure>`;
  }
}

export function renderHtmlReport(title: string, blocks: readonly ReportBlock[]): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}
.images{display:flex;flex-wrap:wrap;gap:6px}figure{margin:4px}img{image-rendering:pixelated}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${blocks.map(block).join('\n')}
</body></html>
`;
}

export async function writeHtmlReport(path: string, title: string, blocks: readonly ReportBlock[]): Promise<void> {
  await writeFileAtomic(path, renderHtmlReport(title, blocks));
}
