// The studies page: every study with its state, progress and best objective;
// filtered and sorted on the server, paged, refreshed live.
import { get, hasCost, num, StudyCost, StudyList, StudyOverview, subscribe } from './api';
import { clear, errorBox, formatDuration, formatNumber, formatTime, h, labelChips, stateBadge } from './dom';

interface View { state: string; q: string; orderBy: string; desc: boolean; tokens: string[] }

function progress(overview: StudyOverview): HTMLElement {
  const counts = overview.counts;
  const done = num(counts.succeeded) + num(counts.failed) + num(counts.stopped) + num(counts.infeasible);
  const max = overview.study.spec.trials.max || 0;
  const bar = h('div');
  bar.style.width = `${max > 0 ? Math.min(100, (100 * done) / max) : 0}%`;
  return h('span', {}, h('span', { class: 'progress' }, bar), ` ${done} / ${max}`);
}

function duration(overview: StudyOverview): string {
  const start = Date.parse(overview.study.createTime ?? '');
  if (Number.isNaN(start)) return '';
  const endText = overview.study.endTime;
  const end = endText ? Date.parse(endText) : Date.now();
  return formatDuration((end - start) / 1000);
}

// Spend against budget: a bar of the budget used and the amounts; the spend
// alone for a priced study without a budget.
function spend(cost: StudyCost | undefined): HTMLElement {
  if (!cost) return h('span');
  const amount = `${formatNumber(cost.spent)}${cost.maxCost !== undefined ? ` / ${formatNumber(cost.maxCost)}` : ''} ${cost.currency}`;
  if (cost.maxCost === undefined || cost.maxCost <= 0) return h('span', { 'data-test': 'study-spend' }, amount);
  const bar = h('div');
  bar.style.width = `${Math.min(100, (100 * cost.spent) / cost.maxCost)}%`;
  return h('span', { 'data-test': 'study-spend' }, h('span', { class: 'progress' }, bar), ` ${amount}`);
}

export function renderStudies(root: HTMLElement): () => void {
  const view: View = { state: '', q: '', orderBy: 'id', desc: true, tokens: [''] };
  const table = h('div');
  const stateSelect = h('select', { 'data-test': 'study-state' }) as HTMLSelectElement;
  for (const state of ['', 'ACTIVE', 'DONE', 'FAILED', 'STOPPED']) {
    stateSelect.appendChild(h('option', { value: state }, state || 'any state'));
  }
  const search = h('input', { placeholder: 'name contains…', 'data-test': 'study-search' }) as HTMLInputElement;
  stateSelect.onchange = () => { view.state = stateSelect.value; view.tokens = ['']; void load(); };
  search.oninput = () => { view.q = search.value; view.tokens = ['']; void load(); };
  clear(root);
  root.append(h('h1', {}, 'Studies'), h('div', { class: 'filters' }, stateSelect, search), table);

  const header = (label: string, field?: string) => {
    const th = h('th', {}, label);
    if (field) {
      th.classList.add('sortable');
      if (view.orderBy === field) th.classList.add(view.desc ? 'sorted-desc' : 'sorted-asc');
      th.onclick = () => {
        view.desc = view.orderBy === field ? !view.desc : false;
        view.orderBy = field;
        view.tokens = [''];
        void load();
      };
    }
    return th;
  };

  async function load(): Promise<void> {
    const params = new URLSearchParams({ page_size: '50', order_by: `${view.orderBy}${view.desc ? ' desc' : ''}` });
    if (view.state) params.set('state', view.state);
    if (view.q) params.set('q', view.q);
    const token = view.tokens[view.tokens.length - 1];
    if (token) params.set('page_token', token);
    let list: StudyList;
    try {
      list = await get<StudyList>('studies', params);
    } catch (error) {
      clear(table);
      table.append(errorBox(error));
      return;
    }
    // One cost answer per priced study of the page, all at once.
    const costs = await Promise.all(list.studies.map((overview) => (hasCost(overview.study.spec)
      ? get<StudyCost>(`studies/${encodeURIComponent(overview.study.name)}/cost`).catch(() => undefined)
      : Promise.resolve(undefined))));
    clear(table);
    const rows = h('tbody');
    for (const [k, overview] of list.studies.entries()) {
      const study = overview.study;
      const best = overview.bestTrial;
      rows.appendChild(h('tr', { 'data-test': 'study-row' },
        h('td', {}, h('a', { href: `#/studies/${encodeURIComponent(study.name)}` }, study.name), ' ',
          labelChips(study.spec.labels)),
        h('td', {}, stateBadge(study.state)),
        h('td', {}, progress(overview)),
        h('td', {}, best ? formatNumber(best.objective) : ''),
        h('td', {}, spend(costs[k])),
        h('td', {}, formatTime(study.createTime)),
        h('td', {}, duration(overview)),
        h('td', { class: 'muted' }, study.spec.description)));
    }
    table.append(
      h('table', { class: 'grid' },
        h('thead', {}, h('tr', {}, header('Name', 'name'), header('State', 'state'), header('Progress'),
          header('Best objective'), header('Spend / budget'), header('Started', 'create_time'), header('Duration'), header('Description'))),
        rows),
      pager(list));
    if (list.studies.length === 0) table.append(h('p', { class: 'muted' }, 'No studies yet.'));
  }

  function pager(list: StudyList): HTMLElement {
    const previous = h('button', {}, '‹ previous') as HTMLButtonElement;
    previous.disabled = view.tokens.length <= 1;
    previous.onclick = () => { view.tokens.pop(); void load(); };
    const next = h('button', {}, 'next ›') as HTMLButtonElement;
    next.disabled = !list.nextPageToken;
    next.onclick = () => { view.tokens.push(list.nextPageToken); void load(); };
    return h('div', { class: 'pager' }, previous, next, h('span', { class: 'muted' }, `${list.totalSize} studies`));
  }

  void load();
  return subscribe('', () => void load(), 500);
}
