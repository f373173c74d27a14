import { add, relu } from '../../src/autograd/ops/elementwise.ts';
import { sum } from '../../src/autograd/ops/reduce.ts';
import { disposeAll, randomTensor, randomTf } from '../data.ts';
import type { BenchDef } from '../types.ts';

const N = 1 << 20;
const ALL = ['quick', 'default', 'full'] as const;

export const elementwiseBenches: BenchDef[] = [
  {
    name: 'add 1M',
    group: 'elementwise',
    tiers: ALL,
    flops: N,
    bytes: 3 * 4 * N,
    setup(rt) {
      const a = randomTensor(rt, [N], 1);
      const b = randomTensor(rt, [N], 2);
      return { run: () => void add(a, b), dispose: () => disposeAll(a, b) };
    },
    peer(tf) {
      const a = randomTf(tf, [N], 1);
      const b = randomTf(tf, [N], 2);
      return { run: () => void tf.add(a, b), dispose: () => disposeAll(a, b) };
    },
  },
  {
    name: 'relu 1M',
    group: 'elementwise',
    tiers: ALL,
    flops: N,
    bytes: 2 * 4 * N,
    setup(rt) {
      const x = randomTensor(rt, [N], 3);
      return { run: () => void relu(x), dispose: () => x.dispose() };
    },
    peer(tf) {
      const x = randomTf(tf, [N], 3);
      return { run: () => void tf.relu(x), dispose: () => x.dispose() };
    },
  },
  {
    name: 'reduce-sum 1M -> scalar',
    group: 'reduce',
    tiers: ALL,
    flops: N,
    bytes: 4 * N,
    setup(rt) {
      const x = randomTensor(rt, [N], 4);
      return { run: () => void sum(x), dispose: () => x.dispose() };
    },
    peer(tf) {
      const x = randomTf(tf, [N], 4);
      return { run: () => void tf.sum(x), dispose: () => x.dispose() };
    },
  },
];
