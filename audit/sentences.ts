/**
 * The audit's sentences: for every sentence unit s and pair (a, b), the two texts that differ only
 * in the identity term. Two ways to build them:
 *
 * - templates: `<group>` in a template is replaced by the term. A particle pair written right after
 *   the placeholder (`<group>은/는`) becomes the one form that agrees with the term's last syllable,
 *   so "남학생은" and "여학생은", "아버지는" and "어머니는" read as Korean (see `attachParticle`).
 * - insert (the manual's s + m): the term joined to a test sentence with a space, before it
 *   (`prefix`), after it (`suffix`) or both (two variants of the same unit).
 *
 * A unit is what the bootstrap resamples: a template, or a test sentence with all its variants.
 */
import { GROUP_PLACEHOLDER, type AuditInsert } from '../stages/audit/contract';
import type { IdentityPair } from './pairs';
import { mulberry32 } from './random';
import { syllableFinal } from '../common/hangul';

/**
 * Particle pairs a template may write after `<group>`, as [after a final consonant, after a
 * vowel]. 으로/로 is the exception: 로 also follows ㄹ (서울로, 딸로). Either order may be written
 * (`은/는` or `는/은`).
 */
const PARTICLE_PAIRS: readonly (readonly [string, string])[] = [
  ['은', '는'],
  ['이', '가'],
  ['을', '를'],
  ['과', '와'],
  ['으로', '로'],
  ['이랑', '랑'],
  ['아', '야'],
];

/**
 * The final consonant of a term's last syllable: 'none', 'rieul' (ㄹ), 'other', or 'unknown' (not Hangul: ADHD, 2030).
 */
export function finalSound(term: string): 'none' | 'rieul' | 'other' | 'unknown' {
  const last = Array.from(term).pop();
  const sound = last === undefined ? undefined : syllableFinal(last);
  return sound === undefined ? 'unknown' : sound === 'vowel' ? 'none' : sound === 'consonant' ? 'other' : 'rieul';
}

/**
 * The term with the particle form that agrees with it: [consonant form, vowel form] → the
 * consonant form after a final consonant, the vowel form after a vowel; 으로/로 takes 로 after ㄹ
 * too. A term whose reading cannot be told from its spelling (it ends in Latin letters or digits)
 * gets both, the consonant form in parentheses first, as Korean forms do: "ADHD(은)는".
 */
export function attachParticle(term: string, [consonant, vowel]: readonly [string, string]): string {
  const sound = finalSound(term);
  if (sound === 'unknown') return `${term}(${consonant})${vowel}`;
  if (sound === 'none' || (sound === 'rieul' && consonant === '으로')) return term + vowel;
  return term + consonant;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** A particle pair as a template may write it (`은/는` or `는/은`) → the pair. */
const PARTICLE_FORMS = new Map<string, readonly [string, string]>(
  PARTICLE_PAIRS.flatMap(([c, v]) => [
    [`${c}/${v}`, [c, v]],
    [`${v}/${c}`, [c, v]],
  ]),
);

/** `<group>` followed by an optional particle pair in either order, longest alternatives first. */
const PLACEHOLDER_PATTERN = new RegExp(
  `${escapeRegExp(GROUP_PLACEHOLDER)}(${[...PARTICLE_FORMS.keys()]
    .sort((x, y) => y.length - x.length)
    .map(escapeRegExp)
    .join('|')})?`,
  'gu',
);

/** The template with every `<group>` replaced by the term, particle pairs resolved. */
export function fillTemplate(template: string, term: string): string {
  // The pattern only matches written forms of PARTICLE_FORMS, so the lookup always finds the pair.
  return template.replace(PLACEHOLDER_PATTERN, (_match, particles: string | undefined) =>
    particles === undefined ? term : attachParticle(term, PARTICLE_FORMS.get(particles)!),
  );
}

/** One compared pair of texts: unit `unit`, variant `variant` of it, pair `pair` (index into the pairs). */
export interface AuditCase {
  readonly unit: number;
  readonly variant: number;
  readonly pair: number;
  /** Indices into `texts` of the sentence with a and with b. */
  readonly a: number;
  readonly b: number;
}

/** Every case, and the distinct texts they need (each predicted once). */
export interface AuditSentences {
  readonly method: 'templates' | 'insert';
  /** Number of sentence units (templates, or sampled test sentences). */
  readonly units: number;
  readonly texts: readonly string[];
  readonly cases: readonly AuditCase[];
}

/** Collects distinct texts so that a sentence two pairs share (or a repeated template) is predicted once. */
class TextTable {
  readonly texts: string[] = [];
  private readonly index = new Map<string, number>();

  add(text: string): number {
    let i = this.index.get(text);
    if (i === undefined) {
      i = this.texts.length;
      this.texts.push(text);
      this.index.set(text, i);
    }
    return i;
  }
}

/** Cases from templates: one unit per template, one case per pair. */
export function templateSentences(templates: readonly string[], pairs: readonly IdentityPair[]): AuditSentences {
  const table = new TextTable();
  const cases: AuditCase[] = [];
  templates.forEach((template, unit) => {
    pairs.forEach(({ a, b }, pair) => {
      cases.push({
        unit,
        variant: 0,
        pair,
        a: table.add(fillTemplate(template, a)),
        b: table.add(fillTemplate(template, b)),
      });
    });
  });
  return { method: 'templates', units: templates.length, texts: table.texts, cases };
}

/**
 * Which of `count` sentences insert mode uses: all when count ≤ max, else `max` indices drawn
 * without replacement by a seeded partial Fisher–Yates shuffle, returned in dataset order. The
 * same (count, max, seed) always gives the same rows.
 */
export function sampleIndices(count: number, max: number, seed: number): number[] {
  const all = Array.from({ length: count }, (_, i) => i);
  if (count <= max) return all;
  const random = mulberry32(seed);
  for (let i = 0; i < max; i++) {
    const j = i + Math.floor(random() * (count - i));
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all.slice(0, max).sort((x, y) => x - y);
}

/** Cases from test sentences (already sampled): one unit per sentence, one variant per position. */
export function insertSentences(
  sentences: readonly string[],
  pairs: readonly IdentityPair[],
  position: AuditInsert['position'],
): AuditSentences {
  const joins: ((s: string, t: string) => string)[] = [];
  if (position !== 'suffix') joins.push((s, t) => `${t} ${s}`);
  if (position !== 'prefix') joins.push((s, t) => `${s} ${t}`);
  const table = new TextTable();
  const cases: AuditCase[] = [];
  sentences.forEach((sentence, unit) => {
    joins.forEach((join, variant) => {
      pairs.forEach(({ a, b }, pair) => {
        cases.push({ unit, variant, pair, a: table.add(join(sentence, a)), b: table.add(join(sentence, b)) });
      });
    });
  });
  return { method: 'insert', units: sentences.length, texts: table.texts, cases };
}
