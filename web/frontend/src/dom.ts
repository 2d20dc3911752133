// Building the page with DOM APIs only. Every string given as a child becomes
// a text node, so user-supplied names and values can never become markup;
// nothing in the dashboard assigns innerHTML.

export type Child = Node | string | number | null | undefined | false;

export interface Attrs {
  class?: string;
  href?: string;
  title?: string;
  id?: string;
  type?: string;
  value?: string;
  placeholder?: string;
  download?: string;
  target?: string;
  rel?: string;
  'data-test'?: string;
}

// An element with attributes (set with setAttribute, never as markup) and
// children (strings become text).
export function h(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined) element.setAttribute(name, String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
  }
}

export function clear(element: Element): void {
  while (element.firstChild) element.removeChild(element.firstChild);
}

export function stateBadge(state: string): HTMLElement {
  // The class comes from a fixed list of enum names; anything else is plain.
  const known = /^[A-Z_]+$/.test(state) ? `state state-${state}` : 'state';
  return h('span', { class: known }, state);
}

export function formatNumber(value: number | string | undefined | null): string {
  if (value === undefined || value === null || value === '') return '';
  const number = Number(value);
  if (Number.isNaN(number)) return 'NaN';
  if (!Number.isFinite(number)) return number > 0 ? '∞' : '-∞';
  if (Number.isInteger(number)) return String(number);
  const magnitude = Math.abs(number);
  return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)
    ? number.toExponential(4)
    : number.toPrecision(6).replace(/\.?0+$/, '');
}

export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleString();
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

// key=value chips of a study's labels.
export function labelChips(labels: Record<string, string> | undefined): HTMLElement | null {
  const entries = Object.entries(labels ?? {});
  if (!entries.length) return null;
  return h('span', { class: 'labels' }, ...entries.map(([key, value]) => h('span', { class: 'state' }, `${key}=${value}`)));
}

export function errorBox(error: unknown): HTMLElement {
  return h('p', { class: 'error', 'data-test': 'error' }, String(error instanceof Error ? error.message : error));
}
