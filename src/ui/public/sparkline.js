// A tiny SVG line chart of recent samples, drawn client-side from successive polls.
import { svg } from './dom.js';

const WIDTH = 100;
const HEIGHT = 24;

/** @param {number[]} values @param {string} label what the line shows, for screen readers */
export function sparkline(values, label) {
  const el = svg('svg', { class: 'spark', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT, role: 'img' });
  el.setAttribute('aria-label', label);
  if (values.length < 2) return el;
  const max = Math.max(...values, 1);
  const step = WIDTH / (values.length - 1);
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(HEIGHT - 2 - (v / max) * (HEIGHT - 4)).toFixed(1)}`);
  el.append(svg('polyline', { points: points.join(' '), fill: 'none', stroke: 'currentColor', 'stroke-width': 1.5 }));
  return el;
}

/**
 * Turns successive cumulative counters into rates per minute, keeping the last `keep` rates per key.
 * Counters can drop (purged jobs); a drop counts as zero, not a negative rate.
 */
export class RateHistory {
  /** @param {number} keep */
  constructor(keep) {
    this.keep = keep;
    /** @type {Map<string, number[]>} */
    this.rates = new Map();
    /** @type {Map<string, { at: number, value: number }>} */
    this.last = new Map();
  }

  /** @param {string} key @param {number} value cumulative count @param {number} at ms timestamp */
  add(key, value, at) {
    const prev = this.last.get(key);
    this.last.set(key, { at, value });
    if (!prev || at <= prev.at) return;
    const rate = (Math.max(0, value - prev.value) / (at - prev.at)) * 60_000;
    const list = this.rates.get(key) ?? [];
    list.push(rate);
    if (list.length > this.keep) list.shift();
    this.rates.set(key, list);
  }

  /** @param {string} key */
  get(key) {
    return this.rates.get(key) ?? [];
  }
}
