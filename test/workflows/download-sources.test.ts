import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { startMinio, type MinioServer } from '../../infra/minio';
import { createS3Store, type S3ArtifactStore } from '../../store/s3-store';
import { startEngine, type Engine } from '../engine';
import { startHttpSource, type HttpSource } from '../http-source';
import { tempDir } from '../helpers';

const ACCESS = 'download-test-user';
const SECRET = 'download-test-secret';

describe('the download stage’s sources', () => {
  let minio: MinioServer;
  let bucket: S3ArtifactStore;
  let http: HttpSource;
  let engine: Engine;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };

  before(async () => {
    minio = await startMinio({ dataDir: await tempDir('fairline-minio-'), accessKey: ACCESS, secretKey: SECRET });
    bucket = createS3Store({
      uri: 's3://source-data',
      endpoint: minio.endpoint,
      credentials: { accessKeyId: ACCESS, secretAccessKey: SECRET },
    });
    await bucket.ensureBucket();
    http = await startHttpSource();
    // The worker's S3 client takes its credentials from the environment, as in production.
    process.env.AWS_ACCESS_KEY_ID = ACCESS;
    process.env.AWS_SECRET_ACCESS_KEY = SECRET;
    engine = await startEngine();
    engine.config.store.s3.endpoint = minio.endpoint;
    engine.config.dataMirrors.push({ from: 'https://datasets.example.org/korean/', to: http.url('/files/') });
  });
  after(async () => {
    await engine?.close();
    await bucket?.close();
    await minio?.stop();
    await http?.close();
    process.env.AWS_ACCESS_KEY_ID = saved.id;
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
  });

  test('an s3:// source is fetched with its sha256 verified', async () => {
    const body = 'sentence,label\n남학생이 왔다,0\n';
    await bucket.client.send(new PutObjectCommand({ Bucket: 'source-data', Key: 'raw/train.csv', Body: body }));
    const sha = createHash('sha256').update(body).digest('hex');
    const outcome = await engine.run(`
name: from-s3
stages:
  - { id: data, uses: download, with: { url: "s3://source-data/raw/train.csv", sha256: "${sha}" } }
`);
    assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
    const ref = outcome.progress.stages[0]!.outputs!.dataset;
    assert.ok(ref && typeof ref === 'object' && !Array.isArray(ref));
    assert.equal(ref.sha256, sha);
    assert.match(String(ref.uri), /\/objects\/[0-9a-f]{64}\/train\.csv$/);
  });

  test('a missing s3:// object fails without retries', async () => {
    const outcome = await engine.run(`
name: from-s3-missing
stages:
  - id: data
    uses: download
    retry: { maximumAttempts: 3, initialInterval: 100ms }
    with: { url: "s3://source-data/raw/nope.csv" }
`);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error!.cause!.message, /nope\.csv failed with HTTP 404/);
    assert.doesNotMatch(outcome.error!.cause!.message, new RegExp(SECRET));
  });

  test('a data mirror redirects a public URL to the local copy, and the artifact keeps the public name', async () => {
    http.files.set('comments.tsv', 'comments\tlabel\n안녕\t0\n');
    const outcome = await engine.run(`
name: mirrored
stages:
  - { id: data, uses: download, with: { url: "https://datasets.example.org/korean/comments.tsv" } }
`);
    assert.equal(outcome.status, 'succeeded', outcome.error?.cause?.message);
    assert.equal(http.hits.get('/files/comments.tsv'), 1);
    const ref = outcome.progress.stages[0]!.outputs!.dataset;
    assert.ok(ref && typeof ref === 'object' && !Array.isArray(ref));
    assert.match(String(ref.uri), /\/comments\.tsv$/);
  });

  test('maxBytes stops a runaway download, non-retryably', async () => {
    http.files.set('big.bin', 'x'.repeat(10_000));
    const outcome = await engine.run(`
name: too-big
stages:
  - id: data
    uses: download
    retry: { maximumAttempts: 3, initialInterval: 100ms }
    with: { url: "${http.url('/files/big.bin')}", maxBytes: 1000 }
`);
    assert.equal(outcome.status, 'failed');
    assert.match(outcome.error!.cause!.message, /exceeds maxBytes 1000/);
    assert.equal(http.hits.get('/files/big.bin'), 1);
  });
});
