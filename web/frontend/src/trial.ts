// The trial page: parameters, state, metrics with a chart of the intermediate
// values, the log tail and a link to the whole log.
import { budgetOf, get, hasCost, getText, num, Study, subscribe, Trial } from './api';
import { actionButton } from './actions';
import { draw, tooltip } from './charts';
import { append, clear, errorBox, formatDuration, formatNumber, formatTime, h, stateBadge } from './dom';

const kTailBytes = 16384;

function table(head: string[], rows: (string | Node)[][], test: string): HTMLElement {
  return h('table', { class: 'grid', 'data-test': test },
    h('thead', {}, h('tr', {}, ...head.map((name) => h('th', {}, name)))),
    h('tbody', {}, ...rows.map((row) => h('tr', {}, ...row.map((cell) => h('td', {}, cell))))));
}

// Where the trial runs or ran: its Kubernetes Job, its local process, or the
// ask/tell client it was handed to.
function workerOf(trial: Trial, study: Study | undefined): string {
  if (trial.kubernetesJob) {
    const namespace = study?.spec.worker.kubernetes?.namespace;
    return `Kubernetes Job ${trial.kubernetesJob}${namespace ? ` in namespace ${namespace}` : ''}`;
  }
  if (trial.localWorker?.pid) return `local process ${trial.localWorker.pid}`;
  if (trial.clientId) return `ask/tell client ${trial.clientId}`;
  return 'local process';
}

function runtime(trial: Trial): string {
  const start = Date.parse(trial.startTime ?? '');
  if (Number.isNaN(start)) return '';
  const end = trial.endTime ? Date.parse(trial.endTime) : Date.now();
  return formatDuration((end - start) / 1000);
}

export function renderTrial(root: HTMLElement, id: string): () => void {
  const body = h('div');
  const chart = h('div', { class: 'chart', 'data-test': 'plot-measurements' });
  const log = h('pre', { 'data-test': 'log' });
  clear(root);
  root.append(body, h('h2', {}, 'Intermediate values'), h('div', { class: 'plot' }, chart), h('h2', {}, 'Log'), log);
  let study: Study | undefined;
  let unsubscribe: (() => void) | undefined;
  // The link to the whole log, above the tail; replaced on each reload.
  let logLink: HTMLElement | undefined;

  async function load(): Promise<void> {
    let trial: Trial;
    try {
      trial = await get<Trial>(`trials/${encodeURIComponent(id)}`);
      if (!study) {
        const studies = await get<{ studies: { study: Study }[] }>('studies', new URLSearchParams({ page_size: '100' }));
        study = studies.studies.map((s) => s.study).find((s) => s.id === trial.studyId);
        if (study && !unsubscribe) unsubscribe = subscribe(study.name, () => void load(), 500);
      }
    } catch (error) {
      clear(body);
      body.append(errorBox(error));
      return;
    }
    const studyName = study?.name ?? '';
    clear(body);
    const active = trial.state === 'RUNNING' || trial.state === 'PENDING';
    append(body,
      h('p', {}, h('a', { href: `#/studies/${encodeURIComponent(studyName)}` }, `‹ study ${studyName}`)),
      h('div', { class: 'row' },
        h('h1', { 'data-test': 'trial-title' }, `Trial ${trial.number}`), stateBadge(trial.state),
        active ? actionButton('Stop trial', `Stop trial ${trial.number}?`, `trials/${encodeURIComponent(id)}:stop`,
          () => void load()) : null),
      trial.stateMessage ? h('p', { 'data-test': 'trial-message' }, trial.stateMessage) : null,
      h('div', { class: 'row' },
        h('div', { class: 'card' }, h('dl', { class: 'kv' },
          h('dt', {}, 'objective'), h('dd', { 'data-test': 'trial-objective' }, formatNumber(trial.objective)),
          h('dt', {}, 'attempt'), h('dd', {}, String(trial.attempt)),
          h('dt', {}, 'worker'), h('dd', { 'data-test': 'trial-worker' }, workerOf(trial, study)),
          h('dt', {}, 'created'), h('dd', {}, formatTime(trial.createTime)),
          h('dt', {}, 'started'), h('dd', {}, formatTime(trial.startTime)),
          h('dt', {}, 'ended'), h('dd', {}, formatTime(trial.endTime)),
          h('dt', {}, 'runtime'), h('dd', {}, runtime(trial)),
          trial.gpus?.length ? h('dt', {}, 'GPUs') : null, trial.gpus?.length ? h('dd', {}, trial.gpus.join(', ')) : null,
          study && hasCost(study.spec) ? h('dt', {}, 'cost') : null,
          study && hasCost(study.spec)
            ? h('dd', { 'data-test': 'trial-cost' }, `${formatNumber(trial.cost ?? 0)} ${budgetOf(study.spec)?.currency ?? 'USD'}`)
            : null,
          h('dt', {}, 'exit'), h('dd', {}, trial.exitSignal ? `signal ${trial.exitSignal}`
            : trial.exitCode !== undefined ? `code ${trial.exitCode}` : ''))),
        table(['parameter', 'value'], Object.entries(trial.parameters ?? {}).map(([name, value]) =>
          [name, typeof value === 'string' ? value : formatNumber(value)]), 'trial-params'),
        table(['metric', 'final value'], Object.entries(trial.finalMetrics ?? {}).map(([name, value]) =>
          [name, formatNumber(value)]), 'trial-metrics')));

    const names = new Set<string>();
    for (const m of trial.measurements ?? []) for (const name of Object.keys(m.metrics)) names.add(name);
    draw(chart, `trial-${trial.number}-metrics`, {
      grid: { left: 60, right: 20, top: 40, bottom: 40 },
      legend: { top: 4, left: 8 },
      tooltip: {
        trigger: 'item',
        formatter: (p: { seriesName: string; value: number[] }) =>
          tooltip(p.seriesName, [['step', String(p.value[0])], ['value', formatNumber(p.value[1])]]),
      },
      xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 24 },
      yAxis: { type: 'value', scale: true },
      series: [...names].map((name) => ({
        name, type: 'line', showSymbol: true, symbolSize: 4,
        data: (trial.measurements ?? []).filter((m) => name in m.metrics).map((m) => [Number(m.step), num(m.metrics[name])]),
      })),
    });

    clear(log);
    if (trial.logPath) {
      try {
        const tail = await getText(`trials/${encodeURIComponent(id)}/log`, new URLSearchParams({ tail_bytes: String(kTailBytes) }));
        log.textContent = tail || '(empty)';
      } catch (error) {
        log.textContent = trial.logTail || String(error instanceof Error ? error.message : error);
      }
      logLink?.remove();
      logLink = h('p', {}, h('a', { href: `/api/v1/trials/${encodeURIComponent(id)}/log`, target: '_blank', rel: 'noopener', 'data-test': 'full-log' },
        'whole log'), h('span', { class: 'muted' }, ` (last ${kTailBytes / 1024} KiB below)`));
      log.before(logLink);
    } else {
      log.textContent = trial.logTail || '(no log)';
    }
  }

  void load();
  return () => unsubscribe?.();
}
