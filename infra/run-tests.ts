/**
 * `npm test`: lint and typecheck, start one real Temporal dev server for the suite, run every
 * TypeScript test file with Node's test runner and the trainer's tests with pytest, then stop
 * the server. Exits non-zero if any part failed.
 *
 * Test files get the dev server's address in FAIRLINE_TEST_TEMPORAL_ADDRESS (and its UI in
 * FAIRLINE_TEST_TEMPORAL_UI); tests that must break or restart a service start their own.
 * Arguments narrow the TypeScript run: `npm test -- test/store` runs the files under test/store.
 */
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { PROJECT_ROOT, trainerVenvPython } from '../common/paths';
import { startTemporalDevServer } from './temporal';

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: PROJECT_ROOT, env, stdio: 'inherit' });
    child.on('error', (error) => {
      console.error(`${command}: ${error.message}`);
      done(127);
    });
    child.on('exit', (code, signal) => done(code ?? (signal ? 128 : 1)));
  });
}

async function testFiles(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string): Promise<void> => {
    if ((await stat(path)).isFile()) {
      if (path.endsWith('.test.ts')) found.push(relative(PROJECT_ROOT, path));
      return;
    }
    for (const entry of await readdir(path)) if (entry !== 'fixtures') await walk(join(path, entry));
  };
  for (const p of paths) await walk(join(PROJECT_ROOT, p));
  return found.sort();
}

async function main(): Promise<number> {
  const selected = process.argv.slice(2);
  const results: Record<string, number> = {};
  const bin = (name: string): string => join(PROJECT_ROOT, 'node_modules', '.bin', name);

  if (selected.length === 0) {
    console.log('\n== lint: eslint + tsc + formatting');
    results.eslint = await run(bin('eslint'), ['.']);
    results.tsc = await run(bin('tsc'), ['--noEmit', '-p', '.']);
    results.format = await run(bin('tsx'), [join(PROJECT_ROOT, 'infra', 'format.ts'), '--check']);
  }

  console.log('\n== starting a Temporal dev server for the suite');
  const server = await startTemporalDevServer();
  console.log(`   ${server.address} (UI ${server.uiUrl})`);
  try {
    const files = await testFiles(selected.length > 0 ? selected : ['test']);
    console.log(`\n== node --test (${files.length} files)`);
    results.node = await run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], {
      ...process.env,
      FAIRLINE_TEST_TEMPORAL_ADDRESS: server.address,
      FAIRLINE_TEST_TEMPORAL_UI: server.uiUrl,
    });
  } finally {
    await server.stop();
  }

  if (selected.length === 0) {
    console.log('\n== pytest trainer/tests');
    results.pytest = await run(trainerVenvPython(), ['-m', 'pytest', '-q', 'trainer/tests']);
  }

  const failed = Object.entries(results).filter(([, code]) => code !== 0);
  console.log(
    `\n== ${failed.length === 0 ? 'all green' : `FAILED: ${failed.map(([name, code]) => `${name} (exit ${code})`).join(', ')}`}`,
  );
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
