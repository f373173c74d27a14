/**
 * tfjs autodiff (tf.grad, tf.valueAndGrad, optimizers) in Node. tfjs-core registers no gradients by
 * itself: `register_all_gradients` does, and it exists only in tfjs-core's ESM build, whose
 * extensionless imports Node's ESM resolver rejects (ERR_MODULE_NOT_FOUND / ERR_UNSUPPORTED_DIR_IMPORT).
 * A small resolve hook (tfjs-esm-resolve.mjs) retries those imports with `.js` and `/index.js`.
 *
 * Loading that ESM copy next to the CommonJS copy the backends use is safe: tfjs keeps its engine,
 * kernel and gradient registries on a global namespace (getGlobal), so the gradients registered from
 * the ESM copy are the ones the CommonJS engine looks up, and tensors of either copy pass the other's
 * `instanceof` checks (Tensor's Symbol.hasInstance).
 */
import { register } from 'node:module';

let loading: Promise<void> | null = null;

/** Registers every tfjs gradient once per process (safe to call repeatedly). */
export function loadTfjsGradients(): Promise<void> {
  loading ??= (async () => {
    register('./tfjs-esm-resolve.mjs', import.meta.url);
    await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
  })();
  return loading;
}
