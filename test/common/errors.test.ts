/**
 * The error classes after the boilerplate moved into `condition()`: every class keeps its name,
 * `type`, `retryable`, fields and message. test/fixtures/errors/conditions.json was recorded from
 * the classes as they were written out in full before (the same constructor arguments as here).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  ConfigInvalid,
  SecretMissing,
  ArtifactNotFound,
  StageInputInvalid,
  PayloadTooLarge,
  DatasetRowInvalid,
  AuditGroupsInvalid,
  condition,
  FairlineError,
} from '../../common/errors';
import {
  ArtifactKeyInvalid,
  ArtifactUriInvalid,
  ArtifactDigestMismatch,
  ArtifactConflict,
  StoreUnavailable,
  StorePermissionDenied,
  StoreBucketMissing,
} from '../../store/errors';
import { StageTypeUnknown } from '../../pipeline/errors';
import { MetricsInputInvalid } from '../../eval/errors';
import {
  ClassifierInvalid,
  TokenizerModelMismatch,
  ModelOutputMismatch,
  ExecutionProviderUnavailable,
} from '../../inference/errors';
import { ListFilterInvalid, RunAmbiguous, RunNotFound, RunRecordInvalid, RunReportMissing } from '../../client/errors';
import { DownloadRejected, DownloadTransient, DownloadTooLarge, Sha256Mismatch } from '../../stages/download/errors';
import {
  TagSchemeUnknown,
  SpanOutOfBounds,
  SpansOverlap,
  LexiconInvalid,
  AnalyzerFailed,
} from '../../stages/ner-mask/errors';
import { DatasetMalformed, DatasetRowsInvalid, DatasetColumnMissing } from '../../stages/dataset/errors';
import { TrainerConfigInvalid, TrainingDiverged, TrainerOutOfMemory, TrainerCrashed } from '../../stages/train/errors';
import { BiasGateFailed } from '../../stages/audit/errors';
import { LabelsMismatch } from '../../stages/mine-hard-negatives/errors';
import { PROJECT_ROOT } from '../../common/paths';

const make: (() => FairlineError)[] = [
  () => new ConfigInvalid([{ path: 'store.uri', message: 'bad' }]),
  () => new SecretMissing('path', 'variable', 'detail'),
  () => new ArtifactKeyInvalid('key', 'reason'),
  () => new ArtifactUriInvalid('uri', 'reason'),
  () => new ArtifactNotFound('uri'),
  () => new ArtifactDigestMismatch('uri', 'expected', 'actual'),
  () => new ArtifactConflict('uri', 'existing', 'attempted'),
  () => new StoreUnavailable('uri', new Error('reset')),
  () => new StorePermissionDenied('uri', 'detail'),
  () => new StoreBucketMissing('bucket', 'uri'),
  () => new DownloadRejected('url', 3),
  () => new DownloadTransient('url', 'reason'),
  () => new DownloadTooLarge('url', 3),
  () => new Sha256Mismatch('url', 'expected', 'actual'),
  () => new StageInputInvalid('stage', 'detail'),
  () => new PayloadTooLarge('what', 3, 3),
  () => new StageTypeUnknown('uses', ['a', 'b']),
  () => new DatasetRowInvalid({ dataset: 'train.jsonl', line: 2 }, 'detail'),
  () => new TagSchemeUnknown({ dataset: 'train.jsonl', line: 2 }, 'tag', 3),
  () => new SpanOutOfBounds({ dataset: 'train.jsonl', line: 2 }, 'source', { start: 0, end: 1, type: 'T' }, 3),
  () =>
    new SpansOverlap(
      { dataset: 'train.jsonl', line: 2 },
      'source',
      { start: 0, end: 1, type: 'T' },
      { start: 0, end: 1, type: 'T' },
    ),
  () => new LexiconInvalid('file', 3, 'detail'),
  () => new AnalyzerFailed('analyzer', 'detail', true),
  () => new DatasetMalformed('where', 'reason'),
  () => new DatasetRowsInvalid(3, ['a', 'b'], 'note'),
  () => new DatasetColumnMissing('source', 'col', ['a', 'b']),
  () => new TrainerConfigInvalid('stage', 'detail'),
  () => new TrainingDiverged('stage', 'detail'),
  () => new TrainerOutOfMemory('stage', 'detail'),
  () => new TrainerCrashed('stage', 'detail'),
  () => new MetricsInputInvalid('where', 'detail'),
  () => new AuditGroupsInvalid('file', 3, 'detail'),
  () => new BiasGateFailed('model', ['a', 'b'], {}),
  () => new ClassifierInvalid('where', 'detail'),
  () => new TokenizerModelMismatch('where', 'detail'),
  () => new ModelOutputMismatch('where', 'detail'),
  () => new ExecutionProviderUnavailable('where', 'provider', 'detail'),
  () => new LabelsMismatch('where', 'detail'),
  () => new ListFilterInvalid('filter', 'detail'),
  () => new RunNotFound('run', 'namespace'),
  () => new RunAmbiguous('run', ['a', 'b']),
  () => new RunReportMissing('workflowId', 'reason'),
  () => new RunRecordInvalid('uri', 'detail'),
];

interface Recorded {
  class: string;
  fields: Record<string, unknown>;
  message: string;
  isError: boolean;
  isFairlineError: boolean;
}
const recorded: Recorded[] = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'errors', 'conditions.json'), 'utf8'),
);

describe('error classes', () => {
  test('every recorded condition has a class here', () => {
    assert.equal(make.length, recorded.length);
  });

  make.forEach((build, i) => {
    const before = recorded[i]!;
    test(`${before.class} keeps its type, retryable, fields and message`, () => {
      const error = build();
      assert.equal(error.constructor.name, before.class);
      assert.equal(error.type, before.class, 'the type Temporal sees is the class name');
      const fields = Object.fromEntries(Object.entries(error).map(([k, v]) => [k, v instanceof Error ? v.message : v]));
      assert.deepEqual(fields, before.fields);
      assert.equal(error.message, before.message);
      assert.equal(error instanceof Error, before.isError);
      assert.equal(error instanceof FairlineError, before.isFairlineError);
    });
  });

  test('condition() fixes type and retryable per class, as own fields of each instance', () => {
    class Flaky extends condition('Flaky', true) {
      constructor(readonly what: string) {
        super(`${what} flaked`);
      }
    }
    const error = new Flaky('probe');
    assert.deepEqual(
      { type: error.type, retryable: error.retryable, what: error.what, message: error.message },
      { type: 'Flaky', retryable: true, what: 'probe', message: 'probe flaked' },
    );
    assert.ok(Object.hasOwn(error, 'type') && Object.hasOwn(error, 'retryable'));
    assert.ok(error instanceof FairlineError);
  });
});
