/**
 * A compiled mapping (contract.ts): turns one source record into the parts of a
 * canonical row, or says why it cannot (a reject reason and a message). It reads text, id, pair
 * and meta first and labels last, so that a row's labels are only looked at once the rest of it
 * is usable (a vector column's length is fixed by the first row that gets that far).
 */
import type { EntitySpan, Task } from '../../pipeline/dataset';
import type { Column, Mapping, RejectReason } from './contract';
import { show, type RecordView } from './records';

/** A row's parts, before the stage gives it its id (when the mapping has none) and checks it. */
export interface MappedRow {
  id?: string;
  text: string;
  /** The label vector or class index; for a `median` threshold, 0 until the median is known. */
  labels: (0 | 1)[] | number;
  /** The numeric cell of a `median` threshold rule. */
  value?: number;
  entities?: EntitySpan[];
  pair?: { text: string };
  meta?: Record<string, unknown>;
}

export type MapResult = { ok: true; row: MappedRow } | { ok: false; reason: RejectReason; detail: string };

export interface CompiledMapping {
  readonly task: Task;
  /** Every column the mapping reads. */
  readonly columns: readonly Column[];
  /** Label or class names in index order (known after the first row for an unnamed vector column). */
  labelNames(): string[];
  /** A `median` threshold rule's column and `above` class, when the mapping has one. */
  readonly median?: { column: Column; above: 0 | 1 };
  /** The numeric threshold, for the card (`median`: filled in by the stage). */
  readonly threshold?: { column: Column; value: number | 'median'; above: 0 | 1 };
  map(view: RecordView): MapResult;
}

const name = (column: Column): string => (typeof column === 'number' ? `column ${column}` : `column "${column}"`);
const fail = (reason: RejectReason, detail: string): MapResult => ({ ok: false, reason, detail });

/** A cell as a number: numbers as they are, booleans as 0/1, numeric text trimmed; NaN, ∞ and '' are not numbers. */
export function numberOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = Number(value.trim());
  return Number.isFinite(n) ? n : undefined;
}

/** A cell as a class name or id: strings as they are, numbers and booleans as their JSON text. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

const indexNames = (count: number): string[] => Array.from({ length: count }, (_, i) => String(i));

export function compileMapping(mapping: Mapping): CompiledMapping {
  const { labels, label } = mapping;
  const columns: Column[] = [mapping.text];
  if (mapping.id !== undefined) columns.push(mapping.id);
  if (mapping.pair !== undefined) columns.push(mapping.pair.text);
  columns.push(...(mapping.meta ?? []));
  columns.push(...(labels?.columns ?? []));
  if (labels?.column !== undefined) columns.push(labels.column);
  if (label !== undefined) columns.push(label.column);

  /** Labels from the record, or why not. */
  let readLabels: (view: RecordView) => { labels: (0 | 1)[] | number; value?: number } | MapResult;
  let names: () => string[];
  let median: CompiledMapping['median'];
  let threshold: CompiledMapping['threshold'];

  if (labels?.columns !== undefined) {
    const cols = labels.columns;
    const cut = labels.threshold;
    names = () => mapping.labelNames ?? cols.map(String);
    readLabels = (view) => {
      const vector: (0 | 1)[] = [];
      for (const column of cols) {
        const raw = view.get(column);
        const n = numberOf(raw);
        if (n === undefined) return fail('label-not-a-number', `${name(column)}: ${show(raw)} is not a number`);
        if (cut !== undefined) vector.push(n >= cut ? 1 : 0);
        else if (n === 0 || n === 1) vector.push(n);
        else
          return fail(
            'label-not-binary',
            `${name(column)}: ${show(raw)} is not 0 or 1 (set labels.threshold to binarise)`,
          );
      }
      return { labels: vector };
    };
  } else if (labels?.column !== undefined && labels.separator !== undefined && labels.classes !== undefined) {
    const { column, separator, classes } = labels;
    const count = typeof classes === 'number' ? classes : classes.length;
    const classNames = typeof classes === 'number' ? undefined : classes;
    names = () => mapping.labelNames ?? classNames ?? indexNames(count);
    readLabels = (view) => {
      const raw = view.get(column);
      const cell = textOf(raw);
      if (cell === undefined) return fail('label-missing', `${name(column)}: ${show(raw)} holds no label ids`);
      const tokens = cell
        .split(separator)
        .map((t) => t.trim())
        .filter((t) => t !== '');
      if (tokens.length === 0) return fail('label-missing', `${name(column)} is empty: a row needs at least one label`);
      const vector: (0 | 1)[] = new Array<0 | 1>(count).fill(0);
      for (const token of tokens) {
        let index: number;
        if (/^\d+$/.test(token)) {
          index = Number(token);
          if (index >= count)
            return fail(
              'label-out-of-range',
              `${name(column)}: label id ${token} is out of range (${count} classes: 0–${count - 1})`,
            );
        } else {
          index = classNames?.indexOf(token) ?? -1;
          if (index < 0)
            return fail(
              'label-unknown',
              `${name(column)}: ${show(token)} is not a class ${classNames ? `(${classNames.join(', ')})` : `id (0–${count - 1})`}`,
            );
        }
        vector[index] = 1;
      }
      return { labels: vector };
    };
  } else if (labels?.column !== undefined) {
    const { column, classes } = labels;
    let count = typeof classes === 'number' ? classes : (classes?.length ?? mapping.labelNames?.length);
    names = () => mapping.labelNames ?? (Array.isArray(classes) ? classes : indexNames(count ?? 0));
    readLabels = (view) => {
      let raw = view.get(column);
      if (typeof raw === 'string') {
        try {
          raw = JSON.parse(raw);
        } catch {
          return fail('label-not-binary', `${name(column)}: ${show(raw)} is not a list of 0/1`);
        }
      }
      if (!Array.isArray(raw)) return fail('label-not-binary', `${name(column)}: ${show(raw)} is not a list of 0/1`);
      if (count !== undefined && raw.length !== count)
        return fail('label-length', `${name(column)}: ${raw.length} labels, expected ${count}`);
      const vector: (0 | 1)[] = [];
      for (const [i, entry] of raw.entries()) {
        if (entry !== 0 && entry !== 1)
          return fail('label-not-binary', `${name(column)}: entry ${i} is ${show(entry)}, expected 0 or 1`);
        vector.push(entry);
      }
      count ??= vector.length;
      return { labels: vector };
    };
  } else if (label !== undefined) {
    const { column } = label;
    if (label.classes !== undefined) {
      const classes = label.classes;
      if (typeof classes === 'number') {
        names = () => mapping.labelNames ?? indexNames(classes);
        readLabels = (view) => {
          const raw = view.get(column);
          const n = numberOf(raw);
          if (n === undefined) return fail('label-not-a-number', `${name(column)}: ${show(raw)} is not a class index`);
          if (!Number.isInteger(n) || n < 0 || n >= classes)
            return fail('label-out-of-range', `${name(column)}: ${show(raw)} is not a class index in 0–${classes - 1}`);
          return { labels: n };
        };
      } else {
        names = () => mapping.labelNames ?? classes;
        readLabels = (view) => {
          const raw = view.get(column);
          const cell = textOf(raw);
          const index = cell === undefined ? -1 : classes.indexOf(cell);
          if (index < 0)
            return fail(
              cell === undefined ? 'label-missing' : 'label-unknown',
              `${name(column)}: ${show(raw)} is not one of ${classes.join(', ')}`,
            );
          return { labels: index };
        };
      }
    } else if (label.map !== undefined) {
      const map = label.map;
      const count = mapping.labelNames?.length ?? Math.max(...Object.values(map)) + 1;
      names = () =>
        mapping.labelNames ??
        Array.from(
          { length: count },
          (_, i) =>
            Object.keys(map)
              .filter((k) => map[k] === i)
              .join('|') || String(i),
        );
      readLabels = (view) => {
        const raw = view.get(column);
        const cell = textOf(raw);
        if (cell === undefined || !Object.hasOwn(map, cell)) {
          return fail(
            cell === undefined ? 'label-missing' : 'label-unknown',
            `${name(column)}: ${show(raw)} is not in the map (${Object.keys(map).join(', ')})`,
          );
        }
        return { labels: map[cell]! };
      };
    } else {
      const cut = label.threshold ?? 0;
      const above = label.above ?? 1;
      threshold = { column, value: cut, above };
      if (cut === 'median') median = { column, above };
      const shown = typeof column === 'number' ? `column ${column}` : column;
      names = () => {
        const low = `${shown} < ${cut}`;
        const high = `${shown} ≥ ${cut}`;
        return mapping.labelNames ?? (above === 1 ? [low, high] : [high, low]);
      };
      readLabels = (view) => {
        const raw = view.get(column);
        const n = numberOf(raw);
        if (n === undefined) return fail('label-not-a-number', `${name(column)}: ${show(raw)} is not a number`);
        if (cut === 'median') return { labels: 0, value: n };
        return { labels: n >= cut ? above : 1 - above };
      };
    }
  } else {
    throw new Error('a mapping needs labels or label (the schema checks this)');
  }

  return {
    task: labels !== undefined ? 'multilabel' : 'multiclass',
    columns,
    labelNames: () => names(),
    ...(median ? { median } : {}),
    ...(threshold ? { threshold } : {}),
    map(view) {
      for (const column of columns) if (!view.has(column)) return fail('missing-column', `no ${name(column)}`);
      const text = view.get(mapping.text);
      if (typeof text !== 'string')
        return fail('text-not-string', `${name(mapping.text)}: the text is ${show(text)}, not a string`);
      if (text.trim() === '') return fail('empty-text', `${name(mapping.text)}: empty text`);
      const row: MappedRow = { text, labels: 0 };
      if (mapping.id !== undefined) {
        const id = textOf(view.get(mapping.id));
        if (id === undefined || id === '')
          return fail('id-missing', `${name(mapping.id)}: no id (${show(view.get(mapping.id))})`);
        row.id = id;
      }
      if (mapping.pair !== undefined) {
        const pair = view.get(mapping.pair.text);
        if (typeof pair !== 'string')
          return fail('pair-missing', `${name(mapping.pair.text)}: the pair text is ${show(pair)}, not a string`);
        row.pair = { text: pair };
      }
      if (mapping.meta !== undefined) {
        row.meta = Object.fromEntries(mapping.meta.map((column) => [String(column), view.get(column) ?? null]));
      }
      const read = readLabels(view);
      if ('ok' in read) return read;
      row.labels = read.labels;
      if (read.value !== undefined) row.value = read.value;
      return { ok: true, row };
    },
  };
}
