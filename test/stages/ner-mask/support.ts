/**
 * Shared by the ner-mask tests: running the stage directly with real small dependencies (a store
 * in a temp folder, the test config, the trainer's python), reading its outputs, checking the
 * x̂ + offset-map invariants, and the two real datasets the tests read in place (KLUE-NER's dev
 * set, KoSBi's identity groups; never copied into the repository).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nerMask } from '../../../stages/ner-mask/implementation';
import type { StageContext } from '../../../activities/stages/context';
import { reconstruct, type Masked } from '../../../stages/ner-mask/spans';
import { PROJECT_ROOT } from '../../../common/paths';
import type { CanonicalRow } from '../../../pipeline/dataset';
import type { Json } from '../../../pipeline/run-spec';
import { FsArtifactStore } from '../../../store/fs-store';
import type { ArtifactRef } from '../../../store/types';
import { loadConfig } from '../../../temporal.config';
import { KOSBI_GROUPS_PATH } from '../../../audit/derive-groups';
import { directContext } from '../../classifier';
import { tempDir } from '../../helpers';
import { SHARED_DATA } from '../../shared-data';

export const KLUE_NER_DEV = join(SHARED_DATA, 'klue-ner', 'dev.tsv');
/** KoSBi's identity groups, the file the audit's default groups derive from. */
export const KOSBI_GROUPS = KOSBI_GROUPS_PATH;

export interface Direct {
  context: StageContext;
  store: FsArtifactStore;
  heartbeats: Record<string, Json>[];
  abort: AbortController;
  /** Stores rows (objects, or raw lines) as a JSONL artifact. */
  dataset(rows: readonly (object | string)[], name?: string): Promise<ArtifactRef>;
  file(content: string | Uint8Array, name: string): Promise<ArtifactRef>;
  /** Runs the stage and reads back its masked rows and card. */
  run(
    withBlock: Record<string, Json>,
  ): Promise<{ rows: MaskedRow[]; card: Record<string, unknown>; outputs: Record<string, Json> }>;
}

export type MaskedRow = CanonicalRow & { meta: { masked: Masked } };

/** A stage context made of real parts (test/classifier.ts directContext), running ner-mask. */
export async function direct(stageId = 'mask'): Promise<Direct> {
  const base = await directContext(stageId);
  return {
    context: base.context,
    store: base.store,
    heartbeats: base.heartbeats,
    abort: base.abort,
    dataset: base.dataset,
    file: (content, name) => base.store.put({ bytes: content }, { kind: 'file', name }),
    async run(withBlock) {
      const outputs = await nerMask(withBlock, base.context);
      return { outputs, ...(await readOutputs(base.store, outputs)) };
    },
  };
}

export function asRef(value: Json | undefined): ArtifactRef {
  assert.ok(
    value &&
      typeof value === 'object' &&
      !Array.isArray(value) &&
      typeof value.uri === 'string' &&
      typeof value.sha256 === 'string',
  );
  return { uri: value.uri, sha256: value.sha256, bytes: Number(value.bytes), kind: String(value.kind) };
}

export async function readOutputs(
  store: FsArtifactStore,
  outputs: Record<string, Json>,
): Promise<{ rows: MaskedRow[]; card: Record<string, unknown> }> {
  const text = (await store.read(asRef(outputs.dataset))).toString('utf8');
  const rows = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as MaskedRow);
  const card = JSON.parse((await store.read(asRef(outputs.card))).toString('utf8')) as Record<string, unknown>;
  return { rows, card };
}

/**
 * The invariants every masked row keeps: the offset map tiles x̂ and x in order, copied segments
 * are equal on both sides, each mask segment holds `masks` mask tokens in place of its span, and
 * x rebuilds from x̂ through the map.
 */
export function assertMaskedConsistent(x: string, masked: Masked, maskToken = '[MASK]'): void {
  const xs = Array.from(x);
  const hat = Array.from(masked.text);
  let hatAt = 0;
  let xAt = 0;
  for (const [hs, he, s, e, span] of masked.offsets) {
    assert.equal(hs, hatAt, `segments tile x̂ (${JSON.stringify(masked.offsets)})`);
    assert.equal(s, xAt, 'segments tile x');
    if (span < 0) {
      assert.equal(hat.slice(hs, he).join(''), xs.slice(s, e).join(''), 'a copied segment is equal on both sides');
    } else {
      const m = masked.spans[span]!;
      assert.deepEqual([m.maskStart, m.maskEnd, m.start, m.end], [hs, he, s, e], 'a mask segment is its span');
      assert.equal(hat.slice(hs, he).join(''), maskToken.repeat(m.masks), 'a mask segment holds its mask tokens');
    }
    hatAt = he;
    xAt = e;
  }
  assert.equal(hatAt, hat.length, 'the map covers x̂');
  assert.equal(xAt, xs.length, 'the map covers x');
  assert.equal(
    reconstruct(
      masked,
      masked.spans.map((s) => xs.slice(s.start, s.end).join('')),
    ),
    x,
    'x rebuilds from x̂',
  );
}

/** One KLUE-NER sentence: its id, text, and gold entity spans from the character BIO tags. */
export interface KlueSentence {
  id: string;
  text: string;
  entities: { start: number; end: number; type: string }[];
}

/**
 * KLUE-NER's dev.tsv, parsed here independently of the dataset stage's adapter: `## id\tmarked`
 * comment lines, then one `char\ttag` line per character, a blank line between sentences.
 * Each sentence's characters must spell its marked sentence without the `<entity:TAG>` marks.
 */
export async function parseKlueNer(path = KLUE_NER_DEV): Promise<KlueSentence[]> {
  const sentences: KlueSentence[] = [];
  let current: { id: string; marked: string; chars: string[]; tags: string[] } | undefined;
  const finish = (): void => {
    if (!current) return;
    const entities: KlueSentence['entities'] = [];
    current.tags.forEach((tag, i) => {
      if (tag.startsWith('B-')) entities.push({ start: i, end: i + 1, type: tag.slice(2) });
      else if (tag.startsWith('I-')) {
        const last = entities[entities.length - 1];
        assert.ok(
          last && last.end === i && last.type === tag.slice(2),
          `${current!.id}: I- tag at ${i} continues an entity`,
        );
        last.end = i + 1;
      } else assert.equal(tag, 'O');
    });
    const text = current.chars.join('');
    assert.equal(
      text,
      current.marked.replace(/<([^<>]*?):(PS|LC|OG|DT|TI|QT)>/g, '$1'),
      `${current.id}: characters spell the marked sentence`,
    );
    sentences.push({ id: current.id, text, entities });
    current = undefined;
  };
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    if (line.startsWith('## klue-ner')) {
      finish();
      const [id, marked] = line.slice(3).split('\t');
      current = { id: id!, marked: marked ?? '', chars: [], tags: [] };
    } else if (line.startsWith('##') || line === '') {
      continue;
    } else {
      const tab = line.lastIndexOf('\t');
      assert.ok(current && tab >= 0, `a character line belongs to a sentence: ${JSON.stringify(line)}`);
      current.chars.push(line.slice(0, tab));
      current.tags.push(line.slice(tab + 1));
    }
  }
  finish();
  return sentences;
}

/** KoSBi's male/female term pairs: the 성별 category's first two groups, zipped. */
export async function kosbiGenderPairs(path = KOSBI_GROUPS): Promise<[string, string][]> {
  const groups = JSON.parse(await readFile(path, 'utf8')) as Record<string, string[]>;
  const [male, female] = (groups['성별'] ?? []).map((g) =>
    g
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
  );
  assert.ok(
    male && female && male.length === female.length && male.length > 0,
    'KoSBi lists as many male as female terms',
  );
  return male.map((m, i) => [m, female[i]!]);
}

/** The trainer venv's python (the bootstrapped one the config points at). */
export function trainerPython(): string {
  return loadConfig({}, {}).trainer.python;
}

/** Writes the tiny ONNX token classifier + tokenizer.json fixture (test/fixtures/ner-mask/make_onnx_tagger.py). */
export async function onnxFixture(): Promise<{ model: string; tokenizer: string }> {
  const dir = await tempDir('fairline-onnx-tagger-');
  const made = spawnSync(
    trainerPython(),
    [join(PROJECT_ROOT, 'test', 'fixtures', 'ner-mask', 'make_onnx_tagger.py'), dir],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, made.stderr);
  return { model: join(dir, 'model.onnx'), tokenizer: join(dir, 'tokenizer.json') };
}
