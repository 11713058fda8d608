/**
 * Install-time passwords for the dashboard: one line per role in a file readable only by the web
 * app (`role:scrypt:N,r,p:salt:hash`, base64), written by `set-password.ts`. scrypt from
 * node:crypto (a memory-hard KDF, no dependency); a guess costs ~50 ms of CPU here.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export type Role = 'viewer' | 'technician';
export interface PasswordEntry { role: Role; N: number; r: number; p: number; salt: Buffer; hash: Buffer }

const scrypt = (pw: string, salt: Buffer, len: number, o: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(pw, salt, len, o, (err, key) => (err ? reject(err) : resolve(key))));

const LINE = /^(viewer|technician):scrypt:(\d+),(\d+),(\d+):([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/;

/** Parses the file; a bad line is an error naming the line (never its content: it is a hash). */
export function parsePasswordFile(text: string, name: string): PasswordEntry[] {
  const out: PasswordEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = LINE.exec(line);
    if (!m) throw new Error(`${name}:${i + 1}: expected "viewer|technician:scrypt:N,r,p:salt:hash" (write it with apps/web/src/set-password.ts)`);
    out.push({ role: m[1] as Role, N: Number(m[2]), r: Number(m[3]), p: Number(m[4]), salt: Buffer.from(m[5]!, 'base64'), hash: Buffer.from(m[6]!, 'base64') });
  });
  return out;
}

export async function hashPassword(role: Role, password: string): Promise<string> {
  const salt = randomBytes(16);
  const N = 16384, r = 8, p = 1;
  const hash = await scrypt(password, salt, 32, { N, r, p });
  return `${role}:scrypt:${N},${r},${p}:${salt.toString('base64')}:${hash.toString('base64')}`;
}

/** The roles whose password `password` is (constant-time compare of each derived key). */
export async function matchPassword(entries: readonly PasswordEntry[], password: string): Promise<Role[]> {
  const roles: Role[] = [];
  for (const e of entries) {
    const key = await scrypt(password, e.salt, e.hash.length, { N: e.N, r: e.r, p: e.p, maxmem: 256 * e.N * e.r + 1024 * 1024 });
    if (timingSafeEqual(key, e.hash)) roles.push(e.role);
  }
  return roles;
}
