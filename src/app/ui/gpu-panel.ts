// What the page shows instead of results when WebGPU cannot start: what went wrong, and what to do.

import type { GpuProblem } from '../gpu.ts';
import { h, icon } from './dom.ts';

const HEADLINES: Record<GpuProblem, string> = {
  'insecure-context': 'WebGPU needs a secure page',
  'no-api': 'This browser does not offer WebGPU',
  'no-adapter': 'WebGPU is switched on, but no GPU adapter is available',
  'device-failed': 'The GPU was found but could not be started',
  lost: 'The GPU device was lost',
  'out-of-memory': 'The GPU ran out of memory',
};

const EXPLANATIONS: Record<GpuProblem, string> = {
  'insecure-context':
    'Browsers only expose WebGPU to pages served over https:// or from localhost. Open the demo through the address `npm start` prints (http://localhost:…).',
  'no-api':
    'pastiche runs its neural networks on your graphics card through WebGPU, and navigator.gpu is missing here: the browser is too old, or WebGPU is turned off.',
  'no-adapter':
    'The browser knows WebGPU, but requestAdapter() found no usable adapter: the GPU may be blocklisted, its driver missing, or WebGPU still behind a flag on this platform (common on Linux).',
  'device-failed': 'The adapter refused to create a device with the limits pastiche asks for.',
  lost: 'The driver reset the GPU or it ran out of memory, and the run stopped. Retry starts a fresh device (the models load again); your images and results stay.',
  'out-of-memory': 'The run needed a larger GPU buffer than this adapter allows, and stopped. Retry starts a fresh device; choose a smaller working size before running again.',
};

function code(text: string): HTMLElement {
  return h('code', {}, text);
}

export function gpuPanel(problem: GpuProblem, detail: string, onRetry: () => void): HTMLElement {
  const fault = problem === 'lost' || problem === 'out-of-memory';
  const steps: HTMLElement[] =
    problem === 'insecure-context'
      ? [h('li', {}, 'Open the page at the address ', code('npm start'), ' prints (', code('http://localhost:…'), '), or serve it over ', code('https://'), '.')]
      : fault
        ? [h('li', {}, 'Press Retry. If it happens again, choose a smaller working size, or reload the page.')]
        : [
            h('li', {}, h('strong', {}, 'Use a browser with WebGPU: '), 'Chrome or Edge 113 or newer (Windows, macOS, ChromeOS), Chrome 121+ on Android, Safari 26+, or Firefox 141+ on Windows.'),
            h(
              'li',
              {},
              h('strong', {}, 'On Linux, or if your GPU is blocklisted: '),
              'open ',
              code('chrome://flags/#enable-unsafe-webgpu'),
              ', set it to Enabled (on Linux also ',
              code('chrome://flags/#enable-vulkan'),
              ') and restart the browser — or start it with ',
              code('--enable-unsafe-webgpu --enable-features=Vulkan'),
              '.',
            ),
            h(
              'li',
              {},
              h('strong', {}, 'Check '),
              code('chrome://gpu'),
              ': the WebGPU line should say “Hardware accelerated”. If it does not, turn on “Use graphics acceleration when available” in the browser settings and update the GPU driver.',
            ),
            h(
              'li',
              {},
              h('strong', {}, 'No GPU at all? '),
              'Chromium can run WebGPU on the CPU with SwiftShader (slow, but it works): ',
              code('--enable-unsafe-webgpu --use-angle=swiftshader'),
              '.',
            ),
          ];
  return h(
    'section',
    { class: 'gpu-panel', role: 'alert', 'data-problem': problem },
    h('div', { class: 'gpu-panel-icon' }, icon('chip')),
    h(
      'div',
      { class: 'gpu-panel-body' },
      h('h2', {}, HEADLINES[problem]),
      h('p', { class: 'gpu-panel-lead' }, EXPLANATIONS[problem]),
      h('ol', { class: 'gpu-panel-steps' }, steps),
      detail ? h('p', { class: 'gpu-panel-detail' }, h('span', {}, 'Details: '), code(detail)) : null,
      h(
        'div',
        { class: 'gpu-panel-actions' },
        fault
          ? h('button', { type: 'button', class: 'button primary', id: 'gpu-retry', onclick: onRetry }, 'Retry')
          : h('button', { type: 'button', class: 'button', onclick: onRetry }, 'Try again'),
        h('span', { class: 'gpu-panel-note' }, 'You can still load images; stylizing needs WebGPU.'),
      ),
    ),
  );
}
