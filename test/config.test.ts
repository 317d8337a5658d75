import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigInvalid, SecretMissing } from '../common/errors';
import { loadConfig } from '../temporal.config';
import { cleanEnv, fairline, tempDir } from './helpers';

describe('loadConfig', () => {
  test('defaults to the embedded dev server, the fairline namespace and a store in .fairline/artifacts', () => {
    const config = loadConfig({}, {});
    assert.equal(config.temporal.address, '127.0.0.1:7233');
    assert.equal(config.temporal.embedded, true);
    assert.equal(config.temporal.namespace, 'fairline');
    assert.deepEqual(config.taskQueues, { cpu: 'cpu', gpu: 'gpu' });
    assert.match(config.store.uri, /^file:\/\/\/.*\/\.fairline\/artifacts$/);
    assert.match(config.trainer.python, /\/venv\/[0-9a-f]{16}\/bin\/python$/);
  });

  test('an explicit option beats the environment, which beats the default', () => {
    const env = { FAIRLINE_TEMPORAL_ADDRESS: 'temporal.internal:7233', FAIRLINE_TEMPORAL_NAMESPACE: 'from-env' };
    const fromEnv = loadConfig({}, env);
    assert.equal(fromEnv.temporal.address, 'temporal.internal:7233');
    assert.equal(fromEnv.temporal.embedded, false);
    assert.equal(fromEnv.temporal.namespace, 'from-env');
    const explicit = loadConfig({ temporal: { namespace: 'explicit' } }, env);
    assert.equal(explicit.temporal.namespace, 'explicit');
    assert.equal(explicit.temporal.address, 'temporal.internal:7233');
  });

  test('data mirrors come from JSON in FAIRLINE_DATA_MIRRORS', () => {
    const config = loadConfig({}, { FAIRLINE_DATA_MIRRORS: '{"https://example.org/data/": "file:///mirror/"}' });
    assert.deepEqual(config.dataMirrors, [{ from: 'https://example.org/data/', to: 'file:///mirror/' }]);
  });

  test('store.keepCheckpoints comes from FAIRLINE_STORE_KEEP_CHECKPOINTS (a count or all) unless set explicitly', () => {
    assert.equal(loadConfig({}, {}).store.keepCheckpoints, undefined, 'absent: the train stage keeps none');
    assert.equal(loadConfig({}, { FAIRLINE_STORE_KEEP_CHECKPOINTS: '3' }).store.keepCheckpoints, 3);
    assert.equal(loadConfig({}, { FAIRLINE_STORE_KEEP_CHECKPOINTS: 'all' }).store.keepCheckpoints, 'all');
    assert.equal(
      loadConfig({ store: { keepCheckpoints: 1 } }, { FAIRLINE_STORE_KEEP_CHECKPOINTS: 'all' }).store.keepCheckpoints,
      1,
    );
  });

  const bad: {
    name: string;
    overrides?: unknown;
    env?: NodeJS.ProcessEnv;
    error: typeof ConfigInvalid | typeof SecretMissing;
    path: RegExp;
  }[] = [
    {
      name: 'an unknown key',
      overrides: { temporal: { adress: 'x:1' } },
      error: ConfigInvalid,
      path: /temporal\.adress: unknown key/,
    },
    {
      name: 'a malformed store URI',
      env: { FAIRLINE_STORE: 'ftp://host/x' },
      error: ConfigInvalid,
      path: /store\.uri: must be file:\/\/\/absolute\/path or s3:\/\/bucket/,
    },
    {
      name: 'a malformed Temporal address',
      env: { FAIRLINE_TEMPORAL_ADDRESS: 'no-port' },
      error: ConfigInvalid,
      path: /temporal\.address: must be host:port/,
    },
    {
      name: 'an S3 store without credentials',
      env: { FAIRLINE_STORE: 's3://fairline-artifacts' },
      error: SecretMissing,
      path: /store\.s3\.accessKeyId: .*AWS_ACCESS_KEY_ID/,
    },
    {
      name: 'a TLS certificate that does not exist',
      env: {
        FAIRLINE_TEMPORAL_TLS_CERT: '/nonexistent/client.pem',
        FAIRLINE_TEMPORAL_TLS_KEY: '/nonexistent/client.key',
      },
      error: ConfigInvalid,
      path: /temporal\.tls\.certFile: file not found: \/nonexistent\/client\.pem/,
    },
    {
      name: 'a checkpoint count that is not a number',
      env: { FAIRLINE_STORE_KEEP_CHECKPOINTS: 'some' },
      error: ConfigInvalid,
      path: /store\.keepCheckpoints/,
    },
    {
      name: 'an API key variable that is unset',
      overrides: { temporal: { apiKeyEnv: 'MY_TEMPORAL_KEY' } },
      error: SecretMissing,
      path: /temporal\.apiKeyEnv: .*MY_TEMPORAL_KEY/,
    },
  ];
  for (const c of bad) {
    test(`rejects ${c.name}, naming the key path`, () => {
      assert.throws(
        () => loadConfig(c.overrides ?? {}, c.env ?? {}),
        (error: unknown) => {
          assert.ok(error instanceof c.error, `expected ${c.error.name}, got ${String(error)}`);
          assert.match(error.message, c.path);
          return true;
        },
      );
    });
  }

  test('never holds secret values, only where to find them', () => {
    const config = loadConfig(
      {},
      {
        FAIRLINE_STORE: 's3://fairline-artifacts',
        AWS_ACCESS_KEY_ID: 'AKIASECRETID',
        AWS_SECRET_ACCESS_KEY: 'very-secret-key',
      },
    );
    const printed = JSON.stringify(config);
    assert.doesNotMatch(printed, /AKIASECRETID|very-secret-key/);
  });
});

describe('the fairline command with bad config', () => {
  test('exits 2 and names the key path of an unknown key in a --config file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'fairline.yaml');
    await writeFile(file, 'temporal:\n  adress: 127.0.0.1:7233\n');
    const { code, stderr } = await fairline(['--config', file, 'doctor'], cleanEnv());
    assert.equal(code, 2);
    assert.match(stderr, /temporal\.adress: unknown key/);
  });

  test('exits 2 and names the variable of a missing secret', async () => {
    const { code, stderr } = await fairline(['doctor'], cleanEnv({ FAIRLINE_STORE: 's3://fairline-artifacts' }));
    assert.equal(code, 2);
    assert.match(stderr, /store\.s3\.accessKeyId: missing secret: set the environment variable AWS_ACCESS_KEY_ID/);
  });

  test('exits 2 and names a TLS file that is not there', async () => {
    const { code, stderr } = await fairline(
      ['doctor'],
      cleanEnv({ FAIRLINE_TEMPORAL_TLS_CERT: '/nonexistent/c.pem', FAIRLINE_TEMPORAL_TLS_KEY: '/nonexistent/c.key' }),
    );
    assert.equal(code, 2);
    assert.match(stderr, /temporal\.tls\.certFile: file not found/);
  });
});
