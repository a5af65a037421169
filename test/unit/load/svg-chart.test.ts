import { describe, expect, it } from 'vitest';
import { lineChart, niceAxis } from '../../../core/load/svg-chart.js';

describe('chart axes', () => {
  it('end at the first round tick at or past the data, four ticks at most', () => {
    expect(niceAxis(61)).toEqual({ max: 80, step: 20, ticks: 4 });
    expect(niceAxis(60)).toEqual({ max: 60, step: 20, ticks: 3 });
    expect(niceAxis(80)).toEqual({ max: 80, step: 20, ticks: 4 });
    expect(niceAxis(819)).toEqual({ max: 1000, step: 250, ticks: 4 });
    expect(niceAxis(197.5)).toEqual({ max: 200, step: 50, ticks: 4 });
    expect(niceAxis(30)).toEqual({ max: 30, step: 10, ticks: 3 });
    expect(niceAxis(1)).toEqual({ max: 1, step: 0.25, ticks: 4 });
    for (const value of [1e-3, 0.7, 3, 7, 13, 99, 101, 999, 1234, 20_000]) {
      const axis = niceAxis(value);
      expect(axis.max).toBeGreaterThanOrEqual(value);
      expect(axis.ticks).toBeLessThanOrEqual(4);
      // The data fills more than half of the axis.
      expect(value / axis.max, String(value)).toBeGreaterThan(0.5);
    }
  });

  it('labels the x axis with its ticks only', () => {
    const svg = lineChart({ title: 't', xLabel: 's', yLabel: 'ms', series: [{ name: 'p99', color: '#000', points: [[1, 10], [61, 40]] }] });
    const xLabels = [...svg.matchAll(/text-anchor="middle">(\d+)<\/text>/g)].map(([, text]) => Number(text));
    expect(xLabels).toEqual([0, 20, 40, 60, 80]);
  });
});
