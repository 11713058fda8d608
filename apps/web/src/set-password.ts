// Sets a dashboard password at install time:
//   node --import tsx apps/web/src/set-password.ts FILE technician   (reads the password on stdin)
// Writes (or replaces) the role's line in FILE with mode 0600; point WEB_PASSWORDS_FILE at it.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hashPassword, type Role } from './passwords.ts';

const [file, role] = process.argv.slice(2);
if (!file || (role !== 'technician' && role !== 'viewer')) {
  console.error('usage: set-password.ts FILE technician|viewer  (password on stdin)');
  process.exit(2);
}
const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
if (password.length < 8) {
  console.error('set-password: the password must have at least 8 characters');
  process.exit(1);
}
const kept = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith(`${role}:`)) : [];
writeFileSync(file, [...kept, await hashPassword(role as Role, password)].join('\n') + '\n', { mode: 0o600 });
chmodSync(file, 0o600);
console.error(`set-password: ${role} password written`);
