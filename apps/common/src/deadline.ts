/**
 * A deadline as an AbortSignal, with a timer this code holds and clears. Not
 * `AbortSignal.any([parent, AbortSignal.timeout(ms)])`: Node's timeout timer holds its signal
 * only weakly (so it can be collected, whatwg/dom#1032) and any() holds its sources weakly too,
 * so under GC pressure the timeout can vanish before it fires and the request waits forever.
 * Seen in onvif.bench.ts: with 50 cameras, hung ones stayed "ok" for over a minute; with this
 * deadline they are unreachable one timeout after their next refresh. Every app's bounded call
 * with a parent signal uses it (onvif SOAP, the camera's onvif source, inference's frame pulls).
 */
export interface Deadline {
  signal: AbortSignal;
  /** True once the deadline itself (not the parent) aborted. */
  expired(): boolean;
  /** Clears the timer and unhooks the parent. Call it in a finally. */
  clear(): void;
}

export function deadline(ms: number, parent?: AbortSignal): Deadline {
  const ac = new AbortController();
  let expired = false;
  const timer = setTimeout(() => { expired = true; ac.abort(new DOMException(`deadline of ${ms} ms passed`, 'TimeoutError')); }, ms);
  const onParent = () => ac.abort(parent!.reason);
  if (parent?.aborted) onParent();
  else parent?.addEventListener('abort', onParent, { once: true });
  return {
    signal: ac.signal,
    expired: () => expired,
    clear: () => { clearTimeout(timer); parent?.removeEventListener('abort', onParent); },
  };
}
