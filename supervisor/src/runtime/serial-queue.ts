/**
 * Runs async tasks one at a time, in order. Each supervisor owns one, so that a restart decision,
 * a manual action and a delayed restart never interleave on the same set of children.
 */
export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
