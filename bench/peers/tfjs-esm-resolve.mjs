// A Node module-resolution hook (registered by tfjs-gradients.ts through `module.register`) that lets
// Node load tfjs-core's ESM build: its files import each other without extensions ('./engine',
// './gradients/Abs_grad'; './gradients' means gradients.js, next to a gradients/ folder), which
// Node's ESM resolver refuses (ERR_MODULE_NOT_FOUND, ERR_UNSUPPORTED_DIR_IMPORT). Only relative
// specifiers imported from inside node_modules/@tensorflow are retried, with `.js` and then
// `/index.js`; everything else resolves exactly as before.
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const parent = context.parentURL ?? '';
    if (!specifier.startsWith('.') || !parent.includes('/node_modules/@tensorflow/')) throw err;
    for (const candidate of [`${specifier}.js`, `${specifier}/index.js`]) {
      try {
        return await nextResolve(candidate, context);
      } catch {
        // not this form either: try the next
      }
    }
    throw err;
  }
}
