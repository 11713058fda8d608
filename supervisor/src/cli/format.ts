import type { TreeEvent } from '../core/events.ts';
import type { ChildSnapshot, TreeSnapshot } from '../runtime/types.ts';

/** "4s", "5m12s", "2h03m", "3d04h": short, and precise where it matters for a technician. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

function depthOf(node: ChildSnapshot, byId: Map<string, ChildSnapshot>): number {
  let depth = 0;
  for (let p = node.parent; p !== null; p = byId.get(p)?.parent ?? null) depth++;
  return depth;
}

/** Lays out rows in columns separated by two spaces; the last column is not padded. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

/**
 * What the LAST-REASON column says: why the node was last restarted (and how long ago), which is
 * what a technician asks; a node never restarted shows why it is down, or "-" while up.
 */
export function lastReasonCell(node: ChildSnapshot, now: number): string {
  if (node.lastRestartReason) {
    return node.lastRestartAt !== null && node.lastRestartAt !== undefined ? `${node.lastRestartReason} (${formatDuration(now - node.lastRestartAt)} ago)` : node.lastRestartReason;
  }
  const up = node.state === 'running' || node.state === 'starting';
  return up ? '-' : (node.lastReason ?? '-');
}

/** The WORKER cell: a typed worker's own state and how long it has been in it ("streaming 12s"). */
export function workerStateCell(node: ChildSnapshot, now: number): string {
  if (!node.workerState) return '-';
  // A stale inner node's state is the last known one: how long it has lasted is not known.
  return node.workerStateSince !== undefined && !node.stale ? `${node.workerState} ${formatDuration(now - node.workerStateSince)}` : node.workerState;
}

/**
 * The `status` table: ID STATE UPTIME RESTARTS LAST-REASON, in start order, the root first and
 * each level of nesting indented by two spaces. Uptime is shown only while the node is up.
 * When any node is a typed worker (its own states, `camera/dock` streaming), a WORKER column
 * after STATE shows its state and for how long.
 * An app's inner nodes (`camera/dock`) sit under their child; stale ones (the app stopped
 * answering) show their last known state marked "(stale)".
 */
export function formatStatus(tree: TreeSnapshot, now = Date.now()): string {
  const byId = new Map(tree.nodes.map((n) => [n.id, n]));
  const typed = tree.nodes.some((n) => n.workerState);
  const rows: string[][] = [['ID', 'STATE', ...(typed ? ['WORKER'] : []), 'UPTIME', 'RESTARTS', 'LAST-REASON']];
  for (const node of tree.nodes) {
    const up = !node.stale && node.startedAt !== null && (node.state === 'running' || node.state === 'starting' || node.state === 'unhealthy');
    let state: string = node.manuallyStopped && node.state === 'stopped' ? 'stopped (manual)' : node.state;
    if (node.inner && node.stale) state += ' (stale)';
    rows.push([
      '  '.repeat(depthOf(node, byId)) + node.id,
      state,
      ...(typed ? [workerStateCell(node, now)] : []),
      up ? formatDuration(now - node.startedAt!) : '-',
      String(node.restarts),
      lastReasonCell(node, now),
    ]);
  }
  return formatTable(rows);
}

function clock(ts: number): string {
  const d = new Date(ts);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** One event per line: time, seq, type, child, then what changed and why. */
export function formatEvent(ev: TreeEvent): string {
  const change = ev.from || ev.to ? `${ev.from ?? '?'} -> ${ev.to ?? '?'}  ` : '';
  const role = ev.type === 'manual' && typeof ev.data?.['role'] === 'string' ? `  (by ${String(ev.data['role'])})` : '';
  return `${clock(ev.ts)}  #${ev.seq}  ${ev.type.padEnd(10)}  ${ev.child}  ${change}${ev.reason}${role}`;
}
