/**
 * Training a feed-forward style net (Johnson et al.): the TrainableModel that pairs a TransformerNet
 * or JohnsonNet with the perceptual loss, and the model file it exports, which
 * `loadFeedForwardModel` (src/nets/feed-forward.ts) loads for `pastiche stylize --method transformer`.
 */
import type { Runtime } from '../../gpu/runtime.ts';
import type { Tensor } from '../../gpu/tensor.ts';
import { JohnsonNet } from '../models/johnson-net.ts';
import type { PerceptualLoss } from '../losses/perceptual-loss.ts';
import { TransformerNet, type NormKind } from '../models/transformer-net.ts';
import type { HostTensorMap } from '../weights/host-tensor.ts';
import { serializeSafetensors } from '../weights/formats/safetensors.ts';
import type { ImageBatch } from './node/dataset.ts';
import type { LossContext, LossResult, TrainableModel } from './trainable.ts';

export type FeedForwardArch = 'transformer-net' | 'johnson';
export const FEED_FORWARD_ARCHS: readonly FeedForwardArch[] = ['transformer-net', 'johnson'];

export interface FeedForwardNetConfig {
  arch: FeedForwardArch;
  norm: NormKind;
  /** Dropout probability in the residual blocks while training (0: none). */
  dropout: number;
}

/** A freshly initialised net of the given architecture (weights seeded by `seed`). */
export function createFeedForwardNet(runtime: Runtime, config: FeedForwardNetConfig, seed: number): TransformerNet | JohnsonNet {
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${config.dropout}`);
  const options = { norm: config.norm, dropout: config.dropout };
  return config.arch === 'johnson' ? JohnsonNet.initialize(runtime, seed, options) : TransformerNet.initialize(runtime, seed, options);
}

/** A feed-forward net trained with a perceptual loss: y = net(x), loss = perceptual(y, x). */
export class FeedForwardTraining implements TrainableModel<ImageBatch> {
  constructor(
    readonly net: TransformerNet | JohnsonNet,
    readonly arch: FeedForwardArch,
    readonly perceptual: PerceptualLoss,
  ) {}

  params(): Tensor[] {
    return this.net.trainableParams();
  }

  loss(batch: ImageBatch, context: LossContext): LossResult {
    const runtime = this.net.params.runtime;
    const x = runtime.upload(batch.data, [batch.count, batch.size, batch.size, 3]);
    // Dropout masks are seeded per iteration (the nets derive one seed per residual block from it).
    this.net.dropoutSeed = context.seed;
    const y = this.net.forward(x);
    return this.perceptual.loss(y, x);
  }

  setTraining(training: boolean): void {
    this.net.training = training;
  }

  async saveState(): Promise<HostTensorMap> {
    // All readbacks in flight at once (one after another costs a GPU round trip per tensor).
    const store = this.net.params;
    const names = store.names();
    const data = await Promise.all(names.map((n) => store.get(n).data()));
    return new Map(names.map((n, i) => [n, { shape: [...store.get(n).shape], data: data[i]! }]));
  }

  loadState(state: HostTensorMap): void {
    const store = this.net.params;
    const names = store.names();
    const missing = names.filter((n) => !state.has(n));
    const extra = [...state.keys()].filter((n) => !store.has(n));
    if (missing.length || extra.length) {
      throw new Error(`the saved state does not fit this ${this.arch} net (missing: ${missing.join(', ') || 'none'}; unexpected: ${extra.join(', ') || 'none'})`);
    }
    for (const name of names) {
      const t = state.get(name)!;
      store.get(name, t.shape); // checks the shape
      store.set(name, store.runtime.upload(t.data, t.shape));
    }
  }

  describe(): Record<string, string> {
    return { model: 'feed-forward', arch: this.arch, norm: this.net.norm, dropout: String(this.net.dropoutRate) };
  }
}

/** Metadata key of pastiche's feed-forward model files. */
export const FEED_FORWARD_MODEL_FORMAT = 'pastiche-feed-forward';

/**
 * The model file: the net's parameters (batch-norm running statistics included) under the names
 * `loadFeedForwardModel` reads, with the architecture, norm and training details as metadata.
 */
export function serializeFeedForwardModel(weights: HostTensorMap, config: FeedForwardNetConfig, extra: Record<string, string> = {}): Uint8Array {
  return serializeSafetensors(weights, {
    metadata: { ...extra, format: FEED_FORWARD_MODEL_FORMAT, arch: config.arch, norm: config.norm, dropout: String(config.dropout) },
  });
}
