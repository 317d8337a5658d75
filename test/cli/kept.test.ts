/**
 * The command line's kept bundle (cli/kept.mjs): built from the sources on first use, used
 * again only while every source it was built from is unchanged, and with each module's
 * `import.meta.url` still naming its source file. Checked on a small project of its own, so that
 * editing it cannot disturb the real command line's bundle.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { keptBundle } from '../../cli/kept.mjs';
import { tempDir } from '../helpers';

/** A two-module project: main.ts imports lib/where.ts, which reports its own import.meta.url. */
async function project(): Promise<{ root: string; dir: string }> {
  const root = await tempDir('fairline-kept-');
  await mkdir(join(root, 'lib'), { recursive: true });
  await writeFile(join(root, 'main.ts'), "export { where, version } from './lib/where.ts';\n");
  await writeFile(
    join(root, 'lib', 'where.ts'),
    'export const where: string = import.meta.url;\nexport const version: number = 1;\n',
  );
  return { root, dir: join(root, 'kept') };
}

const requireHere = createRequire(import.meta.url);
/** Loads a kept bundle as `fairline` does (cli/bin.mjs): with `require`. */
const load = (file: string): { where: string; version: number } => {
  const loaded: unknown = requireHere(file);
  assert.ok(loaded && typeof loaded === 'object' && 'where' in loaded && 'version' in loaded);
  assert.ok(typeof loaded.where === 'string' && typeof loaded.version === 'number');
  return { where: loaded.where, version: loaded.version };
};

describe("the command line's kept bundle", () => {
  test('is built on first use, and each module in it still knows its source file by import.meta.url', async () => {
    const { root, dir } = await project();
    const url = await keptBundle({ root, entry: 'main.ts', dir });
    assert.ok(url, 'a bundle was built');
    const loaded = load(url);
    assert.equal(loaded.where, pathToFileURL(join(root, 'lib', 'where.ts')).href);
    assert.equal(loaded.version, 1);
  });

  test('is the same file while the sources are unchanged, and a new one once one is edited; only the newest earlier ones stay', async () => {
    const { root, dir } = await project();
    const first = await keptBundle({ root, entry: 'main.ts', dir });
    assert.equal(await keptBundle({ root, entry: 'main.ts', dir }), first, 'unchanged sources: the kept bundle');
    await writeFile(
      join(root, 'lib', 'where.ts'),
      'export const where: string = import.meta.url;\nexport const version: number = 2;\n',
    );
    const second = await keptBundle({ root, entry: 'main.ts', dir });
    assert.ok(second && second !== first, 'an edited source: another bundle');
    assert.equal(load(second).version, 2, 'built from the edited source');
    // Three more edits: the current bundle and the two before it stay, older ones go.
    for (const version of [3, 4, 5]) {
      await writeFile(
        join(root, 'lib', 'where.ts'),
        `export const where: string = import.meta.url;\nexport const version: number = ${version};\n`,
      );
      assert.equal(load((await keptBundle({ root, entry: 'main.ts', dir }))!).version, version);
    }
    const folders = (await readdir(dir)).filter((name) => !name.endsWith('.json'));
    assert.equal(folders.length, 3, `the current bundle and two earlier ones: ${folders.join(', ')}`);
    assert.ok(!existsSync(dirname(first!)), 'the first bundle is gone');
  });

  test('is one per checkout: two checkouts sharing the kept folder (and node_modules) each keep their own', async () => {
    const { root, dir } = await project();
    const first = await keptBundle({ root, entry: 'main.ts', dir });
    // The same kept folder seen from another checkout: the first one's import.meta.url values
    // would name the wrong place.
    const elsewhere = await tempDir('fairline-kept-moved-');
    await mkdir(join(elsewhere, 'lib'));
    await writeFile(join(elsewhere, 'main.ts'), "export { where, version } from './lib/where.ts';\n");
    await writeFile(
      join(elsewhere, 'lib', 'where.ts'),
      'export const where: string = import.meta.url;\nexport const version: number = 1;\n',
    );
    const moved = await keptBundle({ root: elsewhere, entry: 'main.ts', dir });
    assert.ok(moved && moved !== first);
    assert.equal(load(moved).where, pathToFileURL(join(elsewhere, 'lib', 'where.ts')).href);
    assert.equal(await keptBundle({ root, entry: 'main.ts', dir }), first, 'the first checkout still has its bundle');
  });

  test('is built again when the kept one was built another way (an older fairline): its pointer is not followed', async () => {
    const { root, dir } = await project();
    const first = await keptBundle({ root, entry: 'main.ts', dir });
    const [pointer] = (await readdir(dir)).filter((name) => name.endsWith('.json'));
    // What an earlier format left: a pointer to a folder of other files, with the same inputs.
    const kept: unknown = JSON.parse(await readFile(join(dir, pointer!), 'utf8'));
    assert.ok(kept && typeof kept === 'object' && 'format' in kept && 'key' in kept);
    await writeFile(join(dir, pointer!), JSON.stringify({ ...kept, format: 1, key: 'of-an-older-format' }));
    const again = await keptBundle({ root, entry: 'main.ts', dir });
    assert.equal(again, first, 'the bundle of this format, not the folder the old pointer names');
    assert.equal(load(again!).version, 1);
    const rewritten: unknown = JSON.parse(await readFile(join(dir, pointer!), 'utf8'));
    assert.ok(rewritten && typeof rewritten === 'object' && 'key' in rewritten);
    assert.equal(rewritten.key, kept.key, "the pointer names this format's bundle again");
  });

  test('is none, without an error, where its folder cannot be made: the command then runs from the sources', async () => {
    const { root } = await project();
    await writeFile(join(root, 'not-a-folder'), '');
    assert.equal(await keptBundle({ root, entry: 'main.ts', dir: join(root, 'not-a-folder', 'kept') }), undefined);
    assert.equal(existsSync(join(root, 'not-a-folder', 'kept')), false);
  });
});
