import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { onvifErrors } from './errors.ts';
import { AppError } from '../../common/src/index.ts';
import type { Credentials } from './soap.ts';

/**
 * The camera store: cameras added by address, their credentials, and the default credentials
 * used for discovered cameras. One JSON file, mode 0600 (written through a 0600 temporary file
 * and a rename, so it is never readable by others, not even for a moment), loaded at start.
 * INVARIANT: nothing read from here is ever put into an answer, a log line, an event or a label;
 * the API only says whether a camera has credentials.
 */
const credsSchema = z.object({ username: z.string().min(1).max(256), password: z.string().max(256) }).strict();
const fileSchema = z.object({
  version: z.literal(1),
  default: credsSchema.optional(),
  cameras: z.array(z.object({ id: z.string().min(1), address: z.string().min(1), credentials: credsSchema.optional() }).strict()),
}).strict();

export type StoreFile = z.infer<typeof fileSchema>;
/** One camera added by address. */
export interface StoredCamera { id: string; address: string; credentials?: Credentials }

export class CameraStore {
  private data: StoreFile = { version: 1, cameras: [] };
  /** Set when the file had looser permissions than 0600 at load (fixed, and said once). */
  loosePermissions = false;

  constructor(private readonly file?: string) {}

  /** Reads the file if it exists. Errors name the file and field, never a value. */
  load(): void {
    if (!this.file || !existsSync(this.file)) return;
    const mode = statSync(this.file).mode & 0o777;
    if (mode !== 0o600) {
      chmodSync(this.file, 0o600);
      this.loosePermissions = true;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new AppError(onvifErrors.CREDENTIALS_FILE, `camera store ${this.file}: not valid JSON (${(err as Error).message.replace(/".*"/, '...')})`);
    }
    const r = fileSchema.safeParse(raw);
    if (!r.success) {
      const details = r.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
      throw new AppError(onvifErrors.CREDENTIALS_FILE, `camera store ${this.file}: ${details.join('; ')}`, { details });
    }
    this.data = r.data;
  }

  cameras(): readonly StoredCamera[] { return this.data.cameras; }
  defaultCredentials(): Credentials | undefined { return this.data.default; }

  setDefault(c: Credentials | undefined): void {
    this.data = { ...this.data, default: c };
    this.save();
  }

  put(cam: StoredCamera): void {
    this.data = { ...this.data, cameras: [...this.data.cameras.filter((c) => c.id !== cam.id), cam] };
    this.save();
  }

  remove(id: string): void {
    this.data = { ...this.data, cameras: this.data.cameras.filter((c) => c.id !== id) };
    this.save();
  }

  private save(): void {
    if (!this.file) return;
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}

export const credentialsSchema = credsSchema;
