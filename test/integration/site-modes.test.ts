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
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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
const block = /^ {4}group_add:\n {6}- "\d+"\n/m;
// A later release writing the group as a flow list, and ones whose group_add site.sh cannot read.
const flow = release('flow', compose.replace(block, `    group_add: ["20", ${gid}]  # site secrets\n`));
const unreadable = release('unreadable', compose.replace(block, '    group_add: ["${SITE_GID}"]\n'));
const anchored = release('anchored', compose.replace(block, '').replace(/^x-app: &app\n/m, `x-app: &app\n  group_add:\n    - "${gid}"\n`));
const lineOf = (text: string, re: RegExp) => text.slice(0, text.search(re)).split('\n').length;

describe('site file modes (deploy/site.sh)', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('compose.yaml gives the site-secrets group of site.sh to the camera container and to no other', () => {
    assert.ok(gid > 10001, `SITE_SECRETS_GID in site.sh (${gid})`);
    const services = parse(compose).services as Record<string, { group_add?: (string | number)[] }>;
    const granted = Object.entries(services).filter(([, s]) => (s.group_add ?? []).map(String).includes(String(gid))).map(([n]) => n);
    assert.deepEqual(granted, ['camera']);
    assert.notEqual(oldCompose, compose, 'the old release differs by the group_add only');
    for (const r of [flow, unreadable, anchored]) assert.notEqual(readFileSync(join(r, 'compose.yaml'), 'utf8'), compose);
  });

  test('the group is read from block and flow lists; a group_add site.sh cannot read is refused, naming file and line, and nothing is published', async () => {
    const r = await site(`for d in "${current}" "${flow}" "${old}"; do site_mode "$d" cameras.yaml; done`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [`640 ${gid}`, `640 ${gid}`, '644 0']);
    for (const [rel, re, what] of [[unreadable, /group_add: \["\$/, 'group_add item ${SITE_GID} is not a number'], [anchored, /^ {2}group_add:/m, 'a group_add outside a service of services:']] as const) {
      const text = readFileSync(join(rel, 'compose.yaml'), 'utf8');
      const refused = await site(`publish_site "${rel}"`);
      assert.equal(refused.code, 1, refused.stdout);
      assert.equal(refused.stderr.trim().split('\n')[0], `edgevisor: ${rel}/compose.yaml: cannot tell whether the camera service has group ${gid} (line ${lineOf(text, re)}: ${what}); expected group_add: as a list of numbers, - "${gid}" lines or ["${gid}"]`);
      assert.match(refused.stderr, /the site files were not published/);
    }
    assert.deepEqual(readdirSync(dir).filter((f) => f === 'home'), [], 'nothing was created: the refusal comes before any write');
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

  test('a switch that ends before `current` moves (upgrade, rollback) publishes the files again for the running release; one that moved keeps the new modes', async () => {
    mkdirSync(home, { recursive: true });
    const link = join(home, 'current');
    rmSync(link, { force: true });
    symlinkSync(old, link);
    // As upgrade.sh: published for the new release, then the script fails before activate switched.
    const failed = await site(`publish_site_switching "${old}" "${current}"; [ "$(stat -c %a "$home/applied/cameras.yaml")" = 640 ] && echo published-new; exit 3`);
    assert.equal(failed.code, 3, failed.stderr);
    assert.equal(failed.stdout.trim(), 'published-new');
    assert.equal(mode(join(home, 'applied/cameras.yaml')), '644 0:0', 'the old camera can read it again');
    const switched = await site(`publish_site_switching "${old}" "${current}"; ln -sfn "${current}" "$home/current"`);
    assert.equal(switched.code, 0, switched.stderr);
    assert.equal(mode(join(home, 'applied/cameras.yaml')), `640 0:${gid}`);
  });
});
