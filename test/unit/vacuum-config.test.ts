// The vacuum file: the shipped ones load; a bad one is refused with file, line, field and what is
// accepted (as the tree file's errors read).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadVacuumFile, parseSize } from '../../apps/vacuum/src/config.ts';
import { parseFailpoint } from '../../apps/vacuum/src/failpoint.ts';
import { floorBytes, writeRate } from '../../apps/vacuum/src/volumes.ts';
import { publicError } from '../../apps/vacuum/src/report.ts';
import { specErrors } from '../helpers/spec.ts';

test('the shipped vacuum files load', async () => {
  const embedded = await loadVacuumFile('deploy/embedded/vacuum.yaml', '/box/var');
  assert.equal(embedded.safetyEvents!.db, '/box/var/inference/events.db');
  assert.equal(embedded.safetyEvents!.retentionByClass.person, 90);
  const stack = await loadVacuumFile('apps/vacuum/config/stack.yaml', '/data');
  assert.equal(stack.supervisorEvents!.db, '/data/supervisor/events.db');
  assert.equal(stack.stateDb, '/data/vacuum/vacuum.db');
});

test('a bad vacuum file names file, line and field of every problem', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vacuum-cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'vacuum.yaml');
  writeFileSync(file, [
    'schedule: "every hour"',          // 1
    'tick: 7s',                        // 2
    'volumes:',                        // 3
    '  - name: data',                  // 4
    '    path: .',                     // 5
    '    watermark:',                  // 6
    '      min_free_bytes: 12 parsecs', // 7
    '      min_free_percent: 150',     // 8
    'safety_events:',                  // 9
    '  volume: dat',                   // 10
    '  db: events.db',                 // 11
    '  snapshots: snapshots',          // 12
    '  retention_day: 30',             // 13
    '',
  ].join('\n'));
  let err: unknown;
  try { await loadVacuumFile(file, dir); } catch (e) { err = e; }
  const details = specErrors(() => { throw err; });
  const find = (re: RegExp) => details.find((d) => re.test(d)) ?? assert.fail(`no detail matching ${re} in:\n${details.join('\n')}`);
  assert.match(find(/^vacuum\.yaml:1 schedule:/), /expected a cron pattern like "\*\/15 \* \* \* \*"/);
  assert.match(find(/^vacuum\.yaml:2 tick:/), /divides a minute/);
  assert.match(find(/^vacuum\.yaml:7 volumes\[0\]\.watermark\.min_free_bytes:/), /expected a size like 500MB.*got "12 parsecs"/);
  assert.match(find(/^vacuum\.yaml:8 volumes\[0\]\.watermark\.min_free_percent:/), /<= 99/);
  assert.match(find(/^vacuum\.yaml:13 safety_events\.retention_day:/), /unknown field "retention_day"; accepted: .*retention_days/);

  // Cross-field checks run once the fields themselves are valid (zod skips refinements before).
  writeFileSync(file, 'volumes:\n  - { name: data, path: . }\n  - { name: data, path: other }\nsafety_events:\n  volume: dat\n  db: events.db\n  snapshots: snapshots\n');
  let err2: unknown;
  try { await loadVacuumFile(file, dir); } catch (e) { err2 = e; }
  const d2 = specErrors(() => { throw err2; });
  assert.ok(d2.some((d) => /^vacuum\.yaml:3 volumes\[1\]\.name: duplicate volume name "data"/.test(d)), d2.join('\n'));
  assert.ok(d2.some((d) => /^vacuum\.yaml:5 safety_events\.volume: expected one of the volumes: data, got "dat"/.test(d)), d2.join('\n'));
});

test('sizes, failpoints, floors and the write rate', () => {
  assert.equal(parseSize('200MB'), 200_000_000);
  assert.equal(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
  assert.equal(parseSize(4096), 4096);
  assert.throws(() => parseSize('-1MB'), /expected a size/);
  assert.deepEqual(parseFailpoint('pause-after-rows@3'), { kind: 'pause-after-rows', batch: 3 });
  assert.deepEqual(parseFailpoint('freeze-scheduler@2s'), { kind: 'freeze-scheduler', afterMs: 2000 });
  assert.throws(() => parseFailpoint('explode'), /expected pause-after-rows/);
  // The floor is the largest of bytes, percent and hours at the rate.
  assert.equal(floorBytes({ minFreeBytes: 100, minFreePercent: 10, minFreeHours: 2 }, 10_000, 300), 1000);
  assert.equal(floorBytes({ minFreeBytes: 100, minFreePercent: 10, minFreeHours: 2 }, 10_000, 800), 1600);
  assert.equal(floorBytes({ minFreeHours: 2 }, 10_000, null), 0, 'no rate measured yet: the hours floor waits');
  // Increases only: a deletion is not negative writing.
  const h = 3_600_000;
  assert.equal(writeRate([{ ts: 0, usedBytes: 1000 }, { ts: h / 2, usedBytes: 1500 }, { ts: h, usedBytes: 200 }], h), 500);
  assert.equal(writeRate([{ ts: 0, usedBytes: 1000 }, { ts: 1000, usedBytes: 5000 }], 1000), null, 'too short a span');
  assert.equal(publicError(Object.assign(new Error("ENOENT: no such file or directory, open '/data/inference/events.db'"), { code: 'ENOENT' })).message, "ENOENT: no such file or directory, open '…/events.db'");
});
