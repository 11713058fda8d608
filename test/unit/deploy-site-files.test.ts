/**
 * The demo site files the compose stack ships (deploy/site/) are the ones `npm start` runs
 * (deploy/embedded/): the same cameras and zones, byte for byte, so the stack as shipped does
 * what the Quick start shows. And a dev checkout's `docker compose up` mounts deploy/site.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

test('deploy/site has the cameras and zones of npm start', () => {
  for (const f of ['cameras.yaml', 'zones.yaml']) assert.equal(read(`deploy/site/${f}`), read(`deploy/embedded/${f}`), `deploy/site/${f} = deploy/embedded/${f}`);
});

test('compose mounts the site folder read-only where the supervisor, camera and inference read it', () => {
  const compose = parse(read('compose.yaml')) as { services: Record<string, { volumes?: string[]; environment?: Record<string, string>; command?: string[] }> };
  const mount = '${EDGEVISOR_SITE:-./deploy/site}:/etc/edgevisor:ro';
  for (const s of ['supervisor', 'camera', 'inference']) assert.ok(compose.services[s]!.volumes!.includes(mount), `${s} mounts ${mount}`);
  for (const s of ['web', 'onvif', 'vacuum']) assert.ok(!(compose.services[s]!.volumes ?? []).some((v) => v.includes('/etc/edgevisor')), `${s} has no site files`);
  assert.equal(compose.services['camera']!.environment!['CAMERAS_FILE'], '/etc/edgevisor/cameras.yaml');
  assert.equal(compose.services['inference']!.environment!['ZONES_FILE'], '/etc/edgevisor/zones.yaml');
  assert.ok(compose.services['supervisor']!.command!.includes('/etc/edgevisor/tree.yaml'));
  assert.equal(compose.services['supervisor']!.environment!['EDGEVISOR_LAST_GOOD_TREE'], '/data/last-good-tree.yaml', 'on the supervisor-data volume');
});
