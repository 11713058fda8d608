// deploy/lib.sh's small pieces, run by a real sh: where a script's home is (from its own path,
// through the `current` link or a symlink to the script), the port in a compose "taken" error
// (v1 and v2 wording), and the progress meter passing every byte through unchanged.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const lib = resolve('deploy/lib.sh');
const run = (script: string, opts: { input?: Buffer | string; env?: Record<string, string> } = {}) =>
  execFileSync('sh', ['-c', script], { input: opts.input, env: { PATH: process.env['PATH'] ?? '', ...opts.env }, timeout: 20_000, maxBuffer: 64 << 20 });

describe('deploy/lib.sh', () => {
  test('a script in HOME/releases/V knows HOME, through current and through a symlink; EDGEVISOR_HOME overrides', () => {
    const home = mkdtempSync(join(tmpdir(), 'edgevisor-libhome-'));
    try {
      const rel = join(home, 'releases', '1.0');
      mkdirSync(rel, { recursive: true });
      copyFileSync(lib, join(rel, 'lib.sh'));
      writeFileSync(join(rel, 'where'), '#!/bin/sh\n. "$(dirname "$(readlink -f "$0")")/lib.sh"\necho "$home"\n', { mode: 0o755 });
      symlinkSync(rel, join(home, 'current'));
      symlinkSync(join(home, 'current', 'where'), join(home, 'where-link'));
      for (const path of [join(rel, 'where'), join(home, 'current', 'where'), join(home, 'where-link')]) {
        assert.equal(run(path).toString().trim(), home, path);
      }
      assert.equal(run(join(home, 'current', 'where'), { env: { EDGEVISOR_HOME: '/elsewhere' } }).toString().trim(), '/elsewhere');
      // Not inside a release (an unpacked bundle, the repo): the default home.
      const loose = join(home, 'loose');
      mkdirSync(loose);
      copyFileSync(lib, join(loose, 'lib.sh'));
      copyFileSync(join(rel, 'where'), join(loose, 'where'));
      assert.equal(run(`sh ${join(loose, 'where')}`).toString().trim(), '/opt/edgevisor');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  test('port_in_error finds the port in the engine errors compose v1 and v2 print, and nothing elsewhere', () => {
    const port = (text: string) => run(`. ${lib}; port_in_error`, { input: text }).toString().trim();
    assert.equal(port('ERROR: for web  Cannot start service web: driver failed programming external connectivity on endpoint p_web_1: Bind for 127.0.0.1:8080 failed: port is already allocated\n'), '8080');
    assert.equal(port('Error response from daemon: driver failed programming external connectivity on endpoint p-web-1 (abc): Error starting userland proxy: listen tcp4 0.0.0.0:18080: bind: address already in use\n'), '18080');
    assert.equal(port('ERROR: Service "web" uses an undefined network "x"\nlisten on 10.0.0.1:9 fine\n'), '');
  });

  test('meter copies every byte through unchanged and reports on stderr only', () => {
    const data = randomBytes(3 << 20);
    const outBytes = run(`. ${lib}; meter test ${data.length} 2>/dev/null`, { input: data });
    assert.ok(outBytes.equals(data));
  });
});
