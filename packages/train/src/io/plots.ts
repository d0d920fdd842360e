/**
 * @file Charts as SVG text: loss curves and bar charts. Specs are written in Vega-Lite, compiled to Vega and
 * rendered headless by Vega's SVG string renderer, which needs no canvas or browser (text widths are
 * estimated, which is fine for plots).
 */
import * as vega from 'vega';
import { type TopLevelSpec, compile } from 'vega-lite';
import { writeFileAtomic } from './atomic.ts';

export interface LossSeries {
  name: string;
  points: { step: number; loss: number }[];
}

export interface LossCurveOptions {
  /** Log-scale loss axis, for curves spanning orders of magnitude. */
  logY?: boolean;
  width?: number;
  height?: number;
}

export interface BarRow {
  group: string;
  value: number;
  /** Half-width of the error bar (e.g. a standard deviation); omitted means no error bar. */
  error?: number;
}

export interface BarChartOptions {
  title: string;
  yLabel: string;
  xLabel?: string;
  width?: number;
  height?: number;
}

/** Render a Vega-Lite spec to an SVG string. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One line per series, loss against step. Points with a non-finite loss (a diverged run) are left out. */
export function lossCurveSvg(
  series: LossSeries[],
  title: string,
  options: LossCurveOptions = {},
): Promise<string> {
  const values = series.flatMap((s) =>
    s.points
      .filter((p) => Number.isFinite(p.step) && Number.isFinite(p.loss) && (!options.logY || p.loss > 0))
      .map((p) => ({ series: s.name, step: p.step, loss: p.loss })),
  );
  return renderSvg({
    title,
    width: options.width ?? 480,
    height: options.height ?? 300,
    data: { values },
    mark: { type: 'line', clip: true },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'step' },
      y: {
        field: 'loss',
        type: 'quantitative',
        title: 'loss',
        scale: options.logY ? { type: 'log' } : { zero: false },
      },
      // Keep the caller's order for the legend and colors.
      color: { field: 'series', type: 'nominal', title: 'series', sort: series.map((s) => s.name) },
    },
  });
}

/** One bar per row, in the given order, with optional symmetric error bars. */
export function barChartSvg(rows: BarRow[], options: BarChartOptions): Promise<string> {
  const values = rows
    .filter((r) => Number.isFinite(r.value))
    .map((r) => {
      const err = r.error !== undefined && Number.isFinite(r.error) ? Math.abs(r.error) : null;
      return {
        group: r.group,
        value: r.value,
        lo: err === null ? null : r.value - err,
        hi: err === null ? null : r.value + err,
      };
    });
  const y = { type: 'quantitative', title: options.yLabel } as const;
  return renderSvg({
    title: options.title,
    width: options.width ?? 480,
    height: options.height ?? 300,
    data: { values },
    encoding: {
      x: {
        field: 'group',
        type: 'nominal',
        title: options.xLabel ?? null,
        sort: values.map((v) => v.group),
        axis: { labelAngle: 0 },
      },
    },
    layer: [
      { mark: 'bar', encoding: { y: { ...y, field: 'value' } } },
      {
        transform: [{ filter: 'isValid(datum.lo)' }],
        mark: { type: 'errorbar', color: '#222', ticks: { size: 12 } },
        encoding: { y: { ...y, field: 'lo' }, y2: { field: 'hi' } },
      },
    ],
  });
}

export interface GroupedBarRow {
  group: string;
  series: string;
  value: number;
}

export interface GroupedBarChartOptions extends BarChartOptions {
  /** Log-scale value axis, for values spanning orders of magnitude. */
  logY?: boolean;
}

/** Bars per group side by side, one color per series, groups and series in the given order. */
export function groupedBarChartSvg(rows: GroupedBarRow[], options: GroupedBarChartOptions): Promise<string> {
  const values = rows.filter((r) => Number.isFinite(r.value) && (!options.logY || r.value > 0));
  const order = (key: 'group' | 'series') => [...new Set(values.map((v) => v[key]))];
  return renderSvg({
    title: options.title,
    width: options.width ?? 560,
    height: options.height ?? 300,
    data: { values },
    mark: 'bar',
    encoding: {
      x: {
        field: 'group',
        type: 'nominal',
        title: options.xLabel ?? null,
        sort: order('group'),
        axis: { labelAngle: 0 },
      },
      xOffset: { field: 'series', type: 'nominal', sort: order('series') },
      y: {
        field: 'value',
        type: 'quantitative',
        title: options.yLabel,
        stack: null,
        // Bars start at the axis floor: put it below the smallest value so that bar stays visible.
        ...(options.logY
          ? { scale: { type: 'log', domainMin: Math.min(...values.map((v) => v.value)) / 2 } }
          : {}),
      },
      color: { field: 'series', type: 'nominal', title: null, sort: order('series') },
    },
  });
}

/** Write an SVG file atomically. */
export function writeSvg(path: string, svg: string): void {
  writeFileAtomic(path, svg);
}
