import { describe, expect, it } from 'vitest';
import { valueAndGradOf } from '../../../src/autograd/grad.ts';
import { add, addScalar, mul, scale, square, sub } from '../../../src/autograd/ops/elementwise.ts';
import { reshape, sum } from '../../../src/autograd/ops/reduce.ts';
import type { Tensor } from '../../../src/gpu/tensor.ts';
import { unary } from '../../../src/gpu/kernels/elementwise.ts';
import { packScalars } from '../../../src/gpu/kernels/optim.ts';
import { Lbfgs } from '../../../src/nets/optim/lbfgs.ts';
import type { Objective } from '../../../src/nets/optim/objective.ts';
import { useRuntime } from '../../helpers/gpu.ts';

const runtime = useRuntime();

function objectiveOf(f: (x: Tensor) => Tensor): Objective {
  return (x) => {
    const { value, grads } = valueAndGradOf(() => f(x), [x]);
    return { loss: value, grad: grads[0]! };
  };
}

/** Σ over independent pairs of the 2-D Rosenbrock function (1−a)² + 100(b−a²)²; minimum 0 at all ones. */
function rosenbrock(x: Tensor, evenMask: Tensor, oddMask: Tensor): Tensor {
  const pairs = reshape(x, [-1, 2]);
  const a = sum(mul(pairs, evenMask), [1]);
  const b = sum(mul(pairs, oddMask), [1]);
  const first = square(addScalar(scale(a, -1), 1));
  const second = scale(square(sub(b, square(a))), 100);
  return sum(add(first, second));
}

describe('L-BFGS', () => {
  it('follows a float64 CPU L-BFGS iterate for iterate on a quadratic', async () => {
    const rt = runtime();
    const n = 30;
    const w = Array.from({ length: n }, (_, i) => 10 ** ((3 * i) / (n - 1)));
    const centre = Array.from({ length: n }, (_, i) => Math.sin(i));
    const reference = referenceLbfgsLosses(w, centre, 15);
    const opt = new Lbfgs(rt.upload(new Float32Array(n), [n]), objectiveOf((x) => sum(mul(rt.upload(w, [n]), square(sub(x, rt.upload(centre, [n])))))));
    for (const expected of reference) {
      const { loss } = await opt.step();
      expect(Math.abs(loss - expected) / expected).toBeLessThan(1e-3);
    }
    opt.dispose();
  });

  it('minimises an ill-conditioned quadratic to its known optimum', async () => {
    const rt = runtime();
    const n = 20;
    const weights = rt.upload(Array.from({ length: n }, (_, i) => 10 ** ((2 * i) / (n - 1))), [n]); // condition number 100
    const centre = Array.from({ length: n }, (_, i) => Math.sin(i));
    const c = rt.upload(centre, [n]);
    const x0 = rt.upload(new Float32Array(n), [n]);
    const opt = new Lbfgs(x0, objectiveOf((x) => sum(mul(weights, square(sub(x, c))))));
    let loss = Infinity;
    for (let i = 0; i < 80 && loss > 1e-7; i++) loss = (await opt.step()).loss;
    expect(loss).toBeLessThan(1e-6);
    const x = await opt.x.data();
    for (let i = 0; i < n; i++) expect(x[i]).toBeCloseTo(centre[i]!, 3);
    opt.dispose();
  });

  it('minimises the Rosenbrock function from the classic start (−1.2, 1)', async () => {
    const rt = runtime();
    const pairs = 4;
    const start = Array.from({ length: pairs }, () => [-1.2, 1]).flat();
    const x0 = rt.upload(start, [2 * pairs]);
    const even = rt.upload([1, 0], [2]);
    const odd = rt.upload([0, 1], [2]);
    const opt = new Lbfgs(x0, objectiveOf((x) => rosenbrock(x, even, odd)), { historySize: 8 });
    let result = { loss: Infinity, evaluations: 0, progressed: true };
    for (let i = 0; i < 200 && result.progressed && result.loss > 1e-10; i++) result = await opt.step();
    expect(result.loss).toBeLessThan(1e-6);
    const x = await opt.x.data();
    for (const v of x) expect(v).toBeCloseTo(1, 2);
    opt.dispose();
  });

  it('doubles a first step of unknown scale while the loss falls (a far-away optimum in one iteration)', async () => {
    const rt = runtime();
    const n = 100;
    const c = rt.upload(new Float32Array(n).fill(1000), [n]);
    const opt = new Lbfgs(rt.upload(new Float32Array(n), [n]), objectiveOf((x) => sum(square(sub(x, c)))));
    const initial = n * 1000 ** 2;
    const first = await opt.step();
    // Without doubling, the first step would move each element by 0.01 (L1 length 1), leaving 99.998% of
    // the loss; doubling brackets the best step within a factor of 2, which leaves at most a quarter.
    expect(first.loss).toBeLessThan(0.25 * initial);
    expect(first.evaluations).toBeLessThanOrEqual(2 + 20);
    // The accepted pair then carries the curvature: on this isotropic quadratic the next step is exact.
    expect((await opt.step()).loss).toBeLessThan(1e-6 * initial);
    opt.dispose();
  });

  it('takes a first step of mean size firstStepSize when the scale is given', async () => {
    const rt = runtime();
    const n = 64;
    const start = Array.from({ length: n }, (_, i) => Math.sin(i));
    const c = rt.upload(new Float32Array(n).fill(1000), [n]);
    const weights = rt.upload(Array.from({ length: n }, (_, i) => 1 + (i % 5)), [n]);
    const opt = new Lbfgs(rt.upload(start, [n]), objectiveOf((x) => sum(mul(weights, square(sub(x, c))))), { firstStepSize: 7 });
    const { evaluations } = await opt.step();
    expect(evaluations).toBe(2); // the step was accepted as it came: no halving, no doubling
    const x = await opt.x.data();
    const meanStep = x.reduce((s, v, i) => s + Math.abs(v - start[i]!), 0) / n;
    expect(meanStep).toBeCloseTo(7, 3);
    opt.dispose();
    expect(() => new Lbfgs(rt.upload([0], [1]), objectiveOf((x) => sum(square(x))), { firstStepSize: 0 })).toThrow(/firstStepSize/);
  });

  it("reads the objective's report back with the loss: the values of the accepted point, in the same transfer", async () => {
    const rt = runtime();
    const n = 50;
    const c = rt.upload(Array.from({ length: n }, (_, i) => Math.sin(i)), [n]);
    const weights = rt.upload(Array.from({ length: n }, (_, i) => 1 + (i % 7)), [n]);
    // The report: [loss, 3·loss + 1], as a vector computed next to the loss.
    const objective: Objective = (x) => {
      const { value, grads } = valueAndGradOf(() => sum(mul(weights, square(sub(x, c)))), [x]);
      const affine = unary('affine', value, 3, 1);
      const report = packScalars([value, affine]);
      affine.dispose();
      return { loss: value, grad: grads[0]!, report };
    };
    const opt = new Lbfgs(rt.upload(new Float32Array(n), [n]), objective);
    for (let i = 0; i < 6; i++) {
      const before = rt.stats().readbacks;
      const evaluations = opt.evaluations;
      const step = await opt.step();
      expect(rt.stats().readbacks - before).toBe(opt.evaluations - evaluations);
      expect(step.report![0]).toBe(step.loss);
      expect(step.report![1]).toBeCloseTo(3 * step.loss + 1, 4);
    }
    opt.dispose();
  });

  it('keeps history on the GPU: one readback per evaluation and no growth in live memory', async () => {
    const rt = runtime();
    const n = 1000;
    const c = rt.upload(Array.from({ length: n }, (_, i) => Math.cos(i)), [n]);
    const x0 = rt.upload(new Float32Array(n), [n]);
    const opt = new Lbfgs(x0, objectiveOf((x) => sum(square(sub(x, c)))), { historySize: 3 });
    for (let i = 0; i < 5; i++) await opt.step();
    await rt.flush();
    const before = rt.stats();
    const evalsBefore = opt.evaluations;
    for (let i = 0; i < 5; i++) await opt.step();
    await rt.flush();
    const after = rt.stats();
    expect(after.readbacks - before.readbacks).toBe(opt.evaluations - evalsBefore);
    expect(after.liveBytes).toBe(before.liveBytes);
    opt.dispose();
  });
});

/** The same algorithm in float64 on the CPU (m = 10, Armijo backtracking from t = 1): the losses per iteration. */
function referenceLbfgsLosses(w: number[], c: number[], iterations: number): number[] {
  const f = (x: number[]) => x.reduce((s, v, i) => s + w[i]! * (v - c[i]!) ** 2, 0);
  const grad = (x: number[]) => x.map((v, i) => 2 * w[i]! * (v - c[i]!));
  const dotp = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);
  let x = new Array<number>(w.length).fill(0);
  let g = grad(x);
  let fx = f(x);
  const S: number[][] = [];
  const Y: number[][] = [];
  const R: number[] = [];
  let h = 1;
  const losses: number[] = [];
  for (let it = 0; it < iterations; it++) {
    let q = g.map((v) => -v);
    if (S.length === 0) {
      const l1 = g.reduce((s, v) => s + Math.abs(v), 0);
      q = q.map((v) => v * Math.min(1, 1 / l1));
    } else {
      const alpha: number[] = [];
      for (let i = S.length - 1; i >= 0; i--) {
        alpha[i] = R[i]! * dotp(S[i]!, q);
        q = q.map((v, j) => v - alpha[i]! * Y[i]![j]!);
      }
      q = q.map((v) => v * h);
      for (let i = 0; i < S.length; i++) {
        const beta = R[i]! * dotp(Y[i]!, q);
        q = q.map((v, j) => v + S[i]![j]! * (alpha[i]! - beta));
      }
    }
    const gtd = dotp(g, q);
    for (let t = 1, k = 0; k < 12; k++, t *= 0.5) {
      let xn = x.map((v, j) => v + t * q[j]!);
      let fn = f(xn);
      if (fn <= fx + 1e-4 * t * gtd) {
        // A first step accepted at once is doubled while the loss keeps falling.
        for (let e = 0; S.length === 0 && k === 0 && e < 20; e++) {
          const t2 = 2 * t;
          const x2 = x.map((v, j) => v + t2 * q[j]!);
          const f2 = f(x2);
          if (!(f2 < fn && f2 <= fx + 1e-4 * t2 * gtd)) break;
          [xn, fn, t] = [x2, f2, t2];
        }
        const gn = grad(xn);
        const s = q.map((v) => v * t);
        const y = gn.map((v, j) => v - g[j]!);
        const ys = dotp(y, s);
        if (ys > 1e-10) {
          S.push(s);
          Y.push(y);
          R.push(1 / ys);
          h = ys / dotp(y, y);
          if (S.length > 10) [S, Y, R].forEach((a) => a.shift());
        }
        [x, g, fx] = [xn, gn, fn];
        break;
      }
    }
    losses.push(fx);
  }
  return losses;
}
