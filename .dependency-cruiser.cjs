// Module-graph rules for src/, checked by `npm run lint` (scripts/lint.mjs runs depcruise).
// The TypeScript compiler here (tsgo) has no JavaScript API, so swc parses the sources.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import cycle: move the shared piece down a layer (types, a registry module) instead.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'gpu-below-apps',
      severity: 'error',
      comment: 'The engine (src/gpu) must not depend on the nets, the CLI or the page.',
      from: { path: '^src/gpu/' },
      to: { path: '^src/(nets|cli|app)/' },
    },
    {
      name: 'autograd-below-nets',
      severity: 'error',
      comment: 'Autodiff must not depend on the nets built on it.',
      from: { path: '^src/autograd/' },
      to: { path: '^src/nets/' },
    },
    {
      name: 'gpu-core-below-shaders',
      severity: 'error',
      comment:
        'The core of the engine (src/gpu/*.ts: tensors, runtime, grid helpers) sits below the WGSL sources and the kernels, which both import it.',
      from: { path: '^src/gpu/[^/]+$' },
      to: { path: '^src/(shaders|gpu/kernels)/' },
    },
    {
      name: 'shaders-below-kernels',
      severity: 'error',
      comment: 'WGSL sources must not depend on the kernels that dispatch them.',
      from: { path: '^src/shaders/' },
      to: { path: '^src/gpu/kernels/' },
    },
    {
      name: 'browser-code-not-node',
      severity: 'error',
      comment: "Code the page can load must not import Node-only modules: those live in folders named node/ (training is Node-only as a whole).",
      from: { path: ['^src/(app|gpu|shaders|autograd|nets|api)/', '^src/index(\\.browser)?\\.ts$'], pathNot: ['/node/', '^src/nets/train/', '^src/gpu/(device|vulkan-drivers|tuning-store)\\.ts$'] },
      to: { path: '/node/' },
    },
  ],
  options: {
    parser: 'swc',
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.d\\.ts$' },
    tsPreCompilationDeps: true,
  },
};
