// ECharts, with only the parts the dashboard draws, and the one way a chart is
// made here: every chart gets the toolbox's "save as PNG" and an "save as
// SVG" that renders the same option with ECharts' SVG renderer (its own
// server-side rendering, renderToSVGString).
//
// Tooltips are built as DOM nodes with text content, never as HTML strings,
// so names and values from a study cannot inject markup.
import * as echarts from 'echarts/core';
import { BarChart, CustomChart, LineChart, ParallelChart, ScatterChart } from 'echarts/charts';
import {
  DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, MarkPointComponent,
  ParallelComponent, TitleComponent, ToolboxComponent, TooltipComponent, VisualMapComponent,
} from 'echarts/components';
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers';
import { h } from './dom';

echarts.use([
  BarChart, CustomChart, LineChart, ParallelChart, ScatterChart,
  DataZoomComponent, GridComponent, LegendComponent, MarkLineComponent, MarkPointComponent, ParallelComponent,
  TitleComponent, ToolboxComponent, TooltipComponent, VisualMapComponent,
  CanvasRenderer, SVGRenderer,
]);

export type Option = echarts.EChartsCoreOption;

const live = new Set<echarts.ECharts>();

function download(name: string, url: string): void {
  const link = h('a', { href: url, download: name }) as HTMLAnchorElement;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

function saveSvg(chart: echarts.ECharts, name: string): void {
  const element = chart.getDom();
  const offscreen = echarts.init(null, undefined, {
    renderer: 'svg', ssr: true, width: element.clientWidth || 600, height: element.clientHeight || 300,
  });
  const option = chart.getOption() as Option;
  offscreen.setOption({ ...option, animation: false, toolbox: { show: false } });
  const svg = offscreen.renderToSVGString();
  offscreen.dispose();
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  download(`${name}.svg`, url);
  window.setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// The chart drawn in `element` (made on first use), showing `option`.
export function draw(element: HTMLElement, name: string, option: Option): echarts.ECharts {
  let chart = echarts.getInstanceByDom(element);
  if (!chart) {
    chart = echarts.init(element, undefined, { renderer: 'canvas' });
    live.add(chart);
  }
  const made = chart;
  const safeName = name.replace(/[^A-Za-z0-9_-]+/g, '-');
  chart.setOption(
    {
      animation: false,
      toolbox: {
        right: 8,
        feature: {
          saveAsImage: { type: 'png', name: safeName, title: 'Save as PNG' },
          mySaveSvg: {
            show: true,
            title: 'Save as SVG',
            icon: 'path://M4,2 L20,2 L20,22 L4,22 Z M8,8 L16,8 M8,12 L16,12 M8,16 L13,16',
            onclick: () => saveSvg(made, safeName),
          },
        },
      },
      ...option,
    },
    { notMerge: true, lazyUpdate: true },
  );
  element.setAttribute('data-drawn', 'true');
  return chart;
}

// Charts waiting to be drawn until their element comes near the viewport
// (drawLazily): building an option and drawing it is most of a study page's
// time at 10,000 trials, and most plots are below the fold.
const waiting = new Map<HTMLElement, { name: string; option: () => Option }>();
const nearViewport = new Set<HTMLElement>();
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const element = entry.target as HTMLElement;
    if (!entry.isIntersecting) {
      nearViewport.delete(element);
      continue;
    }
    nearViewport.add(element);
    const job = waiting.get(element);
    if (!job) continue;
    waiting.delete(element);
    draw(element, job.name, job.option()).getZr().flush();
  }
}, { rootMargin: '0px' });

// As draw, but `option` is built and drawn only once `element` is within
// 200 px of the viewport: at once when it is, else when the user scrolls
// to it. A later call replaces a pending one. The element gets
// data-drawn="true" once drawn (tests and bench/dashboard read it).
export function drawLazily(element: HTMLElement, name: string, option: () => Option): void {
  if (nearViewport.has(element)) {
    draw(element, name, option());
    return;
  }
  waiting.set(element, { name, option });
  observer.observe(element);
}

// Disposes every chart (when the page changes).
export function disposeAll(): void {
  for (const chart of live) chart.dispose();
  live.clear();
  for (const element of waiting.keys()) observer.unobserve(element);
  waiting.clear();
  nearViewport.clear();
}

window.addEventListener('resize', () => {
  for (const chart of live) chart.resize();
});

// A tooltip body: a title line and name/value rows, as text.
export function tooltip(title: string, rows: [string, string][]): HTMLElement {
  const box = h('div', {}, h('b', {}, title));
  for (const [name, value] of rows) box.appendChild(h('div', {}, `${name}: ${value}`));
  return box;
}
