import type { EventDraft, TreeEvent } from '../core/events.ts';
import type { EventSink } from '../runtime/types.ts';

/**
 * The persistent event log (SQLite, WAL). `seq` is strictly increasing across reopenings of the
 * same file. Retention keeps the newest `retainEvents` events.
 */
export interface EventStore extends EventSink {
  /** Like EventSink.append; `seq`, when given, numbers the event (it must be above lastSeq()). */
  append(draft: EventDraft, seq?: number): TreeEvent;
  /** Events with seq > `after`, oldest first, at most `limit`. */
  since(after: number, limit: number): TreeEvent[];
  lastSeq(): number;
  close(): void;
}
