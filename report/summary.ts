/**
 * The closing lines of `fairline demo` (and anything else that wants a report in words): what
 * changed between the compared models, their F1 and reactivity with intervals, the gate's verdict
 * and why, and any training difference besides the method. Pure: report.json in, lines out.
 */
import type { Audit, Estimate, Report } from './schema';
import { METHOD_KEYS } from './training';

const f = (x: number): string => x.toFixed(3);
const ci = (e: Estimate): string => `${f(e.value)} [${f(e.ci_low)}, ${f(e.ci_high)}]`;

/** Whether interval b lies entirely below a (lower), above it (higher), or they overlap. */
function relation(a: Estimate, b: Estimate): 'lower' | 'higher' | 'overlapping' {
  if (b.ci_high < a.ci_low) return 'lower';
  if (b.ci_low > a.ci_high) return 'higher';
  return 'overlapping';
}

/** The most reactive group of an audit (the headline's max |reactivity|). */
function topGroup(audit: Audit): Audit['groups'][number] | undefined {
  return audit.groups.reduce<Audit['groups'][number] | undefined>(
    (best, g) => (best === undefined || g.absolute.value > best.absolute.value ? g : best),
    undefined,
  );
}

/**
 * Plain sentences comparing the reference (the evaluation's first model) with every other model:
 * F1, reactivity with CIs, the unseen-pairs figure when the audit has one, the gate, and the
 * training settings that differed.
 */
export function closingLines(report: Report): string[] {
  const lines: string[] = [];
  const evaluation = report.evaluation;
  const models = evaluation?.models ?? [];
  const reference = models[0];
  const auditOf = (name: string): (Audit & { name: string }) | undefined => report.audits.find((a) => a.name === name);
  if (reference === undefined) return ['No evaluation in this run: nothing to compare.'];
  for (const model of models.slice(1)) {
    const dMacro = model.metrics.macro_f1 - reference.metrics.macro_f1;
    const delta = evaluation?.deltas.find((d) => d.to === model.name && d.from === reference.name)?.intervals?.macro_f1;
    // With an interval of the paired difference, "better/worse" only when it excludes 0.
    const direction = delta
      ? delta.ci_low > 0
        ? 'better, the interval of the difference above 0'
        : delta.ci_high < 0
          ? 'worse, the interval of the difference below 0'
          : `no difference shown: the difference's interval [${f(delta.ci_low)}, ${f(delta.ci_high)}] holds 0`
      : Math.abs(dMacro) < 0.005
        ? 'about the same'
        : dMacro > 0
          ? 'better'
          : 'worse';
    const macroOf = (m: typeof model): string => (m.intervals ? ci(m.intervals.macro_f1) : f(m.metrics.macro_f1));
    lines.push(
      `${model.name} vs ${reference.name}: macro F1 ${macroOf(reference)} → ${macroOf(model)} (${dMacro >= 0 ? '+' : ''}${f(dMacro)}: ${direction}); ` +
        `micro F1 ${f(reference.metrics.micro_f1)} → ${f(model.metrics.micro_f1)}; ${model.metrics.n} test rows.`,
    );
    const a = auditOf(reference.name);
    const b = auditOf(model.name);
    const ga = a && topGroup(a);
    const gb = b && ga && b.groups.find((g) => g.group === ga.group);
    if (a && b && ga && gb) {
      const rel = relation(ga.absolute, gb.absolute);
      const said =
        rel === 'lower'
          ? 'lower, with the intervals apart'
          : rel === 'higher'
            ? 'higher, with the intervals apart'
            : 'the intervals overlap, so no difference is shown';
      lines.push(
        `  |reactivity| (${ga.group}, mean over labels, 95% CI): ${ci(ga.absolute)} → ${ci(gb.absolute)}: ${said}.`,
      );
      const labelA = ga.per_label.reduce((m, l) => (l.absolute.value > m.absolute.value ? l : m));
      const labelB = gb.per_label.find((l) => l.label === labelA.label);
      if (labelB)
        lines.push(
          `  most reactive label of ${reference.name}, ${labelA.label}: ${ci(labelA.absolute)} → ${ci(labelB.absolute)}.`,
        );
      const unseenA = a.masking?.slices.find((s) => s.name === 'unseen')?.reactivity;
      const unseenB = b.masking?.slices.find((s) => s.name === 'unseen')?.reactivity;
      if (unseenA && unseenB)
        lines.push(`  on pairs the masking never covered (unseen): ${ci(unseenA.absolute)} → ${ci(unseenB.absolute)}.`);
      else if (a.masking && !unseenA)
        lines.push('  every audited pair was masked in training: the reactivity above partly restates the masking.');
    }
    const differences = (evaluation?.config_differences ?? []).filter(
      (d) =>
        model.name in d.values &&
        reference.name in d.values &&
        JSON.stringify(d.values[model.name]) !== JSON.stringify(d.values[reference.name]),
    );
    const other = differences.filter((d) => !METHOD_KEYS.includes(d.key));
    const mode = differences.find((d) => d.key === 'mode');
    const method = mode
      ? `mode ${JSON.stringify(mode.values[reference.name])} → ${JSON.stringify(mode.values[model.name])}`
      : 'the same mode';
    if (differences.length > 0 || model.training !== undefined) {
      lines.push(
        other.length === 0
          ? `  trained alike except for the method (${method}): same data, schedule and dropout.`
          : `  trained differently besides the method (${method}): ${other.map((d) => `${d.key} ${JSON.stringify(d.values[reference.name])} → ${JSON.stringify(d.values[model.name])}`).join('; ')}.`,
      );
    }
    if (model.training?.loss_formula) lines.push(`  ${model.name} minimised: ${model.training.loss_formula}`);
  }
  const gated = report.headline.model !== null ? auditOf(report.headline.model) : undefined;
  if (gated) {
    const g = gated.gate;
    lines.push(
      `Gate on ${gated.name}: ${g.passed ? 'passed' : 'FAILED'}${g.reasons.length > 0 ? ` — ${g.reasons.join('; ')}` : ''}.`,
    );
  }
  return lines;
}
