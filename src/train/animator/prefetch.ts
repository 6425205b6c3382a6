// Keeps the loads of the next `depth` batches in flight while the current step runs. The loads are
// asynchronous I/O and decodes on the thread pool, so they progress during a (synchronous) training step;
// a failed load surfaces when its batch is taken, not earlier.
export class Prefetcher<T> {
  private readonly pending = new Map<number, Promise<T>>();
  private nextIndex: number;

  constructor(private readonly load: (index: number) => Promise<T>, start: number, private readonly depth = 2, private readonly end = Infinity) {
    if (!(Number.isInteger(depth) && depth >= 1)) throw new Error(`Prefetcher: depth must be a positive integer, got ${depth}`);
    this.nextIndex = start;
    this.fill();
  }

  private fill(): void {
    for (let i = this.nextIndex; i < Math.min(this.nextIndex + this.depth, this.end); i++) {
      if (!this.pending.has(i)) {
        const p = this.load(i);
        p.catch(() => undefined); // reported when taken
        this.pending.set(i, p);
      }
    }
  }

  /** Loads in flight (for tests and progress). */
  get inFlight(): number {
    return this.pending.size;
  }

  /** The next batch; starts the load of the one `depth` ahead. */
  async next(): Promise<T> {
    const i = this.nextIndex;
    if (i >= this.end) throw new Error(`Prefetcher: no batch ${i} (the run ends at ${this.end})`);
    const p = this.pending.get(i) ?? this.load(i);
    this.pending.delete(i);
    this.nextIndex++;
    this.fill();
    return p;
  }
}
