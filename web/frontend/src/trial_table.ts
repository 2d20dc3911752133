// The study page's trial table: filtered by state and parameter ranges,
// sorted and paged on the server (GET .../trials), exported as CSV with the
// same filter (GET .../trials.csv).
import { get, hasCost, Study, Trial, TrialList } from './api';
import { clear, errorBox, formatNumber, formatTime, h, stateBadge } from './dom';

const kStates = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'STOPPED', 'INFEASIBLE'];

export interface TableQuery {
  states: string[];
  ranges: { name: string; min: string; max: string }[];
  orderBy: string;
  desc: boolean;
  pageSize: number;
  tokens: string[]; // page tokens: the last one is the page shown
}

export function queryParams(query: TableQuery, withPage: boolean): URLSearchParams {
  const params = new URLSearchParams();
  if (query.states.length) params.set('state', query.states.join(','));
  for (const range of query.ranges) params.append('range', `${range.name}:${range.min}:${range.max}`);
  params.set('order_by', `${query.orderBy}${query.desc ? ' desc' : ''}`);
  if (withPage) {
    params.set('page_size', String(query.pageSize));
    const token = query.tokens[query.tokens.length - 1];
    if (token) params.set('page_token', token);
  }
  return params;
}

// Draws the table into `root`; `changed` is called with the query whenever
// the user changes it (the curves plot follows the table's page).
export class TrialTable {
  readonly query: TableQuery = { states: [], ranges: [], orderBy: 'number', desc: false, pageSize: 50, tokens: [''] };
  private readonly filters = h('div', { class: 'filters' });
  private readonly body = h('div');

  constructor(private readonly study: Study, root: HTMLElement, private readonly changed: () => void) {
    root.append(this.filters, this.body);
    this.drawFilters();
  }

  private update(): void {
    this.query.tokens = [''];
    this.drawFilters();
    this.changed();
  }

  private drawFilters(): void {
    clear(this.filters);
    for (const state of kStates) {
      const box = h('input', { type: 'checkbox', 'data-test': `filter-${state}` }) as HTMLInputElement;
      box.checked = this.query.states.includes(state);
      box.onchange = () => {
        this.query.states = box.checked ? [...this.query.states, state] : this.query.states.filter((s) => s !== state);
        this.update();
      };
      this.filters.append(h('label', {}, box, ` ${state.toLowerCase()}`));
    }
    const numeric = this.study.spec.parameters.filter((p) => p.type !== 'CATEGORICAL');
    if (numeric.length) {
      const name = h('select', { 'data-test': 'range-param' }) as HTMLSelectElement;
      for (const p of numeric) name.appendChild(h('option', { value: p.name }, p.name));
      const min = h('input', { placeholder: 'min', 'data-test': 'range-min' }) as HTMLInputElement;
      const max = h('input', { placeholder: 'max', 'data-test': 'range-max' }) as HTMLInputElement;
      min.size = max.size = 8;
      const add = h('button', { 'data-test': 'range-add' }, 'filter range') as HTMLButtonElement;
      add.onclick = () => {
        this.query.ranges.push({ name: name.value, min: min.value.trim() || '-1e308', max: max.value.trim() || '1e308' });
        this.update();
      };
      this.filters.append(h('span', {}, name, ' ', min, ' – ', max, ' ', add));
    }
    this.query.ranges.forEach((range, k) => {
      const remove = h('button', { title: 'remove this filter' }, '×') as HTMLButtonElement;
      remove.onclick = () => { this.query.ranges.splice(k, 1); this.update(); };
      this.filters.append(h('span', { class: 'state' }, `${range.name} in [${range.min}, ${range.max}] `, remove));
    });
    const csv = `/api/v1/studies/${encodeURIComponent(this.study.name)}/trials.csv?${queryParams(this.query, false)}`;
    this.filters.append(h('a', { href: csv, download: `${this.study.name}-trials.csv`, 'data-test': 'csv' }, 'CSV'));
  }

  async load(): Promise<void> {
    let list: TrialList;
    try {
      list = await get<TrialList>(`studies/${encodeURIComponent(this.study.name)}/trials`, queryParams(this.query, true));
    } catch (error) {
      clear(this.body);
      this.body.append(errorBox(error));
      return;
    }
    const params = this.study.spec.parameters.map((p) => p.name);
    const sortable = (label: string, field: string) => {
      const th = h('th', { class: 'sortable', 'data-test': `sort-${field}` }, label);
      if (this.query.orderBy === field) th.classList.add(this.query.desc ? 'sorted-desc' : 'sorted-asc');
      th.onclick = () => {
        this.query.desc = this.query.orderBy === field ? !this.query.desc : false;
        this.query.orderBy = field;
        this.update();
      };
      return th;
    };
    const metrics = [this.study.spec.objective.metric, ...(this.study.spec.objective.additionalMetrics ?? [])].slice(1);
    const rows = h('tbody');
    for (const trial of list.trials) rows.appendChild(this.row(trial, params, metrics));
    clear(this.body);
    this.body.append(
      h('table', { class: 'grid', 'data-test': 'trial-table' },
        h('thead', {}, h('tr', {},
          sortable('#', 'number'), sortable('State', 'state'), sortable(this.study.spec.objective.metric, 'objective'),
          ...params.map((name) => sortable(name, `params.${name}`)),
          ...metrics.map((name) => h('th', {}, name)),
          this.study.spec.worker.gpusPerTrial ? h('th', {}, 'GPUs') : null,
          hasCost(this.study.spec) ? h('th', {}, 'Cost') : null,
          h('th', {}, 'Started'), h('th', {}, 'Message'))),
        rows),
      this.pager(list));
  }

  private row(trial: Trial, params: string[], metrics: string[]): HTMLElement {
    return h('tr', { 'data-test': 'trial-row' },
      h('td', {}, h('a', { href: `#/trials/${encodeURIComponent(trial.id)}` }, String(trial.number))),
      h('td', {}, stateBadge(trial.state)),
      h('td', {}, formatNumber(trial.objective)),
      ...params.map((name) => {
        const value = trial.parameters?.[name];
        return h('td', {}, typeof value === 'string' ? value : formatNumber(value));
      }),
      ...metrics.map((name) => h('td', {}, formatNumber(trial.finalMetrics?.[name]))),
      this.study.spec.worker.gpusPerTrial ? h('td', { 'data-test': 'trial-gpus' }, (trial.gpus ?? []).join(',')) : null,
      hasCost(this.study.spec) ? h('td', { 'data-test': 'trial-cost' }, formatNumber(trial.cost ?? 0)) : null,
      h('td', {}, formatTime(trial.startTime)),
      h('td', { class: 'muted', title: trial.stateMessage }, trial.stateMessage));
  }

  private pager(list: TrialList): HTMLElement {
    const previous = h('button', { 'data-test': 'page-previous' }, '‹ previous') as HTMLButtonElement;
    previous.disabled = this.query.tokens.length <= 1;
    previous.onclick = () => { this.query.tokens.pop(); this.changed(); };
    const next = h('button', { 'data-test': 'page-next' }, 'next ›') as HTMLButtonElement;
    next.disabled = !list.nextPageToken;
    next.onclick = () => { this.query.tokens.push(list.nextPageToken); this.changed(); };
    const size = h('select') as HTMLSelectElement;
    for (const n of [20, 50, 100, 500]) size.appendChild(h('option', { value: String(n) }, `${n} per page`));
    size.value = String(this.query.pageSize);
    size.onchange = () => { this.query.pageSize = Number(size.value); this.update(); };
    const page = this.query.tokens.length;
    return h('div', { class: 'pager' }, previous, h('span', {}, `page ${page}`), next, size,
      h('span', { class: 'muted', 'data-test': 'trial-total' }, `${list.totalSize} trials match`));
  }
}
