/**
 * The identity-term lexicon of the `ner-mask` stage: parsing it (a YAML list, or the
 * category → comma-separated groups shape of KoSBi's demographic_groups.json) and finding its
 * terms in Korean text.
 *
 * Korean attaches particles to the noun they mark, inside one eojeol (whitespace-delimited
 * word): 남학생은, 여학생이, 남자들의, 아들에게. A term therefore matches where
 *   1. it starts an eojeol: at the start of the text, after whitespace, or after punctuation or a
 *      symbol (`"여자는`, `(남자)`), so 학생 is not found inside 남학생;
 *   2. the rest of its eojeol (up to whitespace, punctuation, a symbol or the end) is empty or a
 *      chain of suffixes from SUFFIXES: at most one derivational suffix first (들, 님, 님들),
 *      then up to three particles (들에게는 = 들 + 에게 + 는), or one copula form that ends the
 *      eojeol (남자였다, 여자라서). Suffixes are tried longest first; each must agree with the
 *      sound it follows where Korean alternates (이/가, 은/는, 을/를, 과/와, 으로/로, …:
 *      `consonant` after a final consonant, `vowel` after a vowel; 로 also after ㄹ). Text that
 *      is not Hangul (ADHD, 1955~1963년생's digits) agrees with both forms.
 * The span covers the term only, never its particles. Where matches overlap, the longer term
 * wins (여학생 over 학생, 취업 준비생 over 준비생), then the earlier one. ASCII letters match
 * case-insensitively.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import { LexiconInvalid } from './errors';
import type { LexiconEntry } from './contract';
import type { Span } from './spans';
import { syllableFinal } from '../../common/hangul';
import { parseWithLines } from '../../pipeline/yaml-lines';

/** Which preceding sound a suffix form goes with. */
type After = 'any' | 'consonant' | 'vowel' | 'consonant-not-rieul' | 'vowel-or-rieul';

interface Suffix {
  form: string;
  after: After;
  /** `derivational`: directly after the term, may take particles; `particle`: chains; `copula`: ends the eojeol. */
  kind: 'derivational' | 'particle' | 'copula';
}

const d = (form: string, after: After = 'any'): Suffix => ({ form, after, kind: 'derivational' });
const p = (form: string, after: After = 'any'): Suffix => ({ form, after, kind: 'particle' });
const c = (form: string, after: After = 'any'): Suffix => ({ form, after, kind: 'copula' });

/**
 * What may follow a term inside its eojeol. Grouped by grammar (표준국어대사전's particle
 * classes); allomorph pairs are listed with their conditions.
 */
export const SUFFIXES: readonly Suffix[] = [
  // Derivational suffixes that keep the noun a noun: plural, honorific.
  d('들'),
  d('님'),
  d('님들'),
  // 주격 (subject)
  p('이', 'consonant'),
  p('가', 'vowel'),
  p('께서'),
  // 목적격 (object)
  p('을', 'consonant'),
  p('를', 'vowel'),
  // 관형격 (possessive)
  p('의'),
  // 부사격 (location, direction, source, recipient, instrument, comparison)
  p('에'),
  p('에서'),
  p('에서부터'),
  p('에게'),
  p('에게서'),
  p('에게로'),
  p('한테'),
  p('한테서'),
  p('께'),
  p('더러'),
  p('으로', 'consonant-not-rieul'),
  p('로', 'vowel-or-rieul'),
  p('으로서', 'consonant-not-rieul'),
  p('로서', 'vowel-or-rieul'),
  p('으로써', 'consonant-not-rieul'),
  p('로써', 'vowel-or-rieul'),
  p('으로부터', 'consonant-not-rieul'),
  p('로부터', 'vowel-or-rieul'),
  p('보다'),
  p('처럼'),
  p('같이'),
  p('만큼'),
  p('대로'),
  // 공동격/접속 (with, and)
  p('과', 'consonant'),
  p('와', 'vowel'),
  p('이랑', 'consonant'),
  p('랑', 'vowel'),
  p('하고'),
  // 호격 (vocative)
  p('아', 'consonant'),
  p('야', 'vowel'),
  p('이여', 'consonant'),
  p('여', 'vowel'),
  // 보조사 (topic, also, only, even, each, …)
  p('은', 'consonant'),
  p('는', 'vowel'),
  p('도'),
  p('만'),
  p('까지'),
  p('부터'),
  p('조차'),
  p('마저'),
  p('밖에'),
  p('뿐'),
  p('마다'),
  p('요'),
  p('이나', 'consonant'),
  p('나', 'vowel'),
  p('이나마', 'consonant'),
  p('나마', 'vowel'),
  p('이라도', 'consonant'),
  p('라도', 'vowel'),
  p('이든지', 'consonant'),
  p('든지', 'vowel'),
  p('이든', 'consonant'),
  p('든', 'vowel'),
  p('이야', 'consonant'),
  p('이란', 'consonant'),
  p('란', 'vowel'),
  // 서술격 조사 이다 with its common endings; after a vowel 이 may drop (여자다, 여자라서).
  c('이다'),
  c('다', 'vowel'),
  c('입니다'),
  c('이에요', 'consonant'),
  c('예요', 'vowel'),
  c('이었다', 'consonant'),
  c('였다', 'vowel'),
  c('이고'),
  c('고', 'vowel'),
  c('이며'),
  c('며', 'vowel'),
  c('인'),
  c('임'),
  c('이라'),
  c('라', 'vowel'),
  c('이라서'),
  c('라서', 'vowel'),
  c('이라고'),
  c('라고', 'vowel'),
  c('이라는'),
  c('라는', 'vowel'),
  c('이라면'),
  c('라면', 'vowel'),
  c('이지만'),
  c('지만', 'vowel'),
  c('이니까'),
  c('니까', 'vowel'),
  c('이어서', 'consonant'),
  c('여서', 'vowel'),
  c('이었던', 'consonant'),
  c('였던', 'vowel'),
  c('이던'),
  c('던', 'vowel'),
  c('이죠'),
  c('죠', 'vowel'),
  c('이지'),
  c('지', 'vowel'),
  c('이면'),
  c('면', 'vowel'),
  c('이냐'),
  c('냐', 'vowel'),
].sort((a, b) => b.form.length - a.form.length || (a.form < b.form ? -1 : 1));

/** Particles after a derivational suffix or the term, chained (에게 + 는 + …). */
const MAX_PARTICLES = 3;

function agrees(after: After, previous: string): boolean {
  if (after === 'any') return true;
  const sound = syllableFinal(previous);
  if (sound === undefined) return true;
  switch (after) {
    case 'consonant':
      return sound !== 'vowel';
    case 'vowel':
      return sound === 'vowel';
    case 'consonant-not-rieul':
      return sound === 'consonant';
    case 'vowel-or-rieul':
      return sound !== 'consonant';
  }
}

/** Whether `rest` (the eojeol after a term ending in `previous`) is a valid suffix chain. */
export function isSuffixChain(rest: string, previous: string, particles = 0, derivationalAllowed = true): boolean {
  if (rest === '') return true;
  for (const suffix of SUFFIXES) {
    if (!rest.startsWith(suffix.form) || !agrees(suffix.after, previous)) continue;
    const remaining = rest.slice(suffix.form.length);
    const last = suffix.form.slice(-1);
    if (suffix.kind === 'copula' && remaining === '') return true;
    if (suffix.kind === 'derivational' && derivationalAllowed && isSuffixChain(remaining, last, particles, false))
      return true;
    if (suffix.kind === 'particle' && particles < MAX_PARTICLES && isSuffixChain(remaining, last, particles + 1, false))
      return true;
  }
  return false;
}

/** Whitespace, punctuation and symbols delimit eojeols. */
const BOUNDARY = /[\s\p{P}\p{S}]/u;
const isBoundary = (char: string | undefined): boolean => char === undefined || BOUNDARY.test(char);
const lowerAscii = (char: string): string => (char >= 'A' && char <= 'Z' ? char.toLowerCase() : char);

export interface LexiconTerm {
  term: string;
  type: string;
}

interface TrieNode {
  next: Map<string, TrieNode>;
  type?: string;
}

/** A compiled lexicon: a code-point trie of its terms. */
export class Lexicon {
  private readonly root: TrieNode = { next: new Map() };
  readonly size: number;

  /** Terms in order; a term listed twice keeps its first type. */
  constructor(terms: readonly LexiconTerm[]) {
    let size = 0;
    for (const { term, type } of terms) {
      let node = this.root;
      for (const char of Array.from(term)) {
        const key = lowerAscii(char);
        let child = node.next.get(key);
        if (!child) node.next.set(key, (child = { next: new Map() }));
        node = child;
      }
      if (node.type === undefined) {
        node.type = type;
        size++;
      }
    }
    this.size = size;
  }

  /** The lexicon's terms in `chars` (the text as code points), non-overlapping, sorted by start. */
  find(chars: readonly string[]): Span[] {
    const candidates: Span[] = [];
    for (let start = 0; start < chars.length; start++) {
      if (start > 0 && !isBoundary(chars[start - 1])) continue;
      let node: TrieNode | undefined = this.root;
      const ends: { end: number; type: string }[] = [];
      for (let i = start; i < chars.length && node; i++) {
        node = node.next.get(lowerAscii(chars[i]!));
        if (node?.type !== undefined) ends.push({ end: i + 1, type: node.type });
      }
      // Longest term first: the first whose eojeol ends well is this start's match.
      for (const { end, type } of ends.reverse()) {
        let wordEnd = end;
        while (wordEnd < chars.length && !isBoundary(chars[wordEnd])) wordEnd++;
        if (isSuffixChain(chars.slice(end, wordEnd).join(''), chars[end - 1]!)) {
          candidates.push({ start, end, type });
          break;
        }
      }
    }
    // Overlaps between starts (multi-word terms): longer wins, then earlier.
    candidates.sort((a, b) => b.end - b.start - (a.end - a.start) || a.start - b.start);
    const taken: Span[] = [];
    for (const span of candidates) if (!taken.some((t) => span.start < t.end && t.start < span.end)) taken.push(span);
    return taken.sort((a, b) => a.start - b.start);
  }
}

/** Inline `with` entries as terms. */
export function inlineTerms(entries: readonly LexiconEntry[], defaultType: string): LexiconTerm[] {
  return entries.map((e) =>
    typeof e === 'string' ? { term: e.trim(), type: defaultType } : { term: e.term.trim(), type: e.type },
  );
}

/**
 * Terms of a lexicon file. `list`: a YAML sequence whose items are terms or `{term, type}`
 * mappings; `groups`: a mapping category → list of strings, each a comma-separated group of
 * terms (KoSBi's demographic_groups.json; JSON is YAML), typed by category. Anything that does
 * not parse or fit is LexiconInvalid naming the file's line.
 */
export function parseLexiconFile(
  source: string,
  file: string,
  options: { format: 'auto' | 'list' | 'groups'; categories?: readonly string[]; type: string },
): LexiconTerm[] {
  const { root, lineOf } = parseWithLines(source, (line, message) => {
    throw new LexiconInvalid(file, line, message);
  });
  if (root === null || (isScalar(root) && root.value === null))
    throw new LexiconInvalid(file, 1, 'the lexicon is empty');
  const format = options.format === 'auto' ? (isSeq(root) ? 'list' : isMap(root) ? 'groups' : 'list') : options.format;

  const terms: LexiconTerm[] = [];
  if (format === 'list') {
    if (!isSeq(root))
      throw new LexiconInvalid(
        file,
        lineOf(root),
        'a list lexicon is a YAML sequence of terms (`- 남학생`) or `{term, type}` mappings',
      );
    for (const item of root.items) {
      if (isScalar(item) && typeof item.value === 'string' && item.value.trim() !== '') {
        terms.push({ term: item.value.trim(), type: options.type });
      } else if (isMap(item)) {
        const fields = new Map<unknown, unknown>(
          item.items.map((pair) => [
            isScalar(pair.key) ? pair.key.value : pair.key,
            isScalar(pair.value) ? pair.value.value : pair.value,
          ]),
        );
        const term = fields.get('term');
        const type = fields.has('type') ? fields.get('type') : options.type;
        if (
          typeof term !== 'string' ||
          term.trim() === '' ||
          typeof type !== 'string' ||
          type.trim() === '' ||
          [...fields.keys()].some((k) => k !== 'term' && k !== 'type')
        ) {
          throw new LexiconInvalid(
            file,
            lineOf(item),
            'an entry mapping has a non-empty string `term` and optionally a string `type`, nothing else',
          );
        }
        terms.push({ term: term.trim(), type: type.trim() });
      } else {
        throw new LexiconInvalid(
          file,
          lineOf(item),
          `an entry must be a term (a non-empty string) or a {term, type} mapping, not ${describe(item)}`,
        );
      }
    }
    return terms;
  }

  if (!isMap(root))
    throw new LexiconInvalid(
      file,
      lineOf(root),
      'a groups lexicon is a mapping category → list of comma-separated term groups',
    );
  const found = new Set<string>();
  for (const pair of root.items) {
    const category = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof category !== 'string' || category.trim() === '')
      throw new LexiconInvalid(file, lineOf(pair.key), 'a category name must be a non-empty string');
    found.add(category);
    if (options.categories && !options.categories.includes(category)) continue;
    if (!isSeq(pair.value))
      throw new LexiconInvalid(
        file,
        lineOf(pair.value ?? pair.key),
        `category ${JSON.stringify(category)} must hold a list of term groups`,
      );
    for (const group of pair.value.items) {
      if (!isScalar(group) || typeof group.value !== 'string') {
        throw new LexiconInvalid(
          file,
          lineOf(group),
          `a term group of ${JSON.stringify(category)} must be a string of comma-separated terms, not ${describe(group)}`,
        );
      }
      for (const term of group.value
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean))
        terms.push({ term, type: category.trim() });
    }
  }
  const missing = (options.categories ?? []).filter((c) => !found.has(c));
  if (missing.length > 0)
    throw new LexiconInvalid(
      file,
      1,
      `no categor${missing.length > 1 ? 'ies' : 'y'} ${missing.map((m) => JSON.stringify(m)).join(', ')} (the file has ${[...found].join(', ')})`,
    );
  return terms;
}

function describe(node: unknown): string {
  if (isScalar(node))
    return node.value === null ? 'an empty entry' : `${typeof node.value} ${JSON.stringify(node.value)}`;
  if (isSeq(node)) return 'a nested list';
  if (isMap(node)) return 'a mapping';
  return 'an empty entry';
}
