/**
 * The dashboard page: an HTML shell, the page's own modules (apps/web/ui/) and the libraries it
 * uses (preact, preact/hooks, htm, uPlot) served from node_modules through an import map: no CDN,
 * no build step. Files are read and gzipped once at start and served from memory with an ETag.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { sendError } from '../../common/src/index.ts';

interface Asset { type: string; raw: Buffer; gz: Buffer; etag: string }

const uiDir = join(import.meta.dirname, '..', 'ui');
const require = createRequire(import.meta.url);
// Some packages do not export ./package.json: resolve their main entry, cut at the package folder.
const pkgDir = (name: string) => {
  const entry = require.resolve(name);
  const at = entry.lastIndexOf(`${sep}node_modules${sep}${name}${sep}`);
  return at >= 0 ? entry.slice(0, at + `${sep}node_modules${sep}${name}`.length) : dirname(entry);
};

function asset(type: string, raw: Buffer): Asset {
  return { type, raw, gz: gzipSync(raw, { level: 9 }), etag: `"${createHash('sha256').update(raw).digest('base64url').slice(0, 16)}"` };
}

const TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

function loadAssets(): Map<string, Asset> {
  const m = new Map<string, Asset>();
  for (const f of readdirSync(uiDir)) {
    const ext = f.slice(f.lastIndexOf('.'));
    if (TYPES[ext]) m.set(`/ui/${f}`, asset(TYPES[ext]!, readFileSync(join(uiDir, f))));
  }
  const vendor: [string, string, string][] = [
    ['preact.mjs', 'preact', 'dist/preact.mjs'],
    ['hooks.mjs', 'preact', 'hooks/dist/hooks.mjs'],
    ['htm.mjs', 'htm', 'dist/htm.mjs'],
    ['uPlot.js', 'uplot', 'dist/uPlot.iife.min.js'],
    ['uPlot.css', 'uplot', 'dist/uPlot.min.css'],
  ];
  for (const [name, pkg, file] of vendor) m.set(`/ui/vendor/${name}`, asset(name.endsWith('.css') ? TYPES['.css']! : TYPES['.js']!, readFileSync(join(pkgDir(pkg), file))));
  return m;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function shell(version: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgevisor dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/ui/vendor/uPlot.css"><link rel="stylesheet" href="/ui/style.css">
<script type="importmap">{"imports":{"preact":"/ui/vendor/preact.mjs","preact/hooks":"/ui/vendor/hooks.mjs","htm":"/ui/vendor/htm.mjs"}}</script>
<script src="/ui/vendor/uPlot.js" defer></script>
<script type="module" src="/ui/main.js"></script>
</head><body data-version="${escapeHtml(version)}"><div id="app"><p class="boot">edgevisor dashboard is loading…</p></div>
<noscript>The dashboard needs JavaScript.</noscript></body></html>`;
}

export function registerPage(app: FastifyInstance, o: { version: string }): void {
  const assets = loadAssets();
  const page = asset('text/html; charset=utf-8', Buffer.from(shell(o.version)));
  const send = (a: Asset, req: { headers: Record<string, string | string[] | undefined> }, reply: import('fastify').FastifyReply, cache: string) => {
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).header('etag', a.etag).send();
    const gz = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    void reply.type(a.type).header('etag', a.etag).header('cache-control', cache).header('vary', 'accept-encoding')
      .header('x-content-type-options', 'nosniff');
    if (gz) void reply.header('content-encoding', 'gzip');
    return reply.send(gz ? a.gz : a.raw);
  };
  app.get('/', async (req, reply) => {
    void reply.header('content-security-policy', "default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'sha256-" + createHash('sha256').update('{"imports":{"preact":"/ui/vendor/preact.mjs","preact/hooks":"/ui/vendor/hooks.mjs","htm":"/ui/vendor/htm.mjs"}}').digest('base64') + "'; frame-ancestors 'none'")
      .header('x-frame-options', 'DENY');
    return send(page, req, reply, 'no-cache');
  });
  app.get<{ Params: { '*': string } }>('/ui/*', async (req, reply) => {
    const a = assets.get(req.url.split('?')[0]!);
    if (!a) return sendError(reply, 404, 'WEB_ERR_NOT_FOUND', 'no such dashboard file');
    return send(a, req, reply, 'no-cache');
  });
}
