// Short-lived messages (toasts), and drawing the eye to a card that needs an input.

import { h } from './dom.ts';

export const toastContainer = h('div', { class: 'toasts', 'aria-live': 'polite' });

export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  const el = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
  toastContainer.append(el);
  setTimeout(() => el.classList.add('toast-out'), kind === 'error' ? 6000 : 3200);
  setTimeout(() => el.remove(), kind === 'error' ? 6400 : 3600);
}

/** Runs a task from an event handler; a failure becomes an error toast. */
export async function guard(task: () => Promise<void>): Promise<void> {
  try {
    await task();
  } catch (err) {
    toast((err as Error).message, 'error');
  }
}

/** Replays the card's highlight animation. */
export function flash(selector: string): void {
  const el = document.querySelector(selector);
  el?.classList.remove('flash');
  void (el as HTMLElement | null)?.offsetWidth;
  el?.classList.add('flash');
}
