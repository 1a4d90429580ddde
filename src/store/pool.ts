/**
 * A few connections of their own, each lent to one task at a time: a WATCH belongs to the
 * connection that sent it, so two optimistic transactions must never share one. Connections are
 * opened on demand up to `size`; a task that finds them all lent waits for the next one back.
 */
export class ConnectionPool<C> {
  private readonly idle: C[] = [];
  private readonly all: C[] = [];
  private readonly waiters: ((c: C) => void)[] = [];

  constructor(
    private readonly open: () => C,
    private readonly size: number,
  ) {}

  /** every connection opened so far (to close them) */
  get members(): readonly C[] {
    return this.all;
  }

  async use<T>(fn: (c: C) => Promise<T>): Promise<T> {
    const c =
      this.idle.pop() ?? (this.all.length < this.size ? this.add() : await new Promise<C>((r) => this.waiters.push(r)));
    try {
      return await fn(c);
    } finally {
      const next = this.waiters.shift();
      if (next) next(c);
      else this.idle.push(c);
    }
  }

  private add(): C {
    const c = this.open();
    this.all.push(c);
    return c;
  }
}
