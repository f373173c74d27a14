// The light/dark switch: follows the system until the user picks, then remembers the pick.

import { h, icon, replaceChildren } from './dom.ts';

function currentTheme(): 'light' | 'dark' {
  const forced = document.documentElement.dataset['theme'];
  if (forced === 'light' || forced === 'dark') return forced;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function themeToggle(): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'icon-button', id: 'theme-toggle', 'aria-label': 'Switch between light and dark' });
  const render = () => replaceChildren(button, icon(currentTheme() === 'dark' ? 'sun' : 'moon'));
  button.addEventListener('click', () => {
    const next = currentTheme() === 'dark' ? 'light' : 'dark';
    document.documentElement.dataset['theme'] = next;
    try {
      localStorage.setItem('pastiche-theme', next);
    } catch {
      /* private mode: the choice lasts for this visit */
    }
    render();
  });
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', render);
  render();
  return button;
}
