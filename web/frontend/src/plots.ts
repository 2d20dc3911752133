// The study page's plots, each an ECharts option built from the study's
// TrialColumns (every trial, as columns) or MetricCurves.
import { Curve, MetricCurves, num, Study, StudyCost, TrialColumns } from './api';
import { Option, tooltip } from './charts';
import { formatNumber } from './dom';
import { computeImportance } from './importance';

const kSucceeded = 'SUCCEEDED';
// Lines in the parallel coordinates plot: the best trials, so that 10,000
// trials stay readable and quick to draw.
export const kParallelMax = 1000;
// Bars in the timeline: the trials that started last.
export const kTimelineMax = 2000;

function minimize(study: Study): boolean {
  return study.spec.objective.goal === 'MINIMIZE';
}

// Indices of trials that count for plots of the objective.
function finished(columns: TrialColumns): number[] {
  const found: number[] = [];
  columns.state.forEach((state, i) => {
    if (state === kSucceeded && Number.isFinite(num(columns.objective[i]))) found.push(i);
  });
  return found;
}

function paramValue(columns: TrialColumns, p: number, i: number): number | string | null {
  const column = columns.parameters[p];
  if (column.categories.length > 0) return column.categories[i] || null;
  const value = num(column.values[i]);
  return Number.isFinite(value) ? value : null;
}

// Objective per trial number, and the best so far as a step line.
export function historyOption(study: Study, columns: TrialColumns): Option {
  const rows = finished(columns);
  const points = rows.map((i) => [columns.number[i], num(columns.objective[i])]);
  const best: number[][] = [];
  let bestSoFar = NaN;
  for (const [number, value] of points) {
    if (Number.isNaN(bestSoFar) || (minimize(study) ? value < bestSoFar : value > bestSoFar)) bestSoFar = value;
    best.push([number, bestSoFar]);
  }
  const metric = study.spec.objective.metric;
  return {
    grid: { left: 60, right: 20, top: 40, bottom: 40 },
    legend: { top: 4, left: 8 },
    tooltip: {
      trigger: 'item',
      formatter: (p: { seriesName: string; value: number[] }) =>
        tooltip(`trial ${p.value[0]}`, [[p.seriesName, formatNumber(p.value[1])]]),
    },
    xAxis: { type: 'value', name: 'trial', nameLocation: 'middle', nameGap: 24, minInterval: 1 },
    yAxis: { type: 'value', name: metric, scale: true },
    dataZoom: [{ type: 'inside' }],
    series: [
      { name: metric, type: 'scatter', symbolSize: 5, data: points, large: points.length > 2000 },
      { name: 'best so far', type: 'line', step: 'end', showSymbol: false, data: best },
    ],
  };
}

// One axis per parameter, then the objective; a line per finished trial,
// the best kParallelMax of them.
export function parallelOption(study: Study, columns: TrialColumns): Option {
  const sign = minimize(study) ? 1 : -1;
  const rows = finished(columns)
    .sort((a, b) => sign * (num(columns.objective[a]) - num(columns.objective[b])))
    .slice(0, kParallelMax);
  const axes = columns.parameters.map((column, p) => {
    const spec = study.spec.parameters[p];
    if (column.categories.length > 0) {
      return { dim: p, name: column.name, type: 'category', data: spec?.categories ?? [] };
    }
    return { dim: p, name: column.name, type: spec?.scale === 'LOG' ? 'log' : 'value', scale: true };
  });
  const objectiveDim = columns.parameters.length;
  axes.push({ dim: objectiveDim, name: study.spec.objective.metric, type: 'value', scale: true });
  const data = rows.map((i) => [
    ...columns.parameters.map((_, p) => paramValue(columns, p, i)),
    num(columns.objective[i]),
  ]);
  const values = data.map((row) => row[objectiveDim] as number);
  return {
    parallel: { left: 60, right: 80, top: 50, bottom: 30 },
    parallelAxis: axes,
    visualMap: {
      dimension: objectiveDim, min: Math.min(...values, 0), max: Math.max(...values, 1),
      inRange: { color: minimize(study) ? ['#2f6fdb', '#f0c05a'] : ['#f0c05a', '#2f6fdb'] },
      right: 4, top: 'middle', calculable: true, precision: 4,
    },
    series: [{ type: 'parallel', lineStyle: { width: 1, opacity: 0.45 }, data, progressive: 1000 }],
  };
}

// Objective against one parameter.
export function sliceOption(study: Study, columns: TrialColumns, p: number): Option {
  const rows = finished(columns);
  const column = columns.parameters[p];
  const spec = study.spec.parameters[p];
  const categorical = column.categories.length > 0;
  const data = rows
    .map((i) => [paramValue(columns, p, i), num(columns.objective[i]), columns.number[i]])
    .filter((row) => row[0] !== null);
  return {
    title: { text: column.name, left: 'center', textStyle: { fontSize: 12 } },
    grid: { left: 50, right: 16, top: 30, bottom: 30 },
    tooltip: {
      trigger: 'item',
      formatter: (p: { value: (number | string)[] }) =>
        tooltip(`trial ${p.value[2]}`, [[column.name, String(p.value[0])], [study.spec.objective.metric, formatNumber(p.value[1] as number)]]),
    },
    xAxis: categorical
      ? { type: 'category', data: spec?.categories ?? [] }
      : { type: spec?.scale === 'LOG' ? 'log' : 'value', scale: true },
    yAxis: { type: 'value', scale: true },
    series: [{ type: 'scatter', symbolSize: 5, data, large: data.length > 2000 }],
  };
}

export function importanceOption(study: Study, columns: TrialColumns): Option {
  const rows = finished(columns);
  const result = computeImportance(
    rows.map((i) => num(columns.objective[i])),
    columns.parameters.map((column, p) => ({ name: column.name, values: rows.map((i) => paramValue(columns, p, i)) })),
  );
  const ordered = [...result].reverse();
  return {
    grid: { left: 110, right: 30, top: 20, bottom: 30 },
    tooltip: {
      trigger: 'item',
      formatter: (p: { name: string; value: number }) => tooltip(p.name, [['share', `${(p.value * 100).toFixed(1)} %`]]),
    },
    xAxis: { type: 'value', max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
    yAxis: { type: 'category', data: ordered.map((r) => r.name) },
    series: [{ type: 'bar', data: ordered.map((r) => r.share) }],
  };
}

// Intermediate values: a line per trial; a trial that was stopped before it
// ended is marked where it stopped.
export function curvesOption(curves: MetricCurves): Option {
  const series = curves.curves
    .filter((curve: Curve) => curve.steps.length > 0)
    .map((curve: Curve) => {
      const data = curve.steps.map((step, k) => [Number(step), num(curve.values[k])]);
      const last = data[data.length - 1];
      return {
        name: `trial ${curve.number}`,
        type: 'line',
        showSymbol: false,
        data,
        markPoint: curve.state === 'STOPPED' && last
          ? { symbol: 'pin', symbolSize: 28, data: [{ coord: last, value: 'stop' }] }
          : undefined,
      };
    });
  return {
    grid: { left: 60, right: 20, top: 20, bottom: 40 },
    tooltip: {
      trigger: 'item',
      formatter: (p: { seriesName: string; value: number[] }) =>
        tooltip(p.seriesName, [['step', String(p.value?.[0])], [curves.metric, formatNumber(p.value?.[1])]]),
    },
    xAxis: { type: 'value', name: 'step', nameLocation: 'middle', nameGap: 24 },
    yAxis: { type: 'value', name: curves.metric, scale: true },
    dataZoom: [{ type: 'inside' }],
    series,
  };
}

// The GPUs trial i held, from the columns' comma-separated entry.
function gpusOf(columns: TrialColumns, i: number): string[] {
  return (columns.gpus?.[i] ?? '').split(',').filter((g) => g);
}

// Whether the timeline has a row per GPU: when any trial held one.
export function timelineByGpu(columns: TrialColumns): boolean {
  return (columns.gpus ?? []).some((gpus) => gpus !== '');
}

// When each trial ran; the kTimelineMax trials that started last. When trials
// held GPUs, a row per GPU, and a trial of several GPUs has a bar on each.
// Otherwise a row per worker slot: trials carry no worker id, so a trial
// takes the lowest slot free when it started, and the rows are the study's
// parallel workers as the scheduler filled them.
export function timelineOption(columns: TrialColumns): Option {
  const now = Date.now() / 1000;
  const order = columns.number
    .map((_, i) => i)
    .filter((i) => Number.isFinite(num(columns.startSeconds[i])))
    .sort((a, b) => num(columns.startSeconds[a]) - num(columns.startSeconds[b]))
    .slice(-kTimelineMax);
  const byGpu = timelineByGpu(columns);
  const rows: string[] = [];
  const slotEnds: number[] = [];
  const rowOf = (name: string): number => {
    const row = rows.indexOf(name);
    return row >= 0 ? row : rows.push(name) - 1;
  };
  if (byGpu) {
    // GPUs in their natural order: 0, 1, 2, ..., 10, then UUIDs.
    const gpus = new Set(order.flatMap((i) => gpusOf(columns, i)));
    [...gpus].sort((a, b) => a.localeCompare(b, undefined, { numeric: true })).forEach((g) => rowOf(`GPU ${g}`));
  }
  const data = order.flatMap((i) => {
    const start = num(columns.startSeconds[i]);
    const endValue = num(columns.endSeconds[i]);
    const end = Number.isFinite(endValue) && endValue >= start ? endValue : Math.max(start, now);
    let held: number[];
    if (byGpu) {
      held = gpusOf(columns, i).map((g) => rowOf(`GPU ${g}`));
    } else {
      let slot = slotEnds.findIndex((free) => free <= start);
      if (slot < 0) {
        slot = slotEnds.length;
        slotEnds.push(end);
        rowOf(`slot ${slot + 1}`);
      } else {
        slotEnds[slot] = end;
      }
      held = [slot];
    }
    return held.map((row) => ({ value: [row, start * 1000, end * 1000, columns.number[i]], state: columns.state[i] }));
  });
  const colors: Record<string, string> = {
    SUCCEEDED: '#5bb974', FAILED: '#e06666', RUNNING: '#2f6fdb', STOPPED: '#e0b050', INFEASIBLE: '#b0a060',
  };
  return {
    grid: { left: 60, right: 20, top: 20, bottom: 40 },
    tooltip: {
      trigger: 'item',
      formatter: (p: { value: number[]; data: { state: string } }) =>
        tooltip(`trial ${p.value[3]}`, [['state', p.data.state], ['on', rows[p.value[0]]],
          ['runtime', `${((p.value[2] - p.value[1]) / 1000).toFixed(1)} s`]]),
    },
    xAxis: { type: 'time' },
    yAxis: { type: 'category', data: rows },
    dataZoom: [{ type: 'inside', xAxisIndex: 0 }],
    series: [{
      type: 'custom',
      encode: { x: [1, 2], y: 0 },
      data: data.map((d) => ({ value: d.value, state: d.state, itemStyle: { color: colors[d.state] ?? '#999' } })),
      renderItem: (params: unknown, api: any) => {
        const start = api.coord([api.value(1), api.value(0)]);
        const end = api.coord([api.value(2), api.value(0)]);
        const height = api.size([0, 1])[1] * 0.6;
        return {
          type: 'rect',
          shape: { x: start[0], y: start[1] - height / 2, width: Math.max(1, end[0] - start[0]), height },
          style: api.style(),
        };
        void params;
      },
    }],
  };
}

// The spend over time, and the budget as a horizontal line when there is one.
export function costOption(cost: StudyCost): Option {
  const data = cost.spentOverTime.seconds.map((t, k) => [t * 1000, cost.spentOverTime.spent[k]]);
  return {
    grid: { left: 60, right: 40, top: 30, bottom: 40 },
    tooltip: {
      trigger: 'axis',
      formatter: (p: { value: number[] }[]) =>
        tooltip(new Date(p[0]?.value[0]).toLocaleString(), [['spent', `${formatNumber(p[0]?.value[1])} ${cost.currency}`]]),
    },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', name: cost.currency, max: cost.maxCost !== undefined
      ? (extent: { max: number }) => Math.max(extent.max, cost.maxCost!) * 1.05 : undefined },
    series: [{
      name: 'spent', type: 'line', showSymbol: false, areaStyle: { opacity: 0.15 }, data,
      markLine: cost.maxCost !== undefined
        ? { symbol: 'none', lineStyle: { color: '#c0392b', type: 'dashed' }, label: { formatter: 'budget' },
          data: [{ name: 'budget', yAxis: cost.maxCost }] }
        : undefined,
    }],
  };
}
