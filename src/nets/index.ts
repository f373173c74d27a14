/**
 * `pastiche/nets`: the networks, losses, optimisers and weight-file parsers (browser-safe; the Node-only
 * weight store and training loop are under `pastiche/nets/weights/node/store` and `pastiche/nets/train/node/…`).
 */
export * from './models/vgg.ts';
export * from './models/transformer-net.ts';
export * from './models/johnson-net.ts';
export * from './models/adain-decoder.ts';
export * from './models/params.ts';
// Namespaces: the two losses have defaults of the same name (training's layers vs Gatys').
export * as perceptualLoss from './losses/perceptual-loss.ts';
export * as styleLosses from './losses/style-losses.ts';
export * from './optim/adam.ts';
export * from './optim/lbfgs.ts';
export * from './optim/minimize.ts';
export * from './methods/feed-forward/feed-forward.ts';
export * from './weights/host-tensor.ts';
export * from './weights/manifest.ts';
export * from './weights/formats/safetensors.ts';
export * from './weights/formats/pth.ts';
export * from './weights/formats/tflite.ts';
