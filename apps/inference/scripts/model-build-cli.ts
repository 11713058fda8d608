/**
 * The command line every model build script shares: `[--out FILE] [--force] [--print-sha]`.
 * Skips when the output already has the recorded checksum, builds, refuses a result whose
 * checksum differs from the recorded one (the source package or tfjs changed the model), and
 * writes atomically (temp file + rename).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

export interface ModelBuild {
  /** Shown in messages: "NanoDet". */
  name: string;
  /** The default output and its recorded checksum file. */
  model: string;
  shaFile: string;
  /** The test that compares the model's outputs with tfjs (named when the checksum moved). */
  checkTest: string;
  build(): Promise<Uint8Array>;
}

export async function runModelBuild(b: ModelBuild, args: string[]): Promise<void> {
  const outIdx = args.indexOf('--out');
  const out = outIdx >= 0 ? resolve(args[outIdx + 1]!) : b.model;
  const expected = existsSync(b.shaFile) ? readFileSync(b.shaFile, 'utf8').trim().split(/\s+/)[0] : undefined;
  if (!args.includes('--force') && existsSync(out) && expected && sha256(readFileSync(out)) === expected) {
    console.error(`edgevisor: ${out} is up to date (sha256 ${expected.slice(0, 12)}...)`);
    return;
  }
  const t0 = Date.now();
  const bytes = await b.build();
  const sum = sha256(bytes);
  if (args.includes('--print-sha')) console.log(sum);
  if (expected && sum !== expected) {
    console.error(`edgevisor: the converted ${b.name} has sha256 ${sum}, ${b.shaFile} expects ${expected}: the source package or tfjs version changed the model. Check its outputs (${b.checkTest}), then record the new sum in that file.`);
    process.exit(1);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.tmp`, bytes);
  renameSync(`${out}.tmp`, out);
  console.error(`edgevisor: wrote ${out} (${(bytes.length / 1e6).toFixed(1)} MB, sha256 ${sum.slice(0, 12)}..., ${Date.now() - t0} ms)`);
}
