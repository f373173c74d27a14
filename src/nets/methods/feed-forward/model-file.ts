/** A feed-forward model from a file's bytes: pastiche's .safetensors or a PyTorch fast_neural_style .pth. */
import type { HostTensorMap } from '../../weights/host-tensor.ts';
import { convOihwToHwio, readPth } from '../../weights/formats/pth.ts';
import { parseSafetensors } from '../../weights/formats/safetensors.ts';

/** A PyTorch fast_neural_style state_dict: OIHW convs → HWIO; instance-norm running stats (old exports) dropped. */
function fromPytorchTransformerNet(sd: HostTensorMap): HostTensorMap {
  const out: HostTensorMap = new Map();
  for (const [name, t] of sd) {
    if (/\.in\d\.running_(mean|var)$|num_batches_tracked$/.test(name)) continue;
    out.set(name, name.endsWith('conv2d.weight') ? convOihwToHwio(t) : t);
  }
  return out;
}

export async function feedForwardWeightsFromBytes(bytes: Uint8Array, name: string): Promise<HostTensorMap> {
  return /\.(pth|pt)$/i.test(name) ? fromPytorchTransformerNet(await readPth(bytes, name)) : parseSafetensors(bytes, name).tensors;
}
