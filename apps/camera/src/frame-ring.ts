/**
 * The frame ring: raw detect frames handed from the camera controller to the inference app through
 * a file in shared memory (/dev/shm, or a tmpfs volume shared by two containers), so that a 307 KB
 * frame costs ~0.015 ms (both ends) instead of an HTTP GET (~1.5 ms CPU, both ends). Both sides map
 * the file when the native helper is there (x64 Linux, built at npm ci: see RingIo below), else use
 * positional reads and writes on their fd; the two interoperate.
 *
 * Layout (little-endian):
 *   file header, 64 bytes: magic "EVRING\0\0" (8), version u32, width u32, height u32, slots u32,
 *     slot size u32 (header + pixels), slot header size u32, latest seq f64 @32, latest slot u32 @40,
 *     token f64 @48 (identifies the writing camera app, also shown by its GET /cameras)
 *   N slots, each: slot header 64 bytes (seq f64 @0, ts f64 @8, frame width/height u32 @16/@20,
 *     scale f64 @24, padX/padY u32 @32/@36, picture width/height u32 @40/@44) then width * height * 3 bytes of RGB24.
 *
 * INVARIANTS (a seqlock, one writer per file):
 * - the writer invalidates a slot (seq 0) before touching its pixels, writes the pixels, then the
 *   slot's geometry and ts, then its seq, and only then the file header's latest seq/slot;
 * - a reader copies the slot the header announces and accepts it only if the slot's seq, read
 *   again after the copy, still equals the announced seq (and is newer than what it had): a slot
 *   reused meanwhile shows 0 or another seq, and is retried;
 * - seqs are > 0 and strictly increase within one ring; a new ring (camera worker restart) is a new
 *   inode, created complete under a temporary name and renamed into place, so a reader never sees
 *   a half-initialised file, and notices the replacement by the inode of the path.
 */
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DetectSize } from './config.ts';
import type { DetectFrame, DetectGeometry } from './detect-frame.ts';
import { shmAddon } from './shm-map.ts';

const MAGIC = Buffer.from('EVRING\0\0', 'latin1');
export const RING_VERSION = 1;
const FILE_HEADER = 64;
const SLOT_HEADER = 64;
/** Three slots: the newest, the one a slow reader may still be copying, and the one being written. */
export const RING_SLOTS = 3;
/** Reader retries when the writer laps it mid-copy, before giving up until the next poll. */
const MAX_RETRIES = 4;

/** The ring file of a camera inside a frames directory. */
export const ringFileName = (camera: string) => `${camera}.ring`;

/** Writes one camera's frames; created by each camera worker run. */
export interface RingWriter {
  readonly path: string;
  /** How frames are written: into the mapped file (stores and a memcpy) or with pwrite. */
  readonly access: 'mmap' | 'pwrite';
  /** Publishes a frame (its pixels must be exactly width * height * 3 bytes). */
  write(seq: number, ts: number, frame: DetectFrame): void;
  close(): void;
}

/**
 * Creates (or atomically replaces) the ring file at `path`: written complete under a temporary
 * name, then renamed, so a reader sees either the old ring or the whole new one.
 */
export function createRingWriter(path: string, size: DetectSize, token: number, slots = RING_SLOTS, opts: { mmap?: boolean } = {}): RingWriter {
  const pixels = size.width * size.height * 3;
  const slotSize = SLOT_HEADER + pixels;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w+', 0o644);
  const header = Buffer.alloc(FILE_HEADER);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(RING_VERSION, 8);
  header.writeUInt32LE(size.width, 12);
  header.writeUInt32LE(size.height, 16);
  header.writeUInt32LE(slots, 20);
  header.writeUInt32LE(slotSize, 24);
  header.writeUInt32LE(SLOT_HEADER, 28);
  header.writeDoubleLE(0, 32);
  header.writeUInt32LE(0, 40);
  header.writeDoubleLE(token, 48);
  // Sized up front (zero slots: seq 0 = empty), so the reader's size check holds from the start.
  ftruncateSync(fd, FILE_HEADER + slots * slotSize);
  writeSync(fd, header, 0, FILE_HEADER, 0);
  // Mapped (x64 with the native helper): each write below is a store or a memcpy, no syscall;
  // x86-TSO keeps the stores in program order, which is the order the readers rely on.
  const addon = (opts.mmap ?? true) ? shmAddon() : null;
  const mapped = addon ? new Uint8Array(addon.map(tmp, FILE_HEADER + slots * slotSize, true)) : null;
  renameSync(tmp, path);
  const put = mapped
    ? (src: Uint8Array, from: number, len: number, at: number) => { mapped.set(src.subarray(from, from + len), at); }
    : (src: Uint8Array, from: number, len: number, at: number) => { writeSync(fd, src, from, len, at); };

  const slotHeader = Buffer.alloc(SLOT_HEADER);
  const seqBuf = Buffer.alloc(8);
  const latest = Buffer.alloc(12);
  let slot = slots - 1;
  let closed = false;
  return {
    path,
    access: mapped ? 'mmap' : 'pwrite',
    write(seq, ts, frame) {
      if (closed) return;
      if (frame.data.length !== pixels) throw new Error(`ring ${path}: frame has ${frame.data.length} bytes, expected ${size.width}x${size.height}x3 = ${pixels}`);
      slot = (slot + 1) % slots;
      const at = FILE_HEADER + slot * slotSize;
      seqBuf.writeDoubleLE(0, 0);
      put(seqBuf, 0, 8, at);
      put(frame.data, 0, pixels, at + SLOT_HEADER);
      const g = frame.geometry;
      slotHeader.writeDoubleLE(ts, 8);
      slotHeader.writeUInt32LE(g.frameWidth, 16);
      slotHeader.writeUInt32LE(g.frameHeight, 20);
      slotHeader.writeDoubleLE(g.scale, 24);
      slotHeader.writeUInt32LE(g.padX, 32);
      slotHeader.writeUInt32LE(g.padY, 36);
      slotHeader.writeUInt32LE(g.pictureWidth, 40);
      slotHeader.writeUInt32LE(g.pictureHeight, 44);
      put(slotHeader, 8, SLOT_HEADER - 8, at + 8);
      seqBuf.writeDoubleLE(seq, 0);
      put(seqBuf, 0, 8, at);
      latest.writeDoubleLE(seq, 0);
      latest.writeUInt32LE(slot, 8);
      put(latest, 0, 12, 32);
    },
    close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
  };
}

/** A frame copied out of the ring; `data` is the reader's own buffer (valid until the next read). */
export interface RingFrame {
  seq: number;
  ts: number;
  data: Buffer;
  geometry: DetectGeometry;
}

/** Thrown by openRingReader when the file is not a ring of the expected kind. */
export class RingMismatchError extends Error {}

/** Reads the newest frame of a ring file; one per consumer. */
export interface RingReader {
  readonly path: string;
  readonly width: number;
  readonly height: number;
  readonly token: number;
  /** How frames are taken: memory-mapped (loads + one memcpy) or pread (a syscall per field). */
  readonly access: 'mmap' | 'pread';
  /** The latest seq the file header announces. */
  latestSeq(): number;
  /** The newest frame if its seq is > `after`, copied into the reader's buffer; else undefined. */
  read(after: number): RingFrame | undefined;
  /** True when `path` now names another file (the ring was replaced) or is gone. */
  replaced(): boolean;
  close(): void;
}

/**
 * Opens a ring for reading. Throws ENOENT if it does not exist, RingMismatchError if it is not a
 * ring of `expect` size (or of the expected writer `token`, when given).
 */
export function openRingReader(path: string, expect: { width: number; height: number; token?: number }, opts: { mmap?: boolean } = {}): RingReader {
  const fd = openSync(path, 'r');
  try {
    const header = Buffer.alloc(FILE_HEADER);
    if (readSync(fd, header, 0, FILE_HEADER, 0) !== FILE_HEADER || !header.subarray(0, 8).equals(MAGIC)) throw new RingMismatchError(`${path} is not a frame ring (bad magic)`);
    const version = header.readUInt32LE(8);
    const width = header.readUInt32LE(12);
    const height = header.readUInt32LE(16);
    const slots = header.readUInt32LE(20);
    const slotSize = header.readUInt32LE(24);
    const slotHeader = header.readUInt32LE(28);
    const token = header.readDoubleLE(48);
    if (version !== RING_VERSION) throw new RingMismatchError(`${path}: ring version ${version}, expected ${RING_VERSION}`);
    if (width !== expect.width || height !== expect.height) throw new RingMismatchError(`${path}: ring of ${width}x${height} frames, expected ${expect.width}x${expect.height}`);
    if (expect.token !== undefined && token !== expect.token) throw new RingMismatchError(`${path}: ring written by another camera app (token ${token}, expected ${expect.token})`);
    const pixels = width * height * 3;
    const { ino, size } = fstatSync(fd);
    if (slotHeader !== SLOT_HEADER || slotSize !== SLOT_HEADER + pixels || size < FILE_HEADER + slots * slotSize || slots < 1) throw new RingMismatchError(`${path}: inconsistent ring header (slots ${slots}, slot size ${slotSize}, file ${size} bytes)`);

    // One buffer for a whole slot: its header, then the pixels (handed out as `data`).
    const slotBuf = Buffer.alloc(slotSize);
    const sh = slotBuf.subarray(0, SLOT_HEADER);
    const data = slotBuf.subarray(SLOT_HEADER);
    const io = ringIo(fd, path, FILE_HEADER + slots * slotSize, slotBuf, opts.mmap ?? true);
    let closed = false;
    return {
      path, width, height, token, access: io.kind,
      latestSeq: () => io.latest().seq,
      read(after) {
        for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
          // The announced latest seq, the slot copied (header and pixels at once), the slot's seq
          // again. The writer announces a seq only after the slot is complete, and invalidates a
          // slot (seq 0) before touching it, with seqs only ever increasing: so if the slot still
          // holds the announced seq after the copy, nothing of it changed meanwhile.
          const l = io.latest();
          if (l.seq <= 0 || l.seq <= after || l.slot >= slots) return undefined;
          const at = FILE_HEADER + l.slot * slotSize;
          io.copySlot(at, slotSize);
          // Already rewritten (0 or a newer seq) before our copy began: retry with the new header.
          if (sh.readDoubleLE(0) !== l.seq) continue;
          if (io.slotSeq(at) !== l.seq) continue; // lapped mid-copy: torn, retry
          const frameWidth = sh.readUInt32LE(16);
          const frameHeight = sh.readUInt32LE(20);
          const scale = sh.readDoubleLE(24);
          const padX = sh.readUInt32LE(32);
          const padY = sh.readUInt32LE(36);
          return {
            seq: l.seq, ts: sh.readDoubleLE(8), data,
            geometry: {
              width, height, frameWidth, frameHeight, scale, padX, padY,
              pictureWidth: sh.readUInt32LE(40), pictureHeight: sh.readUInt32LE(44),
            },
          };
        }
        return undefined;
      },
      replaced() {
        try {
          return statSync(path).ino !== ino;
        } catch {
          return true;
        }
      },
      close() {
        if (closed) return;
        closed = true;
        closeSync(fd);
      },
    };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/**
 * How a reader gets at the ring file: the three accesses a read makes.
 * - mmap (x64 with apps/camera/native/build/shm.node): the file mapped read-only; the header and a
 *   slot's seq are plain loads, a slot is one memcpy. No syscall per frame, which matters where
 *   each syscall flushes the TLB (page-table isolation without PCID, as on the VM the benchmarks
 *   ran on) and makes the model's next run refill it. x64 only: the seqlock reader relies on loads
 *   not passing loads (x86-TSO); JS has no read barrier to give weaker CPUs that order.
 * - pread: positional reads; each syscall is also a full barrier. The fallback everywhere else.
 */
interface RingIo {
  kind: 'mmap' | 'pread';
  latest(): { seq: number; slot: number };
  copySlot(at: number, size: number): void;
  slotSeq(at: number): number;
}

function ringIo(fd: number, path: string, length: number, slotBuf: Buffer, mmap: boolean): RingIo {
  const addon = mmap ? shmAddon() : null;
  if (addon) {
    const mapped = addon.map(path, length, false);
    const view = new DataView(mapped);
    const bytes = new Uint8Array(mapped);
    return {
      kind: 'mmap',
      latest: () => ({ seq: view.getFloat64(32, true), slot: view.getUint32(40, true) }),
      copySlot: (at, size) => slotBuf.set(bytes.subarray(at, at + size)),
      slotSeq: (at) => view.getFloat64(at, true),
    };
  }
  const latest = Buffer.alloc(12);
  const seqBuf = Buffer.alloc(8);
  return {
    kind: 'pread',
    latest() {
      readSync(fd, latest, 0, 12, 32);
      return { seq: latest.readDoubleLE(0), slot: latest.readUInt32LE(8) };
    },
    copySlot: (at, size) => { readSync(fd, slotBuf, 0, size, at); },
    slotSeq(at) {
      readSync(fd, seqBuf, 0, 8, at);
      return seqBuf.readDoubleLE(0);
    },
  };
}

/** The ring path of `camera` in `dir`. */
export const ringPath = (dir: string, camera: string) => join(dir, ringFileName(camera));
