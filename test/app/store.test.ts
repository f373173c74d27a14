// The demo page's store: listeners run for the fields they name, after in-place changes too, and
// updates made by a listener are delivered after the current round, in subscription order.

import { describe, expect, it } from 'vitest';
import { Store } from '../../src/app/state/store.ts';

interface Demo {
  count: number;
  label: string;
  items: number[];
}

const fresh = () => new Store<Demo>({ count: 0, label: '', items: [] });

describe('Store', () => {
  it('calls a listener only when a field it names is updated', () => {
    const store = fresh();
    const seen: string[] = [];
    store.subscribe(['count'], (s) => seen.push(`count ${s.count}`));
    store.subscribe(['label'], (s) => seen.push(`label ${s.label}`));
    store.subscribe('all', (_, changed) => seen.push(`all ${[...changed].join(',')}`));
    store.update({ count: 1 });
    store.update({ label: 'a', count: 2 });
    expect(seen).toEqual(['count 1', 'all count', 'count 2', 'label a', 'all label,count']);
    expect(store.get()).toEqual({ count: 2, label: 'a', items: [] });
  });

  it('notifies on an update that sets the same value, and on touch after an in-place change', () => {
    const store = fresh();
    const counts: number[] = [];
    store.subscribe(['items'], (s) => counts.push(s.items.length));
    store.update({ count: 0 });
    store.update({ items: store.get().items });
    store.get().items.push(7);
    store.touch('items');
    expect(counts).toEqual([0, 1]);
  });

  it('delivers updates made by a listener after the current round, to every listener', () => {
    const store = fresh();
    const seen: string[] = [];
    store.subscribe(['count'], (s) => {
      seen.push(`first ${s.count}/${s.label}`);
      if (s.count === 1) store.update({ label: 'from listener' });
    });
    store.subscribe(['count', 'label'], (s) => seen.push(`second ${s.count}/${s.label}`));
    store.update({ count: 1 });
    expect(seen).toEqual(['first 1/', 'second 1/from listener', 'second 1/from listener']);
  });

  it('stops calling a listener once unsubscribed', () => {
    const store = fresh();
    let calls = 0;
    const unsubscribe = store.subscribe(['count'], () => calls++);
    store.update({ count: 1 });
    unsubscribe();
    store.update({ count: 2 });
    expect(calls).toBe(1);
  });
});
