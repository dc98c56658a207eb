/**
 * Runs tasks one after another per lane, and different lanes side by side: per-device order
 * without serialising a whole service.
 */
export class SerialLanes {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(lane: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(lane) ?? Promise.resolve();
    const result = previous.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(lane, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(lane) === tail) {
        this.tails.delete(lane);
      }
    }
  }

  get size(): number {
    return this.tails.size;
  }

  async drain(): Promise<void> {
    while (this.tails.size > 0) {
      await Promise.all([...this.tails.values()]);
    }
  }
}
