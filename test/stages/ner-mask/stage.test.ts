import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { DatasetRowInvalid, StageInputInvalid } from '../../../common/errors';
import {
  AnalyzerFailed,
  LexiconInvalid,
  SpanOutOfBounds,
  SpansOverlap,
  TagSchemeUnknown,
} from '../../../stages/ner-mask/errors';
import { nerMaskCacheable } from '../../../stages/ner-mask/contract';
import { validatePipelineText } from '../../../pipeline/validate';
import { MorphAnalyzer } from '../../../stages/ner-mask/morph';
import { assertMaskedConsistent, direct, onnxFixture, type MaskedRow } from './support';
import { alive } from '../../helpers';

const ROWS = [
  {
    id: 'a',
    text: '김철수는 서울에 갔다.',
    labels: [1, 0, 0],
    entities: [
      { start: 0, end: 3, type: 'PS' },
      { start: 5, end: 7, type: 'LC' },
    ],
  },
  { id: 'b', text: '오늘은 비가 온다.', labels: [0, 0, 1] },
  {
    id: 'c',
    text: '여학생들이 부산에서 왔다.',
    labels: [0, 1, 0],
    entities: [{ start: 6, end: 8, type: 'LC' }],
    meta: { source: 'fixture' },
  },
];
const masked = (rows: MaskedRow[]): [string, string][] => rows.map((r) => [r.id, r.meta.masked.text]);

describe('the ner-mask stage, run directly', () => {
  test('dataset entities become masks; rows keep their fields and gain meta.masked; the card counts them', async () => {
    const stage = await direct();
    const { rows, card, outputs } = await stage.run({ dataset: await stage.dataset(ROWS), sources: { dataset: true } });
    assert.deepEqual(masked(rows), [
      ['a', '[MASK]는 [MASK]에 갔다.'],
      ['b', '오늘은 비가 온다.'],
      ['c', '여학생들이 [MASK]에서 왔다.'],
    ]);
    assert.deepEqual(rows[2]!.meta.source, 'fixture');
    assert.deepEqual(rows[0]!.labels, [1, 0, 0]);
    for (const row of rows) assertMaskedConsistent(row.text, row.meta.masked);
    assert.deepEqual(
      {
        rows: card.rows,
        rowsMasked: card.rowsMasked,
        spans: card.spans,
        perType: card.perType,
        perSource: card.perSource,
      },
      { rows: 3, rowsMasked: 2, spans: 3, perType: { LC: 2, PS: 1 }, perSource: { dataset: { spans: 3, rows: 2 } } },
    );
    assert.equal(outputs.shareMasked, 0.666667);
    assert.ok(stage.heartbeats.length > 0);
  });

  test('lexicon and dataset spans combine, overlapping ones merged into one mask', async () => {
    const stage = await direct();
    const rows = [{ id: 'x', text: '여학생 김여학생은 왔다', labels: 0, entities: [{ start: 4, end: 8, type: 'PS' }] }];
    const out = await stage.run({
      dataset: await stage.dataset(rows),
      sources: { dataset: true, lexicon: { terms: ['여학생', { term: '김여학생', type: 'name' }] } },
      maskToken: '<mask>',
    });
    const m = out.rows[0]!.meta.masked;
    assert.equal(m.text, '<mask> <mask>은 왔다');
    assert.deepEqual(
      m.spans.map((s) => [s.start, s.end, s.type, s.source]),
      [
        [0, 3, 'identity', 'lexicon'],
        [4, 8, 'PS', 'dataset+lexicon'],
      ],
    );
    assertMaskedConsistent(rows[0]!.text, m, '<mask>');
    assert.deepEqual(out.card.perSource, { dataset: { spans: 1, rows: 1 }, lexicon: { spans: 2, rows: 1 } });
    assert.equal(out.card.merged, 1);
  });

  test('token-level tags in meta (the manual’s NER_results) become character spans', async () => {
    const stage = await direct();
    const rows = [
      {
        id: 't1',
        text: '김철수는 서울에',
        labels: 0,
        meta: {
          tokens: ['[CLS]', '김', '##철', '##수', '##는', '서울', '##에', '[SEP]'],
          ner_tags: ['O', 'B-PS', 'I-PS', 'I-PS', 'O', 'B-LC', 'O', 'O'],
        },
      },
      {
        id: 't2',
        text: '김철수는 서울에',
        labels: 0,
        meta: { tokens: ['김', '##철', '##수', '##는', '서울', '##에'], ner_tags: [1, -100, -100, 0, 3, 0] },
      },
    ];
    const out = await stage.run({
      dataset: await stage.dataset(rows),
      sources: { dataset: { tagNames: ['O', 'B-PS', 'I-PS', 'B-LC', 'I-LC'] } },
    });
    for (const row of out.rows)
      assert.deepEqual(
        row.meta.masked.spans.map((s) => [s.start, s.end, s.type]),
        [
          [0, 3, 'PS'],
          [5, 7, 'LC'],
        ],
      );
  });

  test('perSubtoken masks each sub-token of a span under the target tokenizer', async () => {
    const stage = await direct();
    const fixture = await onnxFixture();
    const rows = [{ id: 's', text: '김철수는 서울시에 갔다', labels: 0, entities: [{ start: 5, end: 8, type: 'LC' }] }];
    const out = await stage.run({
      dataset: await stage.dataset(rows),
      sources: { dataset: true },
      mode: 'perSubtoken',
      tokenizer: fixture.tokenizer,
    });
    const m = out.rows[0]!.meta.masked;
    assert.equal(m.text, '김철수는 [MASK][MASK]에 갔다');
    assert.deepEqual(m.spans[0]!.subtokens, [
      [5, 7],
      [7, 8],
    ]);
    assert.equal(out.card.maskTokens, 2);
    assertMaskedConsistent(rows[0]!.text, m);
  });

  test('the onnx source tags entities with a real ONNX token classifier', async () => {
    const stage = await direct();
    const fixture = await onnxFixture();
    const rows = [
      { id: 'o1', text: '김철수는 서울시에 갔다', labels: 0 },
      { id: 'o2', text: '이영희와 부산에서', labels: 0 },
    ];
    const out = await stage.run({
      dataset: await stage.dataset(rows),
      sources: {
        onnx: {
          model: await stage.file(await readFile(fixture.model), 'model.onnx'),
          tokenizer: await stage.file(await readFile(fixture.tokenizer), 'tokenizer.json'),
          labels: ['O', 'B-PS', 'I-PS', 'B-LC', 'I-LC'],
        },
      },
    });
    assert.deepEqual(masked(out.rows), [
      ['o1', '[MASK]는 [MASK]에 갔다'],
      ['o2', '[MASK]와 [MASK]에서'],
    ]);
    assert.deepEqual(
      out.rows[0]!.meta.masked.spans.map((s) => [s.start, s.end, s.type, s.source]),
      [
        [0, 3, 'PS', 'onnx'],
        [5, 8, 'LC', 'onnx'],
      ],
    );
  });

  test('the morph source finds proper nouns with kiwipiepy in the trainer’s python', async () => {
    const stage = await direct();
    const rows = [
      { id: 'm1', text: '김철수는 서울에 갔다.', labels: 0 },
      { id: 'm2', text: '손흥민은 토트넘에서 뛴다', labels: 0 },
      { id: 'm3', text: '오늘은 비가 온다.', labels: 0 },
    ];
    const out = await stage.run({ dataset: await stage.dataset(rows), sources: { morph: { batch: 2 } } });
    const names = out.rows.map((r) => r.meta.masked.spans.map((s) => r.text.slice(s.start, s.end)));
    assert.deepEqual(names, [['김철수', '서울'], ['손흥민', '토트넘'], []]);
    assert.ok(out.rows.every((r) => r.meta.masked.spans.every((s) => s.type === 'NNP' && s.source === 'morph')));
  });

  const bad: {
    name: string;
    rows: (object | string)[];
    sources?: Record<string, unknown>;
    error: new (...args: never[]) => Error;
    message: RegExp;
  }[] = [
    {
      name: 'an unknown tag scheme',
      rows: [
        ROWS[1]!,
        {
          id: 'bio?',
          text: '김철수',
          labels: 0,
          meta: { tokens: ['김', '##철', '##수'], ner_tags: ['PER', 'PER', 'PER'] },
        },
      ],
      error: TagSchemeUnknown,
      message: /row "bio\?" \(line 2 of rows\.jsonl\): tag "PER" at token 0 is not BIO\/IOB2\/BIOES/,
    },
    {
      name: 'a span out of bounds',
      rows: [ROWS[0]!, ROWS[1]!, { id: 'far', text: '짧다', labels: 0, entities: [{ start: 1, end: 5, type: 'PS' }] }],
      error: SpanOutOfBounds,
      message:
        /row "far" \(line 3 of rows\.jsonl\): dataset span \[1, 5\) PS is out of bounds of the text \(2 characters\)/,
    },
    {
      name: 'overlapping dataset spans',
      rows: [
        {
          id: 'both',
          text: '서울대학교',
          labels: 0,
          entities: [
            { start: 0, end: 5, type: 'OG' },
            { start: 0, end: 2, type: 'LC' },
          ],
        },
      ],
      error: SpansOverlap,
      message: /row "both" \(line 1 of rows\.jsonl\): dataset spans \[0, 2\) LC and \[0, 5\) OG overlap/,
    },
    {
      name: 'a line that is not JSON',
      rows: [ROWS[0]!, '{"id": "broken", '],
      error: DatasetRowInvalid,
      message: /row \(line 2 of rows\.jsonl\): not valid JSON/,
    },
    {
      name: 'a row that is not canonical',
      rows: [{ id: 'nolabels', text: '글' }],
      error: DatasetRowInvalid,
      message: /row "nolabels" \(line 1 of rows\.jsonl\): not a canonical row: labels/,
    },
    {
      name: 'tokens that do not fit the text',
      rows: [{ id: 'tok', text: '김철수', labels: 0, meta: { tokens: ['박', '##영희'], ner_tags: ['B-PS', 'I-PS'] } }],
      error: DatasetRowInvalid,
      message: /row "tok" \(line 1 of rows\.jsonl\): token 0 "박" does not match/,
    },
    {
      name: 'numeric tags without names',
      rows: [{ id: 'num', text: '김철수', labels: 0, meta: { tokens: ['김철수'], ner_tags: [1] } }],
      error: DatasetRowInvalid,
      message: /row "num" .*name the tag ids with sources\.dataset\.tagNames/,
    },
    {
      name: 'a lexicon file that does not parse',
      rows: [ROWS[0]!],
      sources: { lexicon: { file: 'LEXICON' } },
      error: LexiconInvalid,
      message: /lexicon lexicon\.yaml:2: Nested mappings/,
    },
  ];
  for (const c of bad) {
    test(`${c.name} fails the stage with a non-retryable ${c.error.name} naming the row or line`, async () => {
      const stage = await direct();
      const dataset = await stage.dataset(c.rows);
      const lexicon = await stage.file('- 남자\n- 여자: : x\n- 아들\n', 'lexicon.yaml');
      const sources = JSON.parse(
        JSON.stringify(c.sources ?? { dataset: true }).replace('"LEXICON"', JSON.stringify(lexicon)),
      );
      await assert.rejects(
        stage.run({ dataset, sources }),
        (e: unknown) => e instanceof c.error && 'retryable' in e && e.retryable === false && c.message.test(e.message),
      );
    });
  }

  test('perSubtoken without a tokenizer is refused by the schema, before any row is read', async () => {
    const stage = await direct();
    await assert.rejects(
      stage.run({ dataset: await stage.dataset(ROWS), sources: { dataset: true }, mode: 'perSubtoken' }),
      (e: unknown) => e instanceof StageInputInvalid && /tokenizer: mode perSubtoken/.test(e.message),
    );
  });

  test('a mask token the target tokenizer does not know is refused', async () => {
    const stage = await direct();
    const fixture = await onnxFixture();
    await assert.rejects(
      stage.run({
        dataset: await stage.dataset(ROWS),
        sources: { dataset: true },
        mode: 'perSubtoken',
        tokenizer: fixture.tokenizer,
        maskToken: '<mask>',
      }),
      (e: unknown) =>
        e instanceof StageInputInvalid && /maskToken "<mask>" is not a token of the tokenizer/.test(e.message),
    );
  });

  test('onnx labels outside BIO/BIOES are refused', async () => {
    const stage = await direct();
    const fixture = await onnxFixture();
    const onnx = {
      model: await stage.file(await readFile(fixture.model), 'model.onnx'),
      tokenizer: await stage.file(await readFile(fixture.tokenizer), 'tokenizer.json'),
      labels: ['O', 'PER'],
    };
    await assert.rejects(
      stage.run({ dataset: await stage.dataset(ROWS), sources: { onnx } }),
      (e: unknown) => e instanceof StageInputInvalid && /"PER" are not BIO/.test(e.message),
    );
  });

  test('the morph analyzer failing to start is a non-retryable error', async () => {
    const analyzer = MorphAnalyzer.start('/nonexistent/python', ['NNP']);
    await assert.rejects(
      analyzer.analyze(['서울']),
      (e: unknown) =>
        e instanceof AnalyzerFailed && !e.retryable && /cannot start \/nonexistent\/python/.test(e.message),
    );
    await analyzer.kill();
  });

  test('cancelling the stage kills the analyzer process and reports the cancellation', async () => {
    const stage = await direct();
    const rows = Array.from({ length: 20_000 }, (_, i) => ({
      id: `r${i}`,
      text: `김철수는 ${i}번째로 서울에 갔다.`,
      labels: 0,
    }));
    const running = stage.run({ dataset: await stage.dataset(rows), sources: { morph: { batch: 64 } } });
    const pid = await waitForAnalyzer();
    stage.abort.abort(new Error('cancelled by the test'));
    await assert.rejects(running, /cancelled by the test/);
    assert.equal(alive(pid), false, `analyzer ${pid} is gone`);
  });

  test('a path input (tokenizer, lexicon file) makes the stage uncacheable; artifacts keep it cacheable', () => {
    const ref = { uri: 'file:///x', sha256: '0'.repeat(64), bytes: 1, kind: 'file' };
    assert.equal(nerMaskCacheable({ dataset: ref, sources: { dataset: true } }), true);
    assert.equal(nerMaskCacheable({ dataset: ref, sources: { dataset: true }, tokenizer: 'file:///tok.json' }), false);
    assert.equal(nerMaskCacheable({ dataset: ref, sources: { lexicon: { file: '/lex.yaml' } } }), false);
    assert.equal(nerMaskCacheable({ dataset: ref, sources: { lexicon: { file: ref } }, tokenizer: ref }), true);
  });

  const invalid: [string, string, RegExp][] = [
    [
      'a POS tag that is not one',
      'sources: { morph: { tags: [nnp] } }',
      /^9: .*sources\.morph\.tags\[0\]: a Kiwi POS tag/,
    ],
    ['perSubtoken without a tokenizer', 'sources: { dataset: true }\n      mode: perSubtoken', /give `tokenizer`/],
    ['no source at all', 'sources: {}', /name at least one span source/],
    ['an unknown source', 'sources: { gazetteer: true }', /gazetteer/],
  ];
  for (const [name, yaml, message] of invalid) {
    test(`the validator reports ${name} in a ner-mask block`, () => {
      const result = validatePipelineText(
        `name: m
stages:
  - { id: data, uses: download, with: { url: "file:///tmp/rows.jsonl" } }
  - id: mask
    uses: ner-mask
    needs: [data]
    with:
      dataset: "\${{ stages.data.outputs.dataset }}"
      ${yaml}
`,
        'p.yaml',
        { set: [] },
      );
      assert.equal(result.ok, false);
      const messages = result.ok ? [] : result.problems.map((p) => `${p.line}: ${p.message}`);
      assert.ok(
        messages.some((m) => message.test(m)),
        messages.join('\n'),
      );
    });
  }
});

/** The pid of this process's `python -m trainer.morph` child, once it runs. */
async function waitForAnalyzer(): Promise<number> {
  const { execFileSync } = await import('node:child_process');
  for (let i = 0; i < 200; i++) {
    const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    const line = out.split('\n').find((l) => l.includes('trainer.morph'));
    if (line) return Number(line.trim().split(/\s+/)[0]);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the analyzer never started');
}
