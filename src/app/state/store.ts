// A small observable store: one state object, `update` to change it, `subscribe` to re-render.
// Listeners name the fields they read and run only when one of those changed. Updates made while
// listeners run (a panel dispatching in reaction to another) are delivered in a further round, so
// no listener runs inside another, and listeners always run in subscription order.

export type Listener<T> = (state: Readonly<T>, changed: ReadonlySet<keyof T>) => void;

interface Subscription<T> {
  fields: ReadonlySet<keyof T> | 'all';
  listener: Listener<T>;
}

export class Store<T extends object> {
  private readonly subscriptions: Subscription<T>[] = [];
  private pending = new Set<keyof T>();
  private notifying = false;

  constructor(private readonly state: T) {}

  get(): Readonly<T> {
    return this.state;
  }

  /** Sets the given fields and notifies the listeners of each (even when a value is unchanged). */
  update(patch: Partial<T>): void {
    Object.assign(this.state, patch);
    this.touch(...(Object.keys(patch) as (keyof T)[]));
  }

  /** Notifies the listeners of fields whose objects were changed in place (a run's losses, a session's counters). */
  touch(...fields: (keyof T)[]): void {
    for (const field of fields) this.pending.add(field);
    if (this.notifying) return;
    this.notifying = true;
    try {
      while (this.pending.size) {
        const changed = this.pending;
        this.pending = new Set();
        for (const { fields: wanted, listener } of [...this.subscriptions]) {
          if (wanted === 'all' || [...changed].some((f) => wanted.has(f))) listener(this.state, changed);
        }
      }
    } finally {
      this.notifying = false;
    }
  }

  /** Calls `listener` after every change to one of `fields` ('all': every change); returns an unsubscribe. */
  subscribe(fields: readonly (keyof T)[] | 'all', listener: Listener<T>): () => void {
    const subscription: Subscription<T> = { fields: fields === 'all' ? 'all' : new Set(fields), listener };
    this.subscriptions.push(subscription);
    return () => {
      const index = this.subscriptions.indexOf(subscription);
      if (index >= 0) this.subscriptions.splice(index, 1);
    };
  }
}
