/**
 * The `dataset` stage's contract as `fairline validate` applies it: every shipped dataset pipeline
 * is valid, each kind of mapping or split mistake is reported at its FILE:LINE:COL before a run
 * starts, relative paths under `sources` resolve, and only fully pinned stages are cacheable.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../../../common/paths';
import { datasetCacheable } from '../../../stages/dataset/contract';
import { STAGE_TYPES } from '../../../stages';
import { formatProblem, validatePipelineFile, validatePipelineText } from '../../../pipeline/validate';

const DATASETS = join(PROJECT_ROOT, 'pipelines', 'datasets');
const pinned = 'a'.repeat(64);

/** A one-stage pipeline whose `with` is the given YAML block (indented by the caller). */
const pipeline = (withBlock: string): string =>
  `name: t\nstages:\n  - id: data\n    uses: dataset\n    with:\n${withBlock}`;

describe('the dataset stage type', () => {
  test('lists every output it writes: one per split and the card', () => {
    assert.deepEqual(STAGE_TYPES.dataset?.outputs, {
      train: 'artifact',
      validation: 'artifact',
      test: 'artifact',
      card: 'artifact',
    });
  });

  test('every pipeline in pipelines/datasets/ validates', async () => {
    const files = (await readdir(DATASETS)).filter((f) => f.endsWith('.yaml'));
    assert.ok(files.length >= 7);
    for (const file of files) {
      const result = await validatePipelineFile(join(DATASETS, file));
      assert.ok(result.ok, result.ok ? '' : result.problems.map(formatProblem).join('\n'));
    }
  });
});

const mistakes: { sentence: string; with: string; at: `${number}:${number}`; message: string }[] = [
  {
    sentence: 'both url and sources',
    with: `      url: https://x/a.csv\n      sources: { train: { url: https://x/b.csv } }\n      format: csv\n      mapping: { text: t, label: { column: l, classes: 2 } }\n`,
    at: '6:7',
    message: 'give either url (one file) or sources',
  },
  {
    sentence: 'a mapping with both label and labels',
    with: `      url: https://x/a.csv\n      format: csv\n      mapping:\n        text: t\n        label: { column: l, classes: 2 }\n        labels: { columns: [a] }\n`,
    at: '9:9',
    message: 'give exactly one of labels',
  },
  {
    sentence: 'a format that needs a mapping without one',
    with: `      url: https://x/a.csv\n      format: csv\n`,
    at: '6:7',
    message: 'format csv needs a mapping',
  },
  {
    sentence: 'a separator without classes',
    with: `      url: https://x/a.tsv\n      format: tsv\n      mapping:\n        text: t\n        labels: { column: l, separator: "," }\n`,
    at: '10:41',
    message: 'a separated id list needs classes',
  },
  {
    sentence: 'a single-label rule with two forms',
    with: `      url: https://x/a.csv\n      format: csv\n      mapping:\n        text: t\n        label: { column: l, classes: [a, b], threshold: 0.5 }\n`,
    at: '10:16',
    message: 'give exactly one of classes, map or threshold',
  },
  {
    sentence: 'labelNames of the wrong length',
    with: `      url: https://x/a.csv\n      format: csv\n      mapping:\n        text: t\n        labels: { columns: [a, b] }\n        labelNames: [x]\n`,
    at: '11:21',
    message: 'lists 1 names for 2 labels',
  },
  {
    sentence: 'split ratios that do not add up to 1',
    with: `      url: https://x/a.csv\n      format: csv\n      mapping: { text: t, label: { column: l, classes: 2 } }\n      split: { train: 0.8, test: 0.1, seed: 1 }\n`,
    at: '9:14',
    message: 'must add up to 1, they add up to 0.9',
  },
  {
    sentence: 'a random split without a seed',
    with: `      url: https://x/a.csv\n      format: csv\n      mapping: { text: t, label: { column: l, classes: 2 } }\n      split: { train: 0.5, test: 0.5 }\n`,
    at: '9:14',
    message: 'split ratios: seed: a random split needs a seed',
  },
  {
    sentence: 'a shuffle split without a positive trainFirst',
    with: `      url: https://x/a.csv\n      format: csv\n      mapping: { text: t, label: { column: l, classes: 2 } }\n      split: { shuffle: 32, trainFirst: 0 }\n`,
    at: '9:41',
    message: 'with.split.trainFirst: Too small',
  },
  {
    sentence: 'a shuffle split without trainFirst',
    with: `      url: https://x/a.csv\n      format: csv\n      mapping: { text: t, label: { column: l, classes: 2 } }\n      split: { shuffle: 32 }\n`,
    at: '9:14',
    message: 'split { shuffle, trainFirst }: trainFirst:',
  },
  {
    sentence: 'a split next to sources',
    with: `      sources: { train: { url: https://x/a.csv } }\n      format: csv\n      split: test\n      mapping: { text: t, label: { column: l, classes: 2 } }\n`,
    at: '8:14',
    message: 'with sources, each source has its own split',
  },
  {
    sentence: 'a column index in a file with a header',
    with: `      url: https://x/a.csv\n      format: csv\n      mapping: { text: 0, label: { column: l, classes: 2 } }\n`,
    at: '8:24',
    message: 'a column index needs csv: { header: false }',
  },
  {
    sentence: 'csv options on a json source',
    with: `      url: https://x/a.json\n      format: json\n      csv: { delimiter: ";" }\n      mapping: { text: t, label: { column: l, classes: 2 } }\n`,
    at: '8:12',
    message: 'csv options apply to the csv and tsv formats, not json',
  },
  {
    sentence: 'a mapping on the klue-ner adapter',
    with: `      url: https://x/dev.tsv\n      format: klue-ner\n      mapping: { text: t, label: { column: l, classes: 2 } }\n`,
    at: '8:16',
    message: 'the klue-ner adapter maps rows itself',
  },
  {
    sentence: 'an unknown key inside a mapping rule',
    with: `      url: https://x/a.csv\n      format: csv\n      mapping: { text: t, labels: { colums: [a] } }\n`,
    at: '8:37',
    message: 'unknown key "colums" in with.mapping.labels (did you mean "columns"?)',
  },
];

describe('dataset mistakes are reported at their FILE:LINE:COL before a run starts', () => {
  for (const m of mistakes) {
    test(m.sentence, () => {
      const result = validatePipelineText(pipeline(m.with), 'p.yaml');
      assert.ok(!result.ok, 'expected problems');
      const listing = result.problems.map(formatProblem).join('\n');
      assert.ok(
        result.problems.some((p) => `${p.line}:${p.col}` === m.at && p.message.includes(m.message)),
        `expected ${m.at} "${m.message}" in:\n${listing}`,
      );
      assert.equal(result.problems.length, 1, `one mistake, one problem:\n${listing}`);
    });
  }
});

describe('relative paths and caching', () => {
  test('a relative url under sources resolves against the pipeline file', () => {
    const file = join(PROJECT_ROOT, 'pipelines', 'local.yaml');
    const text = pipeline(
      `      format: jsonl\n      sources:\n        train: { url: ./data/train.jsonl }\n        test: { url: ../elsewhere/test.jsonl }\n      mapping: { text: t, label: { column: l, classes: 2 } }\n`,
    );
    const result = validatePipelineText(text, file);
    assert.ok(result.ok, result.ok ? '' : result.problems.map(formatProblem).join('\n'));
    assert.deepEqual(result.spec.stages[0]?.with.sources, {
      train: { url: pathToFileURL(join(PROJECT_ROOT, 'pipelines', 'data', 'train.jsonl')).href },
      test: { url: pathToFileURL(join(PROJECT_ROOT, 'elsewhere', 'test.jsonl')).href },
    });
  });

  test('a dataset stage is cacheable only when every source is pinned', () => {
    const mapping = { text: 't', label: { column: 'l', classes: 2 } };
    assert.equal(datasetCacheable({ url: 'https://x/a.csv', sha256: pinned, format: 'csv', mapping }), true);
    assert.equal(datasetCacheable({ url: 'https://x/a.csv', format: 'csv', mapping }), false);
    const sources = { train: { url: 'https://x/a.csv', sha256: pinned }, test: { url: 'https://x/b.csv' } };
    assert.equal(datasetCacheable({ sources, format: 'csv', mapping }), false);
    assert.equal(
      datasetCacheable({ sources: { ...sources, test: { ...sources.test, sha256: pinned } }, format: 'csv', mapping }),
      true,
    );
  });
});
