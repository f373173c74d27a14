// Taking a still photo with the webcam, for the content or a style (a dialog with a live preview).

import { captureVideoFrame, type LoadedImage } from '../images.ts';
import { h, icon, replaceChildren } from '../ui/dom.ts';
import { guard } from '../ui/notify.ts';

export const webcamDialog = h('dialog', { class: 'webcam-dialog', id: 'webcam-dialog' });

/** The camera's stream, or an error that says what to do. */
export async function cameraStream(ideal: { width: number; height: number }): Promise<MediaStream> {
  if (!navigator.mediaDevices?.getUserMedia) throw new Error('This browser offers no camera access (it needs a secure page: https or localhost).');
  try {
    return await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: ideal.width }, height: { ideal: ideal.height } }, audio: false });
  } catch (err) {
    const name = (err as DOMException).name;
    throw new Error(
      name === 'NotAllowedError'
        ? 'Camera permission was denied. Allow the camera for this page in the address bar, then try again.'
        : name === 'NotFoundError'
          ? 'No camera was found.'
          : `The camera could not start: ${(err as Error).message}`,
    );
  }
}

/** Opens the capture dialog; `deliver` gets the frame when the user presses Capture. */
export async function openWebcam(target: 'content' | 'style', deliver: (frame: LoadedImage) => void): Promise<void> {
  const stream = await cameraStream({ width: 1280, height: 720 });
  const video = h('video', { autoplay: true, playsInline: true, muted: true, class: 'webcam-video' });
  video.srcObject = stream;
  const close = () => {
    for (const track of stream.getTracks()) track.stop();
    webcamDialog.close();
  };
  const capture = h(
    'button',
    {
      type: 'button',
      class: 'button primary',
      id: 'webcam-capture',
      onclick: () =>
        void guard(async () => {
          const frame = captureVideoFrame(video, 'Webcam frame');
          close();
          deliver(frame);
        }),
    },
    icon('camera'),
    'Capture',
  );
  replaceChildren(
    webcamDialog,
    h('h2', {}, target === 'content' ? 'Take a content photo' : 'Take a style photo'),
    video,
    h('div', { class: 'dialog-actions' }, h('button', { type: 'button', class: 'button', onclick: close }, 'Cancel'), capture),
  );
  webcamDialog.onclose = () => {
    for (const track of stream.getTracks()) track.stop();
  };
  webcamDialog.showModal();
}
