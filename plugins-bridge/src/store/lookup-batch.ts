/**
 * Lookups by key arriving together, answered by one query (PostgreSQL: one round trip instead of
 * one each; the webhook intake looks up a link per event). The lookups of one turn of the event
 * loop, and all those made while a query is in flight, go in the next query; the same key asked
 * twice is asked once. A query that fails fails the lookups it carried, nothing else.
 *
 * Only reads go through here, and a lookup is always sent after it was made: a caller sees every
 * write that completed before it asked.
 */
export class LookupBatch<V> {
  private pending = new Map<string, Array<{ resolve: (v: V | undefined) => void; reject: (err: unknown) => void }>>();
  private flushing = false;

  constructor(
    /** The values found among `keys`, by key; a key missing from the map has none. */
    private readonly load: (keys: string[]) => Promise<Map<string, V>>,
    private readonly maxKeys: number,
  ) {}

  get(key: string): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const waiting = this.pending.get(key);
      if (waiting) waiting.push({ resolve, reject });
      else this.pending.set(key, [{ resolve, reject }]);
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending].slice(0, this.maxKeys);
        for (const [key] of batch) this.pending.delete(key);
        try {
          const found = await this.load(batch.map(([key]) => key));
          for (const [key, waiting] of batch) for (const w of waiting) w.resolve(found.get(key));
        } catch (err) {
          for (const [, waiting] of batch) for (const w of waiting) w.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
