/**
 * The `klue-re` adapter: KLUE-RE's JSON (klue-re-v1.1_{train,dev}.json, a JSON array) into
 * single-label canonical rows whose text carries typed entity markers around the subject and
 * the object.
 *
 * A record: `{guid, sentence, subject_entity: {word, start_idx, end_idx, type}, object_entity:
 * {…}, label, source}`, indices into `sentence` in Unicode code points (Python's `str`), `end_idx`
 * inclusive. A row's id is the guid, its label the index of `label` in KLUE_RE_RELATIONS (eval/klue-re.ts)
 * (relation_list.json's order, `no_relation` first), its text the sentence with both spans
 * marked (markEntities), and its meta the source, the original sentence and both entities as
 * given, so that nothing of the record is lost.
 *
 * Marker scheme, Zhou & Chen 2021's "typed entity marker (punct)": the subject becomes
 * `@ * TYPE * word @` and the object `# ^ TYPE ^ word #`. It needs no new vocabulary (every
 * tokenizer already has `@ * # ^` and the type codes), so the embeddings are not resized, the
 * tokenizer.json the train stage exports is the model's own, the ONNX export is unchanged, and
 * the TS inference engine reads the marked text like any other (README.md beside this file).
 *
 * A record is rejected (a row problem, named by its item and guid, and the key) when a field is
 * missing or of the wrong type, an index is outside the sentence, `sentence[start_idx..end_idx]`
 * is not `word`, the two spans overlap (KLUE's baseline refuses those too), or the label is not a
 * KLUE-RE relation.
 */
import { KLUE_RE_RELATIONS } from '../../eval/klue-re';
import type { RejectReason } from './contract';
import { readJsonArray } from './json';
import { show, type RecordView, type SourceRecord, type Where } from './records';

/** One entity of a record, checked: code-point indices, `end` inclusive as KLUE writes it. */
export interface KlueEntity {
  word: string;
  start: number;
  end: number;
  type: string;
}

type EntityKey = 'subject_entity' | 'object_entity';

/** The marks around each role's span (Zhou & Chen 2021, typed entity marker, punctuation form). */
const MARKS: Record<EntityKey, { open: (type: string) => string; close: string }> = {
  subject_entity: { open: (type) => `@ * ${type} * `, close: ' @' },
  object_entity: { open: (type) => `# ^ ${type} ^ `, close: ' #' },
};

/**
 * The sentence with both spans marked. `chars` is the sentence split into code points, so the
 * indices mean what they mean in Python; the spans must not overlap.
 */
export function markEntities(chars: readonly string[], subject: KlueEntity, object: KlueEntity): string {
  const spans = [
    { key: 'subject_entity' as const, entity: subject },
    { key: 'object_entity' as const, entity: object },
  ].sort((a, b) => a.entity.start - b.entity.start);
  let out = '';
  let at = 0;
  for (const { key, entity } of spans) {
    out += chars.slice(at, entity.start).join('');
    out += MARKS[key].open(entity.type) + chars.slice(entity.start, entity.end + 1).join('') + MARKS[key].close;
    at = entity.end + 1;
  }
  return out + chars.slice(at).join('');
}

type Problem = { reason: RejectReason; detail: string };
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** One entity object checked against the sentence, or the problem with it. */
function entityOf(view: RecordView, key: EntityKey, chars: readonly string[], guid: string): KlueEntity | Problem {
  const raw = view.get(key);
  const at = `guid ${JSON.stringify(guid)}: ${key}`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { reason: 'entity-invalid', detail: `${at} is ${show(raw)}, not an object` };
  const field = (name: string): unknown => (Object.hasOwn(raw, name) ? Reflect.get(raw, name) : undefined);
  const word = field('word');
  const start = field('start_idx');
  const end = field('end_idx');
  const type = field('type');
  if (typeof word !== 'string' || word === '')
    return { reason: 'entity-invalid', detail: `${at}.word is ${show(word)}, not a non-empty string` };
  if (typeof type !== 'string' || type === '')
    return { reason: 'entity-invalid', detail: `${at}.type is ${show(type)}, not a non-empty string` };
  const notAnIndex = (name: string, value: unknown): Problem => ({
    reason: 'entity-invalid',
    detail: `${at}.${name} is ${show(value)}, not an index into the sentence (0–${chars.length - 1})`,
  });
  const inside = (value: unknown): value is number => isInt(value) && value >= 0 && value < chars.length;
  if (!inside(start)) return notAnIndex('start_idx', start);
  if (!inside(end)) return notAnIndex('end_idx', end);
  const s = start;
  const e = end;
  if (e < s) return { reason: 'entity-invalid', detail: `${at}.end_idx ${e} is before start_idx ${s}` };
  const span = chars.slice(s, e + 1).join('');
  if (span !== word)
    return {
      reason: 'entity-mismatch',
      detail: `${at}.word is ${show(word)} but sentence[${s}..${e}] (end_idx inclusive) is ${show(span)}`,
    };
  return { word, start: s, end: e, type };
}

/** One KLUE-RE record as a canonical row's parts, or why not. */
export function klueReRecord(view: RecordView, where: Where): SourceRecord {
  const invalid = ({ reason, detail }: Problem): SourceRecord => ({ kind: 'invalid', where, reason, detail });
  const guid = view.get('guid');
  if (typeof guid !== 'string' || guid === '')
    return invalid({ reason: 'id-missing', detail: `guid is ${show(guid)}, not a non-empty string` });
  const sentence = view.get('sentence');
  if (typeof sentence !== 'string')
    return invalid({
      reason: 'text-not-string',
      detail: `guid ${JSON.stringify(guid)}: sentence is ${show(sentence)}`,
    });
  if (sentence.trim() === '')
    return invalid({ reason: 'empty-text', detail: `guid ${JSON.stringify(guid)}: empty sentence` });
  const chars = Array.from(sentence);
  const subject = entityOf(view, 'subject_entity', chars, guid);
  if ('reason' in subject) return invalid(subject);
  const object = entityOf(view, 'object_entity', chars, guid);
  if ('reason' in object) return invalid(object);
  if (subject.start <= object.end && object.start <= subject.end)
    return invalid({
      reason: 'entity-overlap',
      detail: `guid ${JSON.stringify(guid)}: subject_entity [${subject.start}, ${subject.end}] and object_entity [${object.start}, ${object.end}] overlap; markers cannot enclose both`,
    });
  const label = view.get('label');
  const index = KLUE_RE_RELATIONS.findIndex((relation) => relation === label);
  if (index < 0)
    return invalid({
      reason: typeof label === 'string' ? 'label-unknown' : 'label-missing',
      detail: `guid ${JSON.stringify(guid)}: label is ${show(label)}, not one of KLUE-RE's 30 relations`,
    });
  const meta: Record<string, unknown> = {
    sentence,
    subject_entity: view.get('subject_entity'),
    object_entity: view.get('object_entity'),
  };
  if (view.has('source')) meta.source = view.get('source');
  return {
    kind: 'row',
    where,
    row: { id: guid, text: markEntities(chars, subject, object), labels: index, meta },
  };
}

/** A KLUE-RE JSON array, streamed item by item (json.ts), each item checked and marked. */
export async function* readKlueRe(input: AsyncIterable<Buffer>, source: string): AsyncGenerator<SourceRecord[]> {
  for await (const batch of readJsonArray(input, source))
    yield batch.map((record) => (record.kind === 'view' ? klueReRecord(record.view, record.where) : record));
}
