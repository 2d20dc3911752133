// The study page: spec, live progress, plots and the trial table.
import {
  budgetOf, get, hasCost, MetricCurves, num, StudyCost, StudyOverview, subscribe, TrialColumns,
} from './api';
import { actionButton } from './actions';
import { drawLazily } from './charts';
import { append, clear, errorBox, formatNumber, formatTime, h, labelChips, stateBadge } from './dom';
import {
  costOption, curvesOption, historyOption, importanceOption, kParallelMax, kTimelineMax, parallelOption, sliceOption,
  timelineByGpu, timelineOption,
} from './plots';
import { queryParams, TrialTable } from './trial_table';

function stat(label: string, value: string | Node, test?: string): HTMLElement {
  return h('div', { class: 'stat' }, h('b', { 'data-test': test }, value), label);
}

function plotBox(title: string, test: string): { box: HTMLElement; chart: HTMLElement; title: HTMLElement } {
  const chart = h('div', { class: 'chart', 'data-test': test });
  const heading = h('h3', {}, title);
  return { box: h('div', { class: 'plot' }, heading, chart), chart, title: heading };
}

function timelineTitle(byGpu: boolean): string {
  return `Timeline by ${byGpu ? 'GPU' : 'worker slot'} (last ${kTimelineMax.toLocaleString()})`;
}

function specView(overview: StudyOverview): HTMLElement {
  const spec = overview.study.spec;
  const parameters = h('tbody');
  for (const p of spec.parameters) {
    const range = p.type === 'CATEGORICAL' ? p.categories.join(', ')
      : p.type === 'DISCRETE' ? p.values.map((v) => formatNumber(v)).join(', ')
        : `[${formatNumber(p.min)}, ${formatNumber(p.max)}]${p.scale === 'LOG' ? ' log' : ''}`;
    parameters.appendChild(h('tr', {}, h('td', {}, p.name), h('td', {}, p.type), h('td', {}, range)));
  }
  const objective = spec.objective;
  return h('div', { class: 'row' },
    h('div', { class: 'card' }, h('dl', { class: 'kv' },
      h('dt', {}, 'objective'), h('dd', {}, `${objective.goal.toLowerCase()} ${objective.metric}`
        + (objective.target !== undefined ? ` (target ${formatNumber(objective.target)})` : '')),
      h('dt', {}, 'algorithm'), h('dd', {}, spec.algorithm.name),
      h('dt', {}, 'seed'), h('dd', {}, String(overview.study.spec.algorithm.seed ?? '')),
      h('dt', {}, 'trials'), h('dd', {}, `${spec.trials.max} max, ${spec.trials.parallel || 1} at once`),
      h('dt', {}, 'command'), h('dd', {}, (spec.worker.command ?? []).join(' ')),
      h('dt', {}, 'created'), h('dd', {}, formatTime(overview.study.createTime)))),
    h('table', { class: 'grid' },
      h('thead', {}, h('tr', {}, h('th', {}, 'parameter'), h('th', {}, 'type'), h('th', {}, 'range'))), parameters),
    h('details', {}, h('summary', {}, 'YAML'), h('pre', { 'data-test': 'yaml' }, overview.study.yaml || '(created from a spec)')));
}

export function renderStudy(root: HTMLElement, name: string): () => void {
  const path = `studies/${encodeURIComponent(name)}`;
  const header = h('div');
  const stats = h('div', { class: 'stats' });
  const history = plotBox('Optimisation history', 'plot-history');
  const importance = plotBox('Parameter importance (η², see docs)', 'plot-importance');
  const parallel = plotBox(`Parallel coordinates (best ${kParallelMax.toLocaleString()})`, 'plot-parallel');
  const curves = plotBox('Intermediate values (trials of the table page)', 'plot-curves');
  const timeline = plotBox(timelineTitle(false), 'plot-timeline');
  // Shown when the study's trials cost money (hasCost).
  const cost = plotBox('Cost over time against the budget', 'plot-cost');
  cost.box.hidden = true;
  const slices = h('div', { class: 'slices' });
  const spec = h('div');
  const tableRoot = h('div');
  clear(root);
  root.append(header, stats,
    h('h2', {}, 'Plots'),
    // Parallel coordinates cost the most to draw (about 1 s at 1,000 lines
    // on a loaded 2-core machine): last, below the fold, drawn on scroll.
    h('div', { class: 'plots' }, history.box, cost.box, importance.box, curves.box, timeline.box,
      parallel.box),
    h('h2', {}, 'Slices'), slices,
    h('h2', {}, 'Trials'), tableRoot,
    h('h2', {}, 'Spec'), spec);

  let table: TrialTable | undefined;
  let sliceCharts: HTMLElement[] = [];

  async function loadCurves(): Promise<void> {
    if (!table) return;
    const data = await get<MetricCurves>(`${path}/curves`, queryParams(table.query, true));
    drawLazily(curves.chart, `${name}-curves`, () => curvesOption(data));
  }

  async function loadTable(): Promise<void> {
    await Promise.all([table?.load(), loadCurves()]);
  }

  async function loadOverview(): Promise<StudyOverview> {
    const overview = await get<StudyOverview>(path);
    const study = overview.study;
    const counts = overview.counts;
    clear(header);
    append(header,
      h('div', { class: 'row' },
        h('h1', { 'data-test': 'study-name' }, study.name), stateBadge(study.state),
        study.state === 'ACTIVE'
          ? actionButton('Stop study', `Stop study ${study.name}? Running trials are stopped.`,
            `${path}:stop`, () => void refresh())
          : null),
      h('p', { class: 'muted' }, study.spec.description, ' ', labelChips(study.spec.labels)),
      study.stateMessage ? h('p', { 'data-test': 'state-message' }, study.stateMessage) : null);
    clear(stats);
    const done = num(counts.succeeded) + num(counts.failed) + num(counts.stopped) + num(counts.infeasible);
    const best = overview.bestTrial;
    stats.append(
      stat('finished / max', `${done} / ${study.spec.trials.max}`, 'progress'),
      stat('running', String(num(counts.running)), 'running'),
      stat('succeeded', String(num(counts.succeeded)), 'succeeded'),
      stat('failed', String(num(counts.failed)), 'failed'),
      stat('stopped', String(num(counts.stopped))),
      stat(`best ${study.spec.objective.metric}`,
        best ? h('a', { href: `#/trials/${encodeURIComponent(best.id)}` }, formatNumber(best.objective)) : '—', 'best'));
    const budget = budgetOf(study.spec);
    if (budget) stats.append(stat('budget', `${formatNumber(budget.maxCost)} ${budget.currency}`, 'budget'));
    return overview;
  }

  async function loadCost(overview: StudyOverview): Promise<void> {
    if (!hasCost(overview.study.spec)) return;
    const spend = await get<StudyCost>(`${path}/cost`);
    stats.append(stat(spend.maxCost !== undefined ? `spent of ${formatNumber(spend.maxCost)} ${spend.currency}`
      : `spent, ${spend.currency}`, formatNumber(spend.spent), 'spent'));
    cost.box.hidden = false;
    drawLazily(cost.chart, `${name}-cost`, () => costOption(spend));
  }

  // Plots below the fold are drawn when scrolled to (drawLazily).
  function drawPlots(overview: StudyOverview, columns: TrialColumns): void {
    const study = overview.study;
    drawLazily(history.chart, `${name}-history`, () => historyOption(study, columns));
    drawLazily(importance.chart, `${name}-importance`, () => importanceOption(study, columns));
    drawLazily(parallel.chart, `${name}-parallel`, () => parallelOption(study, columns));
    timeline.title.textContent = timelineTitle(timelineByGpu(columns));
    drawLazily(timeline.chart, `${name}-timeline`, () => timelineOption(columns));
    if (sliceCharts.length !== columns.parameters.length) {
      clear(slices);
      sliceCharts = columns.parameters.map((p) => {
        const chart = h('div', { class: 'chart', 'data-test': 'plot-slice' });
        slices.append(h('div', { class: 'plot' }, chart));
        void p;
        return chart;
      });
    }
    columns.parameters.forEach((p, k) =>
      drawLazily(sliceCharts[k], `${name}-slice-${p.name}`, () => sliceOption(study, columns, k)));
  }

  async function refresh(): Promise<void> {
    try {
      // The plots' columns are the largest answer: fetched beside the
      // overview, not after it.
      const columns = get<TrialColumns>(`${path}/columns`);
      columns.catch(() => undefined);  // its error is reported where awaited
      const overview = await loadOverview();
      if (!table) {
        table = new TrialTable(overview.study, tableRoot, () => void loadTable());
        spec.append(specView(overview));
      }
      await Promise.all([loadTable(), loadCost(overview)]);
      drawPlots(overview, await columns);
      // The plots near the viewport draw on the next animation frame: mark
      // the page rendered once that frame has been painted (tests and
      // bench/dashboard wait for it).
      await new Promise((painted) => requestAnimationFrame(() => requestAnimationFrame(painted)));
      root.setAttribute('data-rendered', 'true');
    } catch (error) {
      clear(header);
      header.append(errorBox(error));
    }
  }

  void refresh();
  return subscribe(name, () => void refresh(), 500);
}
