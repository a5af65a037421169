/** Small inline-SVG line and bar charts for the self-contained HTML report (no scripts, no assets). */

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
}

export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly width?: number;
  readonly height?: number;
}

const MARGIN = { left: 60, right: 130, top: 30, bottom: 40 };

export function lineChart(options: ChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 280;
  const plotW = width - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const all = options.series.flatMap((series) => series.points);
  const xAxis = niceAxis(Math.max(1, ...all.map(([x]) => x)));
  const yAxis = niceAxis(Math.max(1e-3, ...all.map(([, y]) => y)));
  const x = (value: number) => MARGIN.left + (value / xAxis.max) * plotW;
  const y = (value: number) => MARGIN.top + plotH - (value / yAxis.max) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(options.title)}">`,
    `<text x="${MARGIN.left}" y="18" font-size="14" font-weight="bold">${escapeHtml(options.title)}</text>`,
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (let tick = 0; tick <= yAxis.ticks; tick++) {
    const yValue = yAxis.step * tick;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${fixed(y(yValue))}" y2="${fixed(y(yValue))}" stroke="#eee"/>`,
      `<text x="${MARGIN.left - 6}" y="${fixed(y(yValue) + 4)}" font-size="11" text-anchor="end">${label(yValue)}</text>`,
    );
  }
  for (let tick = 0; tick <= xAxis.ticks; tick++) {
    const xValue = xAxis.step * tick;
    parts.push(`<text x="${fixed(x(xValue))}" y="${MARGIN.top + plotH + 16}" font-size="11" text-anchor="middle">${label(xValue)}</text>`);
  }
  parts.push(
    `<text x="${MARGIN.left + plotW / 2}" y="${height - 6}" font-size="12" text-anchor="middle">${escapeHtml(options.xLabel)}</text>`,
    `<text x="14" y="${MARGIN.top + plotH / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 14 ${MARGIN.top + plotH / 2})">${escapeHtml(options.yLabel)}</text>`,
  );
  options.series.forEach((series, index) => {
    if (series.points.length > 0) {
      const path = series.points.map(([px, py]) => `${fixed(x(px))},${fixed(y(py))}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${series.color}" stroke-width="1.8" points="${path}"/>`);
      if (series.points.length === 1) {
        const [px, py] = series.points[0]!;
        parts.push(`<circle cx="${fixed(x(px))}" cy="${fixed(y(py))}" r="3" fill="${series.color}"/>`);
      }
    }
    const legendY = MARGIN.top + 14 + index * 18;
    parts.push(
      `<line x1="${width - MARGIN.right + 10}" x2="${width - MARGIN.right + 30}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${series.color}" stroke-width="3"/>`,
      `<text x="${width - MARGIN.right + 36}" y="${legendY}" font-size="12">${escapeHtml(series.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export interface Bar {
  readonly label: string;
  readonly value: number;
}

export interface BarChartOptions {
  readonly title: string;
  /** Written after each value: "ms". */
  readonly unit: string;
  readonly bars: readonly Bar[];
  readonly color?: string;
  readonly width?: number;
}

const BAR_LABEL_WIDTH = 230;
const BAR_ROW_HEIGHT = 22;
const BAR_VALUE_ROOM = 80;

/** Horizontal bars in the order given, each labelled with its value, scaled to the largest. */
export function barChart(options: BarChartOptions): string {
  const width = options.width ?? 760;
  const height = MARGIN.top + options.bars.length * BAR_ROW_HEIGHT + 10;
  const plotW = width - BAR_LABEL_WIDTH - BAR_VALUE_ROOM;
  const max = Math.max(1e-9, ...options.bars.map((bar) => bar.value));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(options.title)}">`,
    `<text x="0" y="18" font-size="14" font-weight="bold">${escapeHtml(options.title)}</text>`,
  ];
  options.bars.forEach((bar, index) => {
    const top = MARGIN.top + index * BAR_ROW_HEIGHT;
    const barW = Math.max(0, (bar.value / max) * plotW);
    parts.push(
      `<text x="${BAR_LABEL_WIDTH - 8}" y="${top + 15}" font-size="12" text-anchor="end">${escapeHtml(bar.label)}</text>`,
      `<rect x="${BAR_LABEL_WIDTH}" y="${top + 3}" width="${fixed(barW)}" height="${BAR_ROW_HEIGHT - 6}" fill="${options.color ?? '#1f77b4'}"/>`,
      `<text x="${fixed(BAR_LABEL_WIDTH + barW + 6)}" y="${top + 15}" font-size="12">${escapeHtml(`${label(bar.value)} ${options.unit}`)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** Most ticks an axis gets, past its zero. */
const AXIS_TICKS_MAX = 4;

/**
 * An axis from zero for data up to `value`: ticks a round step apart (1, 2, 2.5 or 5 times a power
 * of ten), ending at the first tick at or past the value, so that the data fills most of the plot
 * (61 s: 0-80 by 20, not 0-100).
 */
export function niceAxis(value: number): { max: number; step: number; ticks: number } {
  const rough = value / AXIS_TICKS_MAX;
  const power = 10 ** Math.floor(Math.log10(rough));
  // power <= rough < 10 * power, so one of these is at or past it.
  const step = [1, 2, 2.5, 5].map((factor) => factor * power).find((candidate) => candidate >= rough) ?? 10 * power;
  const ticks = Math.max(1, Math.ceil(value / step - 1e-9));
  return { max: step * ticks, step, ticks };
}

function fixed(value: number): string {
  return value.toFixed(1);
}

function label(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(3).replace(/\.?0+$/, '');
}
