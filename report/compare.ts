/**
 * `fairline compare`: what changed between two runs and whether it got better. Pure: it takes
 * each run's manifest (params, spec digest, every stage's resolved `with`) and report.json, and
 * returns plain data that the CLI prints as tables or JSON.
 *
 * Every delta is b − a (run B minus run A) and says which direction is better: F1, precision and
 * recall higher; absolute reactivity and flip rates lower; signed reactivity closer to 0 (its sign
 * only says which side of a pair the model leans to).
 */
import { z } from 'zod';
import { canonicalJson } from '../pipeline/canonical-json';
import { jsonSchema, type Json } from '../pipeline/run-spec';
import { artifactRefSchema } from '../store/types';
import type { Audit, Report, ReactivitySlice } from './schema';

/**
 * The parts of a run manifest (activities/index.ts writeManifest) that a comparison reads. Loose
 * on purpose: manifests carry more (times, attempts, outputs), and older ones may lack `inputs`.
 */
export const comparedManifestSchema = z
  .object({
    pipeline: z.string(),
    runId: z.string(),
    specDigest: z.string(),
    params: z.record(z.string(), jsonSchema),
    stages: z.array(
      z.object({ id: z.string(), uses: z.string(), inputs: z.record(z.string(), jsonSchema).optional() }).passthrough(),
    ),
  })
  .passthrough();
export type ComparedManifest = z.infer<typeof comparedManifestSchema>;

/** One side of a comparison. */
export interface ComparedRun {
  manifest: ComparedManifest;
  report: Report;
}

/** Which direction of a number is better. */
export type Better = 'higher' | 'lower' | 'closer-to-zero';
/** How B compares with A; `only-a`/`only-b` when the number exists in one run only. */
export type Verdict = 'better' | 'worse' | 'same' | 'only-a' | 'only-b';

export interface Delta {
  a: number | null;
  b: number | null;
  /** b − a; null when either side is missing. */
  delta: number | null;
  better: Better;
  verdict: Verdict;
}

/** A model of A matched with a model of B: the same name, or the two runs' reported (headline) models. */
export interface ModelPair {
  a: string;
  b: string;
}

/**
 * A difference in params or in a stage's resolved `with`; `path` is dotted (`params.lr`, `stages.train.with.epochs`).
 */
export interface Change {
  path: string;
  kind: 'added' | 'removed' | 'changed';
  a?: Json;
  b?: Json;
}

export interface DigestComparison {
  a: string | null;
  b: string | null;
  same: boolean;
}

export type MetricName = 'macro_f1' | 'micro_f1' | 'weighted_f1' | 'precision' | 'recall' | 'f1';

export interface MetricRow extends Delta {
  models: ModelPair;
  metric: MetricName;
  /** null for the averages over labels. */
  label: string | null;
}

export interface ReactivityRow extends Delta {
  models: ModelPair;
  /** null: over all groups (`overall`, or the audit's `max_absolute`). */
  group: string | null;
  /** null: the summary over labels. */
  label: string | null;
  measure: 'absolute' | 'signed' | 'max_absolute';
}

export interface FlipRateRow extends Delta {
  models: ModelPair;
  /** null: overall. */
  group: string | null;
}

export interface GateResult {
  passed: boolean;
  mode: 'fail' | 'warn';
  reasons: string[];
}

export interface GateRow {
  models: ModelPair;
  a: GateResult | null;
  b: GateResult | null;
  verdict: Verdict;
}

export interface HeadlineRow extends Delta {
  metric: 'macro_f1' | 'micro_f1' | 'reactivity';
}

export interface RunComparison {
  spec: DigestComparison;
  /** Params and stage `with` differences, sorted by path. */
  changes: Change[];
  dataset: DigestComparison;
  /** Every model either run names, A's order first. */
  models: (DigestComparison & { name: string })[];
  /** The reported model of each run: the numbers that became search attributes. */
  headline: { models: { a: string | null; b: string | null }; rows: HeadlineRow[] };
  metrics: MetricRow[];
  reactivity: ReactivityRow[];
  flipRates: FlipRateRow[];
  gates: GateRow[];
}

/** b − a with its verdict. A number missing on one side is `only-a`/`only-b`. */
export function delta(a: number | null | undefined, b: number | null | undefined, better: Better): Delta {
  const av = a ?? null;
  const bv = b ?? null;
  if (av === null || bv === null)
    return { a: av, b: bv, delta: null, better, verdict: av === null ? 'only-b' : 'only-a' };
  const d = bv - av;
  // Signed reactivity: the distance from 0 is what matters, not the sign.
  const gain = better === 'higher' ? d : better === 'lower' ? -d : Math.abs(av) - Math.abs(bv);
  return { a: av, b: bv, delta: d, better, verdict: gain > 0 ? 'better' : gain < 0 ? 'worse' : 'same' };
}

/** Names in A's order, then those only B has. */
function union(a: readonly string[], b: readonly string[]): string[] {
  return [...a, ...b.filter((name) => !a.includes(name))];
}

/**
 * Models with the same name in both runs, and the two reported models when their names differ (a baseline run against a
 * debiased one).
 */
function modelPairs(
  a: readonly string[],
  b: readonly string[],
  headlineA: string | null,
  headlineB: string | null,
): ModelPair[] {
  const pairs = a.filter((name) => b.includes(name)).map((name) => ({ a: name, b: name }));
  if (
    headlineA !== null &&
    headlineB !== null &&
    headlineA !== headlineB &&
    a.includes(headlineA) &&
    b.includes(headlineB)
  )
    pairs.push({ a: headlineA, b: headlineB });
  return pairs;
}

/**
 * Artifact references count by content, as cache keys do: the same bytes stored under another
 * name are no change, and different bytes show as a different digest.
 */
function byContent(value: Json): Json {
  const ref = artifactRefSchema.safeParse(value);
  if (ref.success) return `sha256:${ref.data.sha256}`;
  if (Array.isArray(value)) return value.map(byContent);
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, byContent(v)]));
  return value;
}

/** Dotted leaves of a JSON object; arrays and artifact references are leaves. */
function flatten(value: Record<string, Json>, prefix: string, out: Map<string, Json> = new Map()): Map<string, Json> {
  for (const [key, member] of Object.entries(value)) {
    const path = `${prefix}.${key}`;
    if (isObject(member) && Object.keys(member).length > 0) flatten(member, path, out);
    else out.set(path, member);
  }
  return out;
}

function diffMaps(a: Map<string, Json>, b: Map<string, Json>): Change[] {
  const changes: Change[] = [];
  for (const [path, av] of a) {
    if (!b.has(path)) changes.push({ path, kind: 'removed', a: av });
    else if (canonicalJson(av) !== canonicalJson(b.get(path)!))
      changes.push({ path, kind: 'changed', a: av, b: b.get(path)! });
  }
  for (const [path, bv] of b) if (!a.has(path)) changes.push({ path, kind: 'added', b: bv });
  return changes;
}

/** Params and stages: a stage only one run has is one change (its `uses`); a shared one is compared key by key. */
function specChanges(a: ComparedManifest, b: ComparedManifest): Change[] {
  const changes = diffMaps(flatten(a.params, 'params'), flatten(b.params, 'params'));
  const stagesB = new Map(b.stages.map((s) => [s.id, s]));
  const stagesA = new Map(a.stages.map((s) => [s.id, s]));
  for (const sa of a.stages) {
    const sb = stagesB.get(sa.id);
    if (!sb) {
      changes.push({ path: `stages.${sa.id}`, kind: 'removed', a: sa.uses });
      continue;
    }
    if (sa.uses !== sb.uses) changes.push({ path: `stages.${sa.id}.uses`, kind: 'changed', a: sa.uses, b: sb.uses });
    // A stage that never started (skipped) has no recorded inputs: nothing to compare.
    if (sa.inputs && sb.inputs) {
      const contentA = byContent(sa.inputs);
      const contentB = byContent(sb.inputs);
      if (isObject(contentA) && isObject(contentB))
        changes.push(...diffMaps(flatten(contentA, `stages.${sa.id}.with`), flatten(contentB, `stages.${sa.id}.with`)));
    }
  }
  for (const sb of b.stages)
    if (!stagesA.has(sb.id)) changes.push({ path: `stages.${sb.id}`, kind: 'added', b: sb.uses });
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

function isObject(value: Json): value is { [key: string]: Json } {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function digests(a: string | null | undefined, b: string | null | undefined): DigestComparison {
  const av = a ?? null;
  const bv = b ?? null;
  return { a: av, b: bv, same: av !== null && av === bv };
}

function metricRows(a: Report, b: Report, pairs: ModelPair[]): MetricRow[] {
  const rows: MetricRow[] = [];
  for (const models of pairs) {
    const ma = a.evaluation?.models.find((m) => m.name === models.a)?.metrics;
    const mb = b.evaluation?.models.find((m) => m.name === models.b)?.metrics;
    if (!ma || !mb) continue;
    for (const metric of ['macro_f1', 'micro_f1', 'weighted_f1'] as const)
      rows.push({ models, metric, label: null, ...delta(ma[metric], mb[metric], 'higher') });
    for (const label of union(
      ma.per_label.map((l) => l.label),
      mb.per_label.map((l) => l.label),
    )) {
      const la = ma.per_label.find((l) => l.label === label);
      const lb = mb.per_label.find((l) => l.label === label);
      for (const metric of ['precision', 'recall', 'f1'] as const)
        rows.push({ models, metric, label, ...delta(la?.[metric], lb?.[metric], 'higher') });
    }
  }
  return rows;
}

/** Summary and per-label rows of one slice (overall or a group) present in both audits. */
function sliceRows(models: ModelPair, group: string | null, sa: ReactivitySlice, sb: ReactivitySlice): ReactivityRow[] {
  const rows: ReactivityRow[] = [
    { models, group, label: null, measure: 'absolute', ...delta(sa.absolute.value, sb.absolute.value, 'lower') },
    { models, group, label: null, measure: 'signed', ...delta(sa.signed.value, sb.signed.value, 'closer-to-zero') },
  ];
  for (const label of union(
    sa.per_label.map((l) => l.label),
    sb.per_label.map((l) => l.label),
  )) {
    const la = sa.per_label.find((l) => l.label === label);
    const lb = sb.per_label.find((l) => l.label === label);
    rows.push({ models, group, label, measure: 'absolute', ...delta(la?.absolute.value, lb?.absolute.value, 'lower') });
    rows.push({
      models,
      group,
      label,
      measure: 'signed',
      ...delta(la?.signed.value, lb?.signed.value, 'closer-to-zero'),
    });
  }
  return rows;
}

function auditOf(report: Report, name: string): Audit | undefined {
  return report.audits.find((x) => x.name === name);
}

function reactivityRows(
  a: Report,
  b: Report,
  pairs: ModelPair[],
): { reactivity: ReactivityRow[]; flipRates: FlipRateRow[] } {
  const reactivity: ReactivityRow[] = [];
  const flipRates: FlipRateRow[] = [];
  for (const models of pairs) {
    const aa = auditOf(a, models.a);
    const ab = auditOf(b, models.b);
    if (!aa || !ab) continue;
    reactivity.push({
      models,
      group: null,
      label: null,
      measure: 'max_absolute',
      ...delta(aa.max_abs_reactivity, ab.max_abs_reactivity, 'lower'),
    });
    reactivity.push(...sliceRows(models, null, aa.overall, ab.overall));
    flipRates.push({ models, group: null, ...delta(aa.overall.flip_rate, ab.overall.flip_rate, 'lower') });
    for (const group of union(
      aa.groups.map((g) => g.group),
      ab.groups.map((g) => g.group),
    )) {
      const ga = aa.groups.find((g) => g.group === group);
      const gb = ab.groups.find((g) => g.group === group);
      if (ga && gb) reactivity.push(...sliceRows(models, group, ga, gb));
      else {
        // A group only one run audited: its summary, marked as such.
        reactivity.push({
          models,
          group,
          label: null,
          measure: 'absolute',
          ...delta(ga?.absolute.value, gb?.absolute.value, 'lower'),
        });
        reactivity.push({
          models,
          group,
          label: null,
          measure: 'signed',
          ...delta(ga?.signed.value, gb?.signed.value, 'closer-to-zero'),
        });
      }
      flipRates.push({ models, group, ...delta(ga?.flip_rate, gb?.flip_rate, 'lower') });
    }
  }
  return { reactivity, flipRates };
}

/** Gates of matched audits: passing where A failed is better, failing where A passed is worse. */
function gateRows(a: Report, b: Report, pairs: ModelPair[]): GateRow[] {
  const gate = (audit: Audit | undefined): GateResult | null =>
    audit ? { passed: audit.gate.passed, mode: audit.gate.mode, reasons: audit.gate.reasons } : null;
  return pairs.flatMap((models) => {
    const ga = gate(auditOf(a, models.a));
    const gb = gate(auditOf(b, models.b));
    if (!ga && !gb) return [];
    const verdict: Verdict = !ga
      ? 'only-b'
      : !gb
        ? 'only-a'
        : ga.passed === gb.passed
          ? 'same'
          : gb.passed
            ? 'better'
            : 'worse';
    return [{ models, a: ga, b: gb, verdict }];
  });
}

export function compareRuns(a: ComparedRun, b: ComparedRun): RunComparison {
  const ra = a.report;
  const rb = b.report;
  const namesA = ra.evaluation?.models.map((m) => m.name) ?? [];
  const namesB = rb.evaluation?.models.map((m) => m.name) ?? [];
  const metricPairs = modelPairs(namesA, namesB, ra.headline.model, rb.headline.model);
  const auditPairs = modelPairs(
    ra.audits.map((x) => x.name),
    rb.audits.map((x) => x.name),
    ra.headline.model,
    rb.headline.model,
  );
  const digestNames = union(Object.keys(ra.provenance.model_digests), Object.keys(rb.provenance.model_digests));
  return {
    spec: digests(a.manifest.specDigest, b.manifest.specDigest),
    changes: specChanges(a.manifest, b.manifest),
    dataset: digests(ra.provenance.dataset_digest, rb.provenance.dataset_digest),
    models: digestNames.map((name) => ({
      name,
      ...digests(ra.provenance.model_digests[name], rb.provenance.model_digests[name]),
    })),
    headline: {
      models: { a: ra.headline.model, b: rb.headline.model },
      // A headline neither run has (no audit in either) is left out rather than shown as a change.
      rows: (
        [
          { metric: 'macro_f1', ...delta(ra.headline.macro_f1, rb.headline.macro_f1, 'higher') },
          { metric: 'micro_f1', ...delta(ra.headline.micro_f1, rb.headline.micro_f1, 'higher') },
          { metric: 'reactivity', ...delta(ra.headline.reactivity, rb.headline.reactivity, 'lower') },
        ] satisfies HeadlineRow[]
      ).filter((row) => row.a !== null || row.b !== null),
    },
    metrics: metricRows(ra, rb, metricPairs),
    ...reactivityRows(ra, rb, auditPairs),
    gates: gateRows(ra, rb, auditPairs),
  };
}
