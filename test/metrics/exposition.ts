// A strict reader of the Prometheus text exposition format (version 0.0.4), enough
// to check what /metrics serves: every family has one HELP and one TYPE before its
// samples, sample lines follow the grammar, label values are properly escaped,
// values are floats, histograms have cumulative buckets ending in +Inf = _count.
import { expect } from 'chai';

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`;
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (\\S+)(?: -?\\d+)?$`);
const LABEL_RE = new RegExp(LABEL, 'g');
// Prometheus parses values with Go's ParseFloat: Inf and NaN in any case (prom-client writes `Nan`).
const VALUE_RE = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|[+-]?inf|nan)$/i;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count', ''] };

const unescapeLabel = (v: string) => v.replace(/\\(["\\n])/g, (_m, c) => (c === 'n' ? '\n' : c));
const num = (v: string) => (/inf$/i.test(v) ? (v.startsWith('-') ? -Infinity : Infinity) : /nan/i.test(v) ? NaN : Number(v));

function familyOf(families: Map<string, Family>, sampleName: string): Family | undefined {
  for (const f of families.values()) {
    const names = (SUFFIXES[f.type] ?? ['']).map((s) => f.name + s);
    if (names.includes(sampleName)) return f;
  }
  return undefined;
}

export function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  expect(text.endsWith('\n'), 'ends with a newline').to.equal(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      expect(name, line).to.match(new RegExp(`^${NAME}$`));
      const f = families.get(name) ?? { name, type: '', help: '', samples: [] };
      expect(f.samples, `${kind} of ${name} comes before its samples`).to.have.length(0);
      if (kind === 'TYPE') {
        expect(f.type, `one TYPE for ${name}`).to.equal('');
        expect(TYPES.has(rest), line).to.equal(true);
        f.type = rest;
      } else f.help = rest;
      families.set(name, f);
      continue;
    }
    expect(line.startsWith('#'), `unexpected comment: ${line}`).to.equal(false);
    const m = SAMPLE_RE.exec(line);
    expect(m, `sample line grammar: ${line}`).to.not.equal(null);
    const value = m![m!.length - 1];
    expect(value, line).to.match(VALUE_RE);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m![2] ?? '').matchAll(LABEL_RE)) labels[k] = unescapeLabel(v);
    const f = familyOf(families, m![1]);
    expect(f, `sample ${m![1]} has a TYPE line`).to.not.equal(undefined);
    f!.samples.push({ name: m![1], labels, value: num(value) });
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(rest);
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const [key, samples] of series) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name.endsWith('_count'));
    expect(buckets.at(-1)?.labels.le, `${f.name}${key} ends with +Inf`).to.equal('+Inf');
    for (let i = 1; i < buckets.length; i++) expect(buckets[i].value).to.be.at.least(buckets[i - 1].value);
    expect(buckets.at(-1)!.value, `${f.name}${key} +Inf = _count`).to.equal(count?.value);
  }
}

/** The value of one series (0 when absent), matching the given labels. */
export function value(families: Map<string, Family>, sampleName: string, labels: Record<string, string> = {}): number {
  const f = familyOf(families, sampleName);
  const s = f?.samples.find((x) => x.name === sampleName && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s?.value ?? 0;
}
