import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ENV } from '../../common/constants';
import { cachedWorkflowBundle, workflowBundleKey } from '../../worker/bundle';
import { WORKFLOWS_PATH } from '../../worker/create';
import { tempDir } from '../helpers';

describe('the kept workflow bundle', () => {
  /** A project whose workflows import a helper that imports a library file; one file nothing imports. */
  async function project(): Promise<string> {
    const root = await tempDir('fairline-bundle-key-');
    await mkdir(join(root, 'workflows'));
    await mkdir(join(root, 'lib'));
    await writeFile(join(root, 'workflows', 'index.ts'), "export { helper } from './helper';\n");
    await writeFile(
      join(root, 'workflows', 'helper.ts'),
      "import { value } from '../lib/value';\nexport const helper = () => value;\n",
    );
    await writeFile(join(root, 'lib', 'value.ts'), 'export const value = 1;\n');
    await writeFile(join(root, 'lib', 'unrelated.ts'), 'export const other = 1;\n');
    await writeFile(join(root, 'package-lock.json'), '{"lockfileVersion": 3}\n');
    return root;
  }

  const changes: [change: string, file: string, content: string, changesKey: boolean][] = [
    ['a file the workflows import only through a helper', 'lib/value.ts', 'export const value = 2;\n', true],
    ['the lock file (the SDK and zod are inlined)', 'package-lock.json', '{"lockfileVersion": 3, "x": 1}\n', true],
    ['a file the workflows never import', 'lib/unrelated.ts', 'export const other = 2;\n', false],
  ];
  for (const [change, file, content, changesKey] of changes) {
    test(`its key ${changesKey ? 'changes' : 'stays'} when ${change} changes`, async () => {
      const root = await project();
      const entry = join(root, 'workflows', 'index.ts');
      const before = workflowBundleKey(entry, root);
      await writeFile(join(root, file), content);
      assert.equal(workflowBundleKey(entry, root) !== before, changesKey);
    });
  }

  test('the same code in another checkout gets its own key (the source map names the files)', async () => {
    const [a, b] = [await project(), await project()];
    assert.notEqual(
      workflowBundleKey(join(a, 'workflows', 'index.ts'), a),
      workflowBundleKey(join(b, 'workflows', 'index.ts'), b),
    );
  });

  test('is built once, kept in the cache folder, and read from there by the next start', async () => {
    const env = { ...process.env, [ENV.cacheDir]: await tempDir('fairline-bundle-cache-') };
    const built = await cachedWorkflowBundle(WORKFLOWS_PATH, env);
    assert.match(built.code, /pipelineRun/);
    const dir = join(env[ENV.cacheDir], 'workflow-bundles');
    const kept = await readdir(dir);
    assert.deepEqual(kept, [`${workflowBundleKey(WORKFLOWS_PATH)}.js`]);
    assert.equal(await readFile(join(dir, kept[0]!), 'utf8'), built.code);
    // What the next start loads is the kept file, not a new bundling of the sources.
    await writeFile(join(dir, kept[0]!), '/* kept */');
    assert.equal((await cachedWorkflowBundle(WORKFLOWS_PATH, env)).code, '/* kept */');
  });

  test("a new bundle replaces the checkout's earlier ones and leaves other checkouts' alone", async () => {
    const env = { ...process.env, [ENV.cacheDir]: await tempDir('fairline-bundle-cache-') };
    const dir = join(env[ENV.cacheDir], 'workflow-bundles');
    const [checkout] = workflowBundleKey(WORKFLOWS_PATH).split('-');
    await mkdir(dir, { recursive: true });
    const earlier = `${checkout}-${'0'.repeat(24)}.js`;
    const elsewhere = `${'f'.repeat(12)}-${'0'.repeat(24)}.js`;
    await writeFile(join(dir, earlier), '/* this checkout, older code */');
    await writeFile(join(dir, elsewhere), '/* another checkout */');
    await cachedWorkflowBundle(WORKFLOWS_PATH, env);
    assert.deepEqual((await readdir(dir)).sort(), [`${workflowBundleKey(WORKFLOWS_PATH)}.js`, elsewhere].sort());
  });

  test('still gives a bundle where the cache folder cannot be written', async () => {
    const blocked = join(await tempDir('fairline-bundle-blocked-'), 'a-file');
    await writeFile(blocked, 'not a folder');
    const bundle = await cachedWorkflowBundle(WORKFLOWS_PATH, { ...process.env, [ENV.cacheDir]: blocked });
    assert.match(bundle.code, /pipelineRun/);
    assert.equal(existsSync(join(blocked, 'workflow-bundles')), false);
  });
});
