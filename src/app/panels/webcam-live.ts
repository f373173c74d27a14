// Webcam live mode: camera frames stylized one after another by the active method's `live` hooks,
// until Stop (or another method). The last frame stays as a result in the history.

import type { RgbImage } from '../../io/image.ts';
import { formatFps } from '../format.ts';
import { FrameGrabber } from '../images.ts';
import { yieldToBrowser, type Progress } from '../methods.ts';
import { progressLabel, rememberGalleryThumb } from '../runs/stylize.ts';
import { activeMethod, gpuReady, nextId, nextResultVersion, stylesFor, valuesFor, withResult, type AppStore, type CameraSession, type ResultEntry } from '../state/app-state.ts';
import { h } from '../ui/dom.ts';
import { flash, toast } from '../ui/notify.ts';
import { cameraStream } from './webcam-capture.ts';

/** Resolves once the video shows a picture (rejects on abort, or if the camera stays dark). */
function videoReady(video: HTMLVideoElement, signal: AbortSignal): Promise<void> {
  if (video.videoWidth > 0 && video.readyState >= 2) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const finish = (err?: unknown) => {
      clearTimeout(timer);
      video.removeEventListener('loadeddata', onData);
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve();
    };
    const onData = () => finish();
    const onAbort = () => finish(signal.reason);
    const timer = setTimeout(() => finish(new Error('The camera delivered no picture within 15 s.')), 15_000);
    video.addEventListener('loadeddata', onData);
    signal.addEventListener('abort', onAbort);
  });
}

/** Starts webcam live mode for the active method: stylizes camera frames until Stop. */
export async function startCamera(store: AppStore): Promise<void> {
  const state = store.get();
  const reg = activeMethod(state);
  if (!reg || reg.availability !== true || !gpuReady(state) || !reg.method.live || state.camera) return;
  const method = reg.method;
  if (method.styleInputs !== 'none' && state.styles.length === 0) {
    toast(`${method.label} needs a style image: pick a sample painting or add your own.`);
    flash('#style-card');
    return;
  }
  if (state.run) {
    state.run.controller.abort(new DOMException('Stopped', 'AbortError'));
    await state.run.done;
  }
  const stream = await cameraStream({ width: 640, height: 480 });
  const video = h('video', { autoplay: true, playsInline: true, muted: true, class: 'live-video', id: 'live-video' });
  video.srcObject = stream;
  let finish!: () => void;
  const session: CameraSession = {
    method,
    controller: new AbortController(),
    stream,
    video,
    frames: 0,
    lastFrameAt: 0,
    fps: 0,
    frameMs: 0,
    lastFrame: null,
    lastResult: null,
    done: new Promise<void>((resolve) => (finish = resolve)),
  };
  store.update({ camera: session, selected: null, lastError: null, status: 'Starting the camera…' });
  let size = { width: 0, height: 0 };
  try {
    void video.play().catch(() => undefined);
    await videoReady(video, session.controller.signal);
    size = { width: video.videoWidth, height: video.videoHeight };
    await cameraLoop(store, session);
  } catch (err) {
    if (!session.controller.signal.aborted) {
      console.error(err);
      toast(`Live mode stopped: ${((err as Error).message || String(err)).split('\n')[0]}`, 'error');
    }
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
    method.live?.stop?.();
    const current = store.get();
    const ended = { camera: current.camera === session ? null : current.camera, progress: null, overlay: false };
    if (session.lastFrame && session.lastResult) {
      // The last frame stays as a result: it can be downloaded, and it is in the history.
      const entry: ResultEntry = {
        id: nextId(),
        method,
        image: session.lastResult,
        values: { ...valuesFor(current, method) },
        content: { image: session.lastFrame, name: 'Webcam frame', originalWidth: size.width || session.lastFrame.width, originalHeight: size.height || session.lastFrame.height },
        styles: current.styles.map((s) => ({ ...s })),
        elapsedMs: session.frameMs,
        stopped: false,
        losses: [],
        version: nextResultVersion(),
      };
      store.update({
        ...ended,
        results: withResult(current.results, entry),
        selected: entry,
        status:
          session.frames > 1
            ? `Live mode ended: ${session.frames} frames at ${formatFps(session.fps)} fps. The last frame is kept.`
            : 'Live mode ended after the first frame. It is kept.',
      });
      rememberGalleryThumb(store, entry);
    } else if (current.status === 'Starting the camera…' || session.controller.signal.aborted) {
      store.update({ ...ended, status: 'Live mode ended.' });
    } else {
      store.update(ended);
    }
    finish();
  }
}

/** Stylizes frame after frame; each frame: grab at the working size, one GPU pass, draw. */
async function cameraLoop(store: AppStore, session: CameraSession): Promise<void> {
  const { method, controller, video } = session;
  const live = method.live!;
  const signal = controller.signal;
  const grabber = new FrameGrabber();
  while (!signal.aborted) {
    const values = valuesFor(store.get(), method);
    const styles = stylesFor(method, store.get().styles);
    if (method.styleInputs !== 'none' && styles.length === 0) throw new Error(`${method.label} needs a style image.`);
    const frame = grabber.grab(video, live.frameSize(values));
    const started = performance.now();
    let image: RgbImage;
    try {
      image = await live.frame({ content: frame, styles }, values, (p) => showCameraProgress(store, session, p), signal);
    } catch (err) {
      if (signal.aborted) return;
      throw err;
    }
    const now = performance.now();
    session.frameMs = now - started;
    if (session.frames > 0) {
      // Frame to frame, all included (grab, upload, GPU, download, draw); smoothed.
      const instant = 1000 / Math.max(1, now - session.lastFrameAt);
      session.fps = session.frames === 1 ? instant : 0.7 * session.fps + 0.3 * instant;
    }
    session.frames++;
    session.lastFrameAt = now;
    session.lastFrame = frame;
    session.lastResult = image;
    // Hand this frame's freed buffers back to the pool now (they are recycled at a submit), so the
    // next frame gets the same ones instead of new ones.
    const gpu = store.get().gpu;
    if (gpu?.ok) await gpu.runtime.flush();
    if (store.get().camera !== session) return;
    store.update({
      camera: session,
      progress: null,
      overlay: false,
      status: `Live: frame ${session.frames} (${frame.width}×${frame.height}). Change the model or size at any time; Stop keeps the last frame.`,
    });
    await yieldToBrowser();
  }
}

function showCameraProgress(store: AppStore, session: CameraSession, p: Progress): void {
  if (store.get().camera !== session) return;
  // Only worth showing while the first frame (or a newly chosen model) loads.
  if (session.frames > 0 && p.stage === 'run') return;
  const label = progressLabel(p);
  store.update({ status: label, progress: { label, ...(p.fraction !== undefined ? { fraction: p.fraction } : {}) }, overlay: true });
}
