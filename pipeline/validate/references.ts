/**
 * `${{ }}` references in a stage's `with`: `${{ params.NAME }}` is substituted, and
 * `${{ stages.ID.outputs.NAME }}` becomes an OutputRef the workflow fills in, once checked (the
 * stage exists, has that output, and runs before this one). Each value is resolved twice over:
 * for the RunSpec, and for the stage type's schema (which sees a placeholder of the output's kind).
 */
import type { Json } from '../run-spec';
import type { ParamValue } from '../spec';
import { placeholderFor } from '../../stages';
import type { StageDraft, StageGraph } from './graph';
import { isRecord, pathKey, type Path } from './positions';
import { didYouMean, quoteList, type Reporter } from './wording';

/** A `${{ }}` expression, parsed. */
type Reference = { kind: 'param'; name: string } | { kind: 'output'; stage: string; output: string };

/** Any `${{ … }}` in a string; `s` so a multi-line expression is still seen (and rejected). */
const EXPRESSION = /\$\{\{(.*?)\}\}/gs;
const PARAM_REFERENCE = /^params\.([A-Za-z_][A-Za-z0-9_-]*)$/;
const OUTPUT_REFERENCE = /^stages\.([a-z0-9][a-z0-9-]*)\.outputs\.([A-Za-z_][A-Za-z0-9_-]*)$/;

function parseReference(inner: string): Reference | undefined {
  const expression = inner.trim();
  const param = PARAM_REFERENCE.exec(expression);
  if (param?.[1] !== undefined) return { kind: 'param', name: param[1] };
  const output = OUTPUT_REFERENCE.exec(expression);
  if (output?.[1] !== undefined && output[2] !== undefined)
    return { kind: 'output', stage: output[1], output: output[2] };
  return undefined;
}

/** A `with` value resolved twice over: for the RunSpec, and for the stage type's schema check. */
export interface Resolved {
  readonly spec: Json;
  readonly check: unknown;
}

/** What resolving one stage's `with` needs to know, and what it learns on the way. */
export interface ResolveContext {
  readonly draft: StageDraft;
  readonly ancestors: ReadonlySet<string>;
  readonly params: ReadonlyMap<string, ParamValue>;
  readonly declaredParams: readonly string[];
  /** Paths whose value could not be resolved (and were reported). */
  readonly broken: Path[];
  /** Path → what the `${{ }}` there stands for, to explain schema complaints about it. */
  readonly notes: Map<string, string>;
}

/** Resolves the `${{ }}` references of a pipeline's stages, reporting those that do not resolve. */
export class References {
  constructor(
    private readonly graph: StageGraph,
    private readonly reporter: Reporter,
  ) {}

  /**
   * Substitutes `${{ }}` references at any depth. Returns undefined (after reporting, and noting
   * the path in `context.broken`) when the value cannot be resolved.
   */
  private resolveValue(value: unknown, path: Path, context: ResolveContext): Resolved | undefined {
    if (typeof value === 'string') return this.resolveString(value, path, context);
    if (typeof value === 'boolean' || value === null) return { spec: value, check: value };
    if (typeof value === 'number') {
      if (Number.isFinite(value)) return { spec: value, check: value };
      return this.broken(path, context, `${value} is not a finite number: stage inputs must be plain JSON`);
    }
    if (Array.isArray(value)) {
      const spec: Json[] = [];
      const check: unknown[] = [];
      let ok = true;
      value.forEach((item: unknown, i) => {
        const r = this.resolveValue(item, [...path, i], context);
        if (r === undefined) ok = false;
        else {
          spec.push(r.spec);
          check.push(r.check);
        }
      });
      // Keep indices aligned with the YAML for the schema check: a hole would shift them.
      return ok ? { spec, check } : undefined;
    }
    if (isRecord(value)) return this.resolveRecord(value, path, context);
    return this.broken(
      path,
      context,
      'unsupported YAML value (binary or tagged data): stage inputs must be plain JSON',
    );
  }

  /** A mapping never fails as a whole: members that do not resolve are left out (and reported). */
  resolveRecord(
    value: Record<string, unknown>,
    path: Path,
    context: ResolveContext,
  ): { spec: Record<string, Json>; check: Record<string, unknown> } {
    const spec: Record<string, Json> = {};
    const check: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (key === '$output') {
        // The workflow swaps `{ $output: … }` for another stage's output; written by hand it
        // would dodge every reference check, so only a `${{ }}` expression may produce one.
        context.broken.push([...path, key]);
        this.reporter.report(
          [...path, key],
          '"$output" is reserved: write ${{ stages.ID.outputs.NAME }} instead',
          'key',
        );
        continue;
      }
      const r = this.resolveValue(item, [...path, key], context);
      if (r === undefined) continue;
      spec[key] = r.spec;
      check[key] = r.check;
    }
    return { spec, check };
  }

  private resolveString(text: string, path: Path, context: ResolveContext): Resolved | undefined {
    const matches = [...text.matchAll(EXPRESSION)];
    const opened = text.split('${{').length - 1;
    if (opened > matches.length)
      return this.broken(
        path,
        context,
        `unterminated expression in ${JSON.stringify(text)}: "\${{" without a closing "}}"`,
      );
    if (matches.length === 0) return { spec: text, check: text };

    const whole = matches.length === 1 && matches[0]?.[0] === text;
    if (whole) {
      const reference = this.checkReference(matches[0]?.[1] ?? '', path, context);
      if (reference === undefined) return undefined;
      if (reference.kind === 'param') {
        context.notes.set(pathKey(path), `\${{ params.${reference.name} }} = ${JSON.stringify(reference.value)}`);
        return { spec: reference.value, check: reference.value };
      }
      const what = reference.kind === 'artifact' ? 'an artifact reference' : 'a scalar output';
      context.notes.set(pathKey(path), `\${{ stages.${reference.stage}.outputs.${reference.output} }} (${what})`);
      return {
        spec: { $output: { stage: reference.stage, output: reference.output } },
        check: placeholderFor(reference.kind),
      };
    }

    let ok = true;
    const interpolated = text.replace(EXPRESSION, (match: string, inner: string) => {
      const reference = this.checkReference(inner, path, context);
      if (reference === undefined) {
        ok = false;
        return match;
      }
      if (reference.kind !== 'param') {
        ok = false;
        this.broken(
          path,
          context,
          `${match.trim()} is embedded in a longer string; a stage output can only be used as a whole value ("\${{ stages.${reference.stage}.outputs.${reference.output} }}")`,
        );
        return match;
      }
      return String(reference.value);
    });
    return ok ? { spec: interpolated, check: interpolated } : undefined;
  }

  /** Checks one expression; reports (and returns undefined) when it does not resolve. */
  private checkReference(
    inner: string,
    path: Path,
    context: ResolveContext,
  ):
    | { kind: 'param'; name: string; value: ParamValue }
    | { kind: 'artifact' | 'scalar'; stage: string; output: string }
    | undefined {
    const reference = parseReference(inner);
    const shown = `\${{ ${inner.trim()} }}`;
    if (reference === undefined) {
      this.broken(
        path,
        context,
        `unsupported expression ${shown}: expected \${{ params.NAME }} or \${{ stages.ID.outputs.NAME }}`,
      );
      return undefined;
    }
    if (reference.kind === 'param') {
      const value = context.params.get(reference.name);
      if (value !== undefined) return { kind: 'param', name: reference.name, value };
      if (context.declaredParams.includes(reference.name)) {
        context.broken.push(path); // declared with a bad default: reported by the shape check
        return undefined;
      }
      const known = context.declaredParams;
      const list = known.length === 0 ? 'the pipeline declares no params' : `declared params: ${quoteList(known)}`;
      this.broken(
        path,
        context,
        `${shown}: unknown param "${reference.name}"${didYouMean(reference.name, known)}; ${list}`,
      );
      return undefined;
    }

    const { draft } = context;
    const target = this.graph.byId.get(reference.stage);
    if (target === undefined) {
      const ids = [...this.graph.byId.keys()];
      this.broken(
        path,
        context,
        `${shown}: unknown stage "${reference.stage}"${didYouMean(reference.stage, ids)}; stages: ${quoteList(ids)}`,
      );
      return undefined;
    }
    if (reference.stage === draft.id) {
      this.broken(path, context, `${shown}: a stage cannot use its own outputs`);
      return undefined;
    }
    if (target.type === undefined) {
      context.broken.push(path); // its unknown `uses` is reported already; its outputs are unknowable
      return undefined;
    }
    const kind = Object.hasOwn(target.type.outputs, reference.output)
      ? target.type.outputs[reference.output]
      : undefined;
    if (kind === undefined) {
      const outputs = Object.keys(target.type.outputs);
      this.broken(
        path,
        context,
        `${shown}: stage "${reference.stage}" (${target.type.name}) has no output "${reference.output}"${didYouMean(reference.output, outputs)}; its outputs: ${quoteList(outputs)}`,
      );
      return undefined;
    }
    if (!context.ancestors.has(reference.stage)) {
      this.broken(
        path,
        context,
        `${shown}: stage "${reference.stage}" is not among this stage's needs (directly or through them), so it may not have run yet; add "${reference.stage}" to needs`,
      );
      return undefined;
    }
    return { kind, stage: reference.stage, output: reference.output };
  }

  private broken(path: Path, context: ResolveContext, message: string): undefined {
    context.broken.push(path);
    this.reporter.report(path, message);
    return undefined;
  }
}
