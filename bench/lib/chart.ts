/** A line chart as SVG, for bench/results/*.svg. */
export interface Series {
  name: string;
  /** [x, y] */
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** A step/line chart of several series, hand-rolled SVG (no dependency). */
export function lineChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  step?: boolean;
}): string {
  const width = 720;
  const height = 420;
  const m = { left: 60, right: 160, top: 40, bottom: 50 };
  const all = o.series.flatMap((s) => s.points);
  const xMax = niceMax(Math.max(1e-9, ...all.map((p) => p[0])));
  const yMax = niceMax(Math.max(1e-9, ...all.map((p) => p[1])));
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number) => m.left + (x / xMax) * pw;
  const sy = (y: number) => m.top + ph - (y / yMax) * ph;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<title>${esc(o.title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${esc(o.title)}</text>`,
  ];
  for (let i = 0; i <= 5; i++) {
    const xv = (xMax * i) / 5;
    const yv = (yMax * i) / 5;
    parts.push(
      `<line x1="${sx(xv)}" y1="${m.top}" x2="${sx(xv)}" y2="${m.top + ph}" stroke="#eee"/>`,
      `<text x="${sx(xv)}" y="${m.top + ph + 16}" text-anchor="middle">${+xv.toPrecision(3)}</text>`,
      `<line x1="${m.left}" y1="${sy(yv)}" x2="${m.left + pw}" y2="${sy(yv)}" stroke="#eee"/>`,
      `<text x="${m.left - 6}" y="${sy(yv) + 4}" text-anchor="end">${+yv.toPrecision(3)}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#888"/>`,
    `<text x="${m.left + pw / 2}" y="${height - 12}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`,
  );
  o.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts: string[] = [];
    let prev: [number, number] | undefined;
    for (const p of [...s.points].sort((a, b) => a[0] - b[0])) {
      if (o.step && prev) pts.push(`${sx(p[0]).toFixed(1)},${sy(prev[1]).toFixed(1)}`);
      pts.push(`${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`);
      prev = p;
    }
    parts.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"/>`,
      `<line x1="${m.left + pw + 12}" y1="${m.top + 10 + i * 20}" x2="${m.left + pw + 32}" y2="${m.top + 10 + i * 20}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${m.left + pw + 38}" y="${m.top + 14 + i * 20}">${esc(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}

function niceMax(v: number): number {
  const exp = 10 ** Math.floor(Math.log10(v));
  for (const f of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (f * exp >= v) return f * exp;
  return 10 * exp;
}
