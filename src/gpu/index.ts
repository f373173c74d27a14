/** `pastiche/gpu`: the WebGPU tensor runtime (device, tensors, scopes, errors) for people who want the engine. */
export * from './runtime.ts';
export * from './tensor.ts';
export * from './device.ts';
export * from './errors.ts';
export * from './scope.ts';
