/**
 * Hangul arithmetic shared by the particle rules of masking (ner-mask's lexicon) and of the
 * audit's templates. Workflow-safe: no Node built-ins.
 */

const HANGUL_FIRST = 0xac00;
const HANGUL_LAST = 0xd7a3;
/** A Hangul syllable is 0xAC00 + (initial × 21 + medial) × 28 + final; final 0 = none, 8 = ㄹ. */
const FINALS = 28;
const FINAL_RIEUL = 8;

/**
 * The final sound of one Hangul syllable: `vowel` (no final consonant), `rieul` (ㄹ), `consonant`; undefined for
 * anything that is not a Hangul syllable.
 */
export function syllableFinal(char: string): 'vowel' | 'rieul' | 'consonant' | undefined {
  const code = char.codePointAt(0) ?? -1;
  if (code < HANGUL_FIRST || code > HANGUL_LAST) return undefined;
  const final = (code - HANGUL_FIRST) % FINALS;
  return final === 0 ? 'vowel' : final === FINAL_RIEUL ? 'rieul' : 'consonant';
}
