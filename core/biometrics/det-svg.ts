/** A DET curve (FNMR against FMR, both on log scales) as a self-contained SVG document. */

export interface DetSeries {
  name: string;
  points: readonly { fmr: number; fnmr: number }[];
}

const widthPx = 640;
const heightPx = 480;
const marginPx = 60;
const minRate = 1e-5;
const colours = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#7f7f7f'];
const decades = [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1];

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function axis(rate: number, lengthPx: number): number {
  const clamped = Math.max(minRate, Math.min(1, rate));
  return ((Math.log10(clamped) - Math.log10(minRate)) / -Math.log10(minRate)) * lengthPx;
}

function xOf(fmr: number): number {
  return marginPx + axis(fmr, widthPx - 2 * marginPx);
}

function yOf(fnmr: number): number {
  return heightPx - marginPx - axis(fnmr, heightPx - 2 * marginPx);
}

export function detSvg(series: readonly DetSeries[], title: string): string {
  const grid = decades.flatMap((rate) => [
    `<line x1="${xOf(rate)}" y1="${yOf(minRate)}" x2="${xOf(rate)}" y2="${yOf(1)}" stroke="#ddd"/>`,
    `<line x1="${xOf(minRate)}" y1="${yOf(rate)}" x2="${xOf(1)}" y2="${yOf(rate)}" stroke="#ddd"/>`,
    `<text x="${xOf(rate)}" y="${heightPx - marginPx + 16}" font-size="11" text-anchor="middle">${rate}</text>`,
    `<text x="${marginPx - 6}" y="${yOf(rate) + 4}" font-size="11" text-anchor="end">${rate}</text>`,
  ]);
  const lines = series.flatMap((entry, index) => {
    const colour = colours[index % colours.length]!;
    const path = entry.points.map((point) => `${xOf(point.fmr).toFixed(1)},${yOf(point.fnmr).toFixed(1)}`).join(' ');
    return [
      `<polyline fill="none" stroke="${colour}" stroke-width="1.5" points="${path}"/>`,
      `<text x="${widthPx - marginPx - 4}" y="${marginPx + 14 * (index + 1)}" font-size="12" text-anchor="end" fill="${colour}">${escapeXml(entry.name)}</text>`,
    ];
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${widthPx / 2}" y="24" font-size="14" text-anchor="middle">${escapeXml(title)}</text>`,
    ...grid,
    ...lines,
    `<text x="${widthPx / 2}" y="${heightPx - 20}" font-size="12" text-anchor="middle">FMR</text>`,
    `<text x="16" y="${heightPx / 2}" font-size="12" text-anchor="middle" transform="rotate(-90 16 ${heightPx / 2})">FNMR</text>`,
    '</svg>',
    '',
  ].join('\n');
}
