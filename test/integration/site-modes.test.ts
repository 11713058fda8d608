/**
 * The modes deploy/site.sh gives the site files, on real files in a temp home through the real
 * shell functions (no Docker: deploy-site.test.ts checks what the running containers can read):
 * applied/cameras.yaml (the camera credentials) is root:SITE_SECRETS_GID 0640 for a release whose
 * compose.yaml gives that group to the camera container, and 0644 again for a release from before
 * it (what a rollback to one must write, or its camera, uid 10001 without the group, could not
 * read the file); tree.yaml and zones.yaml stay 0644; the technician's site/cameras.yaml is 0600.
 * Needs root (chgrp), as the deploy scripts do.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'edgevisor-site-modes-'));
const home = join(dir, 'home');
const files = ['tree.yaml', 'cameras.yaml', 'zones.yaml'];
const gid = Number(/^SITE_SECRETS_GID=(\d+)$/m.exec(readFileSync(join(root, 'deploy/site.sh'), 'utf8'))![1]);

/** Runs `CALL` with deploy/lib.sh and deploy/site.sh sourced, under the temp home. */
function site(call: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    execFile('sh', ['-c', `set -eu; . "${root}/deploy/lib.sh"; . "${root}/deploy/site.sh"; ${call}`], { env: { PATH: process.env['PATH'] ?? '', EDGEVISOR_HOME: home }, timeout: 20_000 }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}
/** A release directory as unpack_bundle leaves it, with this compose.yaml text. */
function release(name: string, compose: string): string {
  const rel = join(dir, 'releases', name);
  mkdirSync(join(rel, 'deploy', 'site'), { recursive: true });
  writeFileSync(join(rel, 'compose.yaml'), compose);
  for (const f of files) copyFileSync(join(root, 'deploy/site', f), join(rel, 'deploy/site', f));
  return rel;
}
const mode = (p: string) => { const s = statSync(p); return `${(s.mode & 0o777).toString(8)} ${s.uid}:${s.gid}`; };
const compose = readFileSync(join(root, 'compose.yaml'), 'utf8');
// The release before the site group: the same compose.yaml without camera's group_add.
const oldCompose = compose.replace(/^ {4}group_add:\n {6}- "\d+"\n/m, '');
const current = release('current', compose);
const old = release('old', oldCompose);

describe('site file modes (deploy/site.sh)', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('compose.yaml gives the site-secrets group of site.sh to the camera container and to no other', () => {
    assert.ok(gid > 10001, `SITE_SECRETS_GID in site.sh (${gid})`);
    const services = parse(compose).services as Record<string, { group_add?: (string | number)[] }>;
    const granted = Object.entries(services).filter(([, s]) => (s.group_add ?? []).map(String).includes(String(gid))).map(([n]) => n);
    assert.deepEqual(granted, ['camera']);
    assert.notEqual(oldCompose, compose, 'the old release differs by the group_add only');
  });

  test('seed and publish for a release with the group: cameras.yaml 0640 root:group in applied/, 0600 in site/; the others 0644', async () => {
    const r = await site(`seed_site "${current}"; publish_site "${current}"; site_modes_ok "${current}" && echo ok`);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok$/m);
    assert.equal(mode(join(home, 'applied/cameras.yaml')), `640 0:${gid}`);
    assert.equal(mode(join(home, 'applied/tree.yaml')), '644 0:0');
    assert.equal(mode(join(home, 'applied/zones.yaml')), '644 0:0');
    assert.equal(mode(join(home, 'applied')), '755 0:0');
    assert.equal(mode(join(home, 'site/cameras.yaml')), '600 0:0');
    assert.equal(mode(join(home, 'site/zones.yaml')), '644 0:0');
    for (const f of files) assert.equal(readFileSync(join(home, 'applied', f), 'utf8'), readFileSync(join(home, 'site', f), 'utf8'), `${f} published`);
    assert.deepEqual(readdirSync(join(home, 'applied')).sort(), files.slice().sort(), 'no temp file left');
  });

  test('an edited file is published as a new file (a rename) with the same mode and group', async () => {
    const before = statSync(join(home, 'applied/cameras.yaml')).ino;
    writeFileSync(join(home, 'site/cameras.yaml'), readFileSync(join(home, 'site/cameras.yaml'), 'utf8').replace('fps: 5', 'fps: 4'));
    const r = await site(`publish_site "${current}"`);
    assert.equal(r.code, 0, r.stderr);
    assert.notEqual(statSync(join(home, 'applied/cameras.yaml')).ino, before, 'replaced by a rename');
    assert.equal(mode(join(home, 'applied/cameras.yaml')), `640 0:${gid}`);
    assert.match(readFileSync(join(home, 'applied/cameras.yaml'), 'utf8'), /fps: 4/);
  });

  test('publish for a release without the group (a rollback to one) writes 0644 again; the new release sees wrong modes, then sets them', async () => {
    const r = await site(`publish_site "${old}"; site_modes_ok "${old}" && echo old-ok; site_modes_ok "${current}" || echo current-wrong`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['old-ok', 'current-wrong']);
    for (const f of files) assert.equal(mode(join(home, 'applied', f)), '644 0:0', `${f} readable by the old camera container`);
    // A technician's file that was 0644 (a box seeded before this change): publishing closes it.
    chmodSync(join(home, 'site/cameras.yaml'), 0o644);
    const back = await site(`publish_site "${current}"; site_modes_ok "${current}" && echo ok`);
    assert.equal(back.stdout.trim(), 'ok', back.stderr);
    assert.equal(mode(join(home, 'applied/cameras.yaml')), `640 0:${gid}`);
    assert.equal(mode(join(home, 'site/cameras.yaml')), '600 0:0');
  });
});
