/** `pastiche/autograd`: the tape, gradients and the differentiable ops on GPU tensors. */
export * from './tape.ts';
export * from './grad.ts';
export * from './ops/conv2d.ts';
export * from './ops/dropout.ts';
export * from './ops/elementwise.ts';
export * from './ops/gram.ts';
export * from './ops/losses.ts';
export * from './ops/matmul.ts';
export * from './ops/moments.ts';
export * from './ops/norm.ts';
export * from './ops/pad.ts';
export * from './ops/pool.ts';
export * from './ops/reduce.ts';
export * from './ops/resize.ts';
export * from './ops/structural.ts';
export * from './ops/total-variation.ts';
