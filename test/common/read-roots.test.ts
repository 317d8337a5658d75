import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, test } from 'node:test';
import { ArtifactNotFound, ReadRefused } from '../../common/errors';
import { PROJECT_ROOT } from '../../common/paths';
import { checkReadable, isLocalAddress, readPolicy } from '../../common/read-roots';
import { loadConfig } from '../../temporal.config';
import { tempDir } from '../helpers';

describe('readable roots', () => {
  test('a local stack reads the project, the pipeline’s folder and data-mirror targets, and nothing else', async () => {
    const dir = await tempDir('fairline-roots-');
    const mirrored = join(dir, 'mirror');
    const pipelineDir = join(dir, 'pipeline');
    await mkdir(mirrored);
    await mkdir(pipelineDir);
    await writeFile(join(mirrored, 'train.csv'), 'a,b\n');
    await writeFile(join(pipelineDir, 'data.csv'), 'a,b\n');
    await writeFile(join(dir, 'elsewhere.csv'), 'a,b\n');
    const config = loadConfig(
      {
        temporal: { address: '127.0.0.1:7233' },
        dataMirrors: [{ from: 'https://example.org/', to: pathToFileURL(mirrored).href + '/' }],
      },
      {},
    );
    const policy = readPolicy(config, pipelineDir);
    assert.equal(await checkReadable(join(PROJECT_ROOT, 'package.json'), policy), join(PROJECT_ROOT, 'package.json'));
    assert.equal(
      await checkReadable(pathToFileURL(join(mirrored, 'train.csv')).href, policy),
      join(mirrored, 'train.csv'),
    );
    assert.equal(await checkReadable(join(pipelineDir, 'data.csv'), policy), join(pipelineDir, 'data.csv'));
    await assert.rejects(checkReadable(join(dir, 'elsewhere.csv'), policy), ReadRefused);
    await assert.rejects(checkReadable('file:///etc/passwd', policy), (error: unknown) => {
      assert.ok(error instanceof ReadRefused);
      assert.equal(error.retryable, false);
      assert.match(error.message, /refused to read file:\/\/\/etc\/passwd: a local stack reads only the project/);
      assert.match(error.message, /FAIRLINE_READ_ROOTS/);
      return true;
    });
  });

  const cases: { name: string; path: (dir: string) => string }[] = [
    {
      name: 'a path climbing out with ..',
      path: (dir) => join(dir, 'root', '..', '..', '..', '..', '..', '..', 'etc', 'hostname'),
    },
    { name: 'a symlink inside a root pointing out of it', path: (dir) => join(dir, 'root', 'link-to-passwd') },
    {
      name: 'a file inside a symlinked folder that points out',
      path: (dir) => join(dir, 'root', 'etc-link', 'passwd'),
    },
    { name: 'a missing file outside every root (no existence oracle)', path: () => '/etc/no-such-file-here' },
  ];
  for (const { name, path } of cases) {
    test(`${name} is refused after resolving symlinks`, async () => {
      const dir = await tempDir('fairline-roots-');
      await mkdir(join(dir, 'root'));
      await symlink('/etc/passwd', join(dir, 'root', 'link-to-passwd'));
      await symlink('/etc', join(dir, 'root', 'etc-link'));
      const policy = readPolicy(loadConfig({ readRoots: [join(dir, 'root')] }, {}));
      await assert.rejects(
        checkReadable(path(dir), policy),
        (error: unknown) => error instanceof ReadRefused && /configured readable roots/.test(error.message),
      );
    });
  }

  test('a symlink inside a root to a file in the same root is read at its real path; a missing file under a root is not found', async () => {
    const dir = await tempDir('fairline-roots-');
    await mkdir(join(dir, 'root'));
    await writeFile(join(dir, 'root', 'real.csv'), 'x\n');
    await symlink(join(dir, 'root', 'real.csv'), join(dir, 'root', 'alias.csv'));
    const policy = readPolicy(loadConfig({ readRoots: [join(dir, 'root')] }, {}));
    assert.equal(await checkReadable(join(dir, 'root', 'alias.csv'), policy), join(dir, 'root', 'real.csv'));
    await assert.rejects(checkReadable(join(dir, 'root', 'missing.csv'), policy), ArtifactNotFound);
  });

  test('a worker of a remote cluster reads no local file unless roots are configured', async () => {
    const remote = loadConfig({ temporal: { address: 'temporal.internal:7233', embedded: false } }, {});
    assert.equal(isLocalAddress(remote.temporal.address), false);
    const policy = readPolicy(remote, PROJECT_ROOT);
    assert.deepEqual(policy.roots, []);
    await assert.rejects(
      checkReadable(join(PROJECT_ROOT, 'package.json'), policy),
      (error: unknown) => error instanceof ReadRefused && /remote Temporal cluster/.test(error.message),
    );
  });

  test('FAIRLINE_READ_ROOTS configures the roots, `:`-separated; set and empty it allows none', async () => {
    assert.deepEqual(loadConfig({}, { FAIRLINE_READ_ROOTS: '/srv/data:/mnt/corpora' }).readRoots, [
      '/srv/data',
      '/mnt/corpora',
    ]);
    assert.deepEqual(loadConfig({}, { FAIRLINE_READ_ROOTS: '' }).readRoots, []);
    assert.equal(loadConfig({}, {}).readRoots, undefined);
    assert.throws(
      () => loadConfig({}, { FAIRLINE_READ_ROOTS: 'relative/dir' }),
      /readRoots\.0: must be an absolute path/,
    );
  });
});
