// charts.js - uPlot time-series charts in the dashboard's style: UTC axis
// labels, the status colours of app.css, and a width that follows the
// container (ResizeObserver). The canvas is hidden from assistive technology;
// each caller supplies a text alternative (a summary and a table).

import uPlot from 'uplot';

export const COLORS = {
  received: '#475569',
  delivered: '#15803d',
  bounced: '#b91c1c',
  deferred: '#b45309',
  expired: '#7e22ce',
  rate: '#1d4ed8',
};

const AXIS = { stroke: '#475569', grid: { stroke: '#e5e7eb', width: 1 }, ticks: { stroke: '#cbd5e1', width: 1 }, font: '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' };
const utc = (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC');

/**
 * lineChart(container, {x, series: [{label, values, color}], height, yFormat, yMax})
 * x: seconds since the epoch; returns the uPlot instance.
 */
export function lineChart(container, { x, series, height = 260, yFormat = (v) => String(v), yMax = null, dayBuckets = false }) {
  const points = x.length <= 72;
  const opts = {
    width: Math.max(280, container.clientWidth || 600),
    height,
    tzDate: utc,
    cursor: { points: { size: 7 }, drag: { x: false, y: false } },
    legend: { live: false },
    scales: {
      x: { time: true },
      y: { range: (u, min, max) => [0, yMax !== null ? yMax : Math.max(4, Math.ceil(max * 1.15))] },
    },
    axes: [
      { ...AXIS, space: 64, values: (u, splits) => xLabels(splits, dayBuckets) },
      { ...AXIS, size: 56, values: (u, vals) => vals.map((v) => yFormat(v)) },
    ],
    series: [
      { label: dayBuckets ? 'Day (UTC)' : 'Hour (UTC)', value: (u, v) => (v === null || v === undefined ? '—' : formatX(v, dayBuckets)) },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 2,
        fill: s.fill || null,
        spanGaps: false,
        points: { show: points, size: 5, fill: s.color },
        value: (u, v) => (v === null || v === undefined ? '—' : yFormat(v)),
      })),
    ],
  };
  const u = new uPlot(opts, [x, ...series.map((s) => s.values)], container);
  const ro = new ResizeObserver(() => {
    if (!container.isConnected) {
      ro.disconnect();
      u.destroy();
      return;
    }
    const w = Math.max(280, container.clientWidth);
    if (w !== u.width) u.setSize({ width: w, height });
  });
  ro.observe(container);
  return u;
}

/** Axis labels in UTC, 24-hour: "18:00", with the date under midnight and the first tick. */
function xLabels(splits, day) {
  let lastDate = null;
  return splits.map((ts) => {
    const iso = new Date(ts * 1000).toISOString();
    const date = iso.slice(5, 10);
    if (day) return date;
    const label = iso.slice(11, 16) + (date !== lastDate ? `\n${date}` : '');
    lastDate = date;
    return label;
  });
}

export function formatX(ts, day) {
  const iso = new Date(ts * 1000).toISOString();
  return day ? iso.slice(0, 10) : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}
