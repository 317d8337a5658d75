/**
 * The stages as a graph: each `stages:` entry read leniently (so that one broken stage does not
 * hide the problems of the others), duplicate ids and unknown types, `needs` that name no stage,
 * cycles, and the stages each one depends on through its needs.
 */
import type { StageType } from '../../stages';
import { isRecord } from './positions';
import { didYouMean, quoteList, type Reporter } from './wording';

/** The stage types `uses:` may name; injectable so tests (and plugins) can add their own. */
export type StageTypeRegistry = Readonly<Record<string, StageType>>;

/** The lenient reading of one `stages:` entry that the meaning checks work from. */
export interface StageDraft {
  readonly index: number;
  readonly id: string | undefined;
  /** Its `uses` looked up in the registry; undefined when unknown (reported) or not a string. */
  readonly type: StageType | undefined;
  /** String entries of `needs`, with their index in the list (for positions). */
  readonly needs: readonly { readonly id: string; readonly index: number }[];
  readonly raw: Record<string, unknown>;
  /** Whether this entry is the first with its id (later duplicates are reported, then ignored). */
  readonly primary: boolean;
}

/** Every stage entry of a pipeline, by position and by id, with the checks that need them all. */
export class StageGraph {
  readonly drafts: StageDraft[] = [];
  readonly byId = new Map<string, StageDraft>();

  private constructor(private readonly reporter: Reporter) {}

  /** Reads every `stages:` entry leniently, reporting duplicate ids and unknown `uses`. */
  static read(rawStages: readonly unknown[], registry: StageTypeRegistry, reporter: Reporter): StageGraph {
    const graph = new StageGraph(reporter);
    rawStages.forEach((raw: unknown, index) => graph.add(raw, index, registry));
    return graph;
  }

  private add(raw: unknown, index: number, registry: StageTypeRegistry): void {
    if (!isRecord(raw)) return;
    const id = typeof raw.id === 'string' ? raw.id : undefined;
    const uses = typeof raw.uses === 'string' ? raw.uses : undefined;
    const type = uses !== undefined && Object.hasOwn(registry, uses) ? registry[uses] : undefined;
    const needs = Array.isArray(raw.needs)
      ? raw.needs.flatMap((n: unknown, i) => (typeof n === 'string' ? [{ id: n, index: i }] : []))
      : [];
    const primary = id !== undefined && !this.byId.has(id);
    const draft: StageDraft = { index, id, type, needs, raw, primary };
    this.drafts.push(draft);
    if (primary) this.byId.set(id, draft);
    else if (id !== undefined) {
      const first = this.byId.get(id);
      const where =
        first === undefined ? '' : ` (first defined at line ${this.reporter.lineOf(['stages', first.index, 'id'])})`;
      this.reporter.report(['stages', index, 'id'], `duplicate stage id "${id}"${where}`);
    }
    if (uses !== undefined && type === undefined) {
      this.reporter.report(
        ['stages', index, 'uses'],
        `unknown stage type "${uses}"${didYouMean(uses, Object.keys(registry))}; known types: ${quoteList(Object.keys(registry))}`,
      );
    }
  }

  /** Reports `needs` entries that repeat or name no stage, then cycles. */
  check(): void {
    for (const draft of this.drafts) this.checkNeeds(draft);
    this.checkCycles();
  }

  private checkNeeds(draft: StageDraft): void {
    const seen = new Set<string>();
    for (const need of draft.needs) {
      const path = ['stages', draft.index, 'needs', need.index];
      if (seen.has(need.id)) this.reporter.report(path, `"${need.id}" is listed twice in needs`);
      seen.add(need.id);
      if (need.id === draft.id) continue; // a cycle of one: reported by checkCycles
      if (!this.byId.has(need.id)) {
        this.reporter.report(
          path,
          `unknown stage "${need.id}"${didYouMean(need.id, this.byId.keys())}; stages: ${quoteList(this.byId.keys())}`,
        );
      }
    }
  }

  /**
   * Depth-first over `needs` in declaration order; an edge back into the current walk closes a
   * cycle, reported at that `needs` entry as `a → b → c → a` (read: a needs b, …, c needs a).
   */
  private checkCycles(): void {
    const state = new Map<string, 'walking' | 'done'>();
    const walk: string[] = [];
    const visit = (draft: StageDraft): void => {
      if (draft.id === undefined) return;
      state.set(draft.id, 'walking');
      walk.push(draft.id);
      for (const need of draft.needs) {
        const next = this.byId.get(need.id);
        if (next?.id === undefined) continue;
        const seen = state.get(next.id);
        if (seen === 'walking') {
          const cycle = [...walk.slice(walk.indexOf(next.id)), next.id];
          this.reporter.report(
            ['stages', draft.index, 'needs', need.index],
            `stages depend on each other in a cycle: ${cycle.join(' → ')}`,
          );
        } else if (seen === undefined) {
          visit(next);
        }
      }
      walk.pop();
      state.set(draft.id, 'done');
    };
    for (const draft of this.drafts) if (draft.primary && draft.id !== undefined && !state.has(draft.id)) visit(draft);
  }

  /** Ids of every stage `draft` depends on, directly or through other stages' needs. */
  ancestorsOf(draft: StageDraft): Set<string> {
    const ancestors = new Set<string>();
    const pending = [...draft.needs.map((n) => n.id)];
    for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
      if (ancestors.has(id)) continue;
      ancestors.add(id);
      const stage = this.byId.get(id);
      if (stage) pending.push(...stage.needs.map((n) => n.id));
    }
    return ancestors;
  }
}
