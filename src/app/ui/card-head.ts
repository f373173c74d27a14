// The heading of a numbered card: its step, its title and a short note.

import { h } from './dom.ts';

export function cardHead(step: string, title: string, note?: string): HTMLElement {
  return h('header', { class: 'card-head' }, h('span', { class: 'step' }, step), h('h2', {}, title), note ? h('span', { class: 'card-note' }, note) : null);
}
