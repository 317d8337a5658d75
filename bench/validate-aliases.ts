/**
 * What `fairline validate` costs on a YAML alias bomb: a 3 MB pipeline whose anchored lexicon
 * 99 stages reuse by alias (test/pipelines.ts aliasBombPipeline). Each measurement runs in a
 * fresh Node process, so its peak RSS is the validation's own.
 *
 *   npx tsx bench/validate-aliases.ts [--bytes 3000000] [--reuses 99]
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PROJECT_ROOT } from '../common/paths';
import { aliasBombPipeline } from '../test/pipelines';
import { environment, positiveInt, runMain, writeReport } from './support';

/** Run in the child: validate the file, print wall time, peak RSS and the first problem. */
const CHILD = `
const { validatePipelineFile, formatProblem } = await import(${JSON.stringify(join(PROJECT_ROOT, 'pipeline', 'validate.ts'))});
const started = performance.now();
const result = await validatePipelineFile(process.argv[1]);
const seconds = (performance.now() - started) / 1000;
const first = result.ok ? 'valid' : formatProblem(result.problems[0]);
console.log(JSON.stringify({ seconds, maxRssMiB: process.resourceUsage().maxRSS / 1024, problems: result.ok ? 0 : result.problems.length, first: first.slice(0, 300) }));
`;

runMain(async () => {
  const { values } = parseArgs({ options: { bytes: { type: 'string' }, reuses: { type: 'string' } } });
  const bytes = positiveInt('bytes', values.bytes, 3_000_000);
  const reuses = positiveInt('reuses', values.reuses, 99);
  const dir = await mkdtemp(join(tmpdir(), 'fairline-alias-bench-'));
  try {
    const file = join(dir, 'alias-bomb.yaml');
    const { text } = aliasBombPipeline(bytes, reuses);
    await writeFile(file, text);
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD, file], {
      cwd: PROJECT_ROOT,
      encoding: 'utf8',
      maxBuffer: 16 * 1024 * 1024,
    });
    if (child.status !== 0)
      throw new Error(`the validation process failed (exit ${child.status}): ${child.stderr.slice(-2000)}`);
    const result: { seconds: number; maxRssMiB: number; problems: number; first: string } = JSON.parse(
      child.stdout.trim().split('\n').pop()!,
    );
    console.log(`file: ${(text.length / 1e6).toFixed(2)} MB, anchored list reused ${reuses} times`);
    console.log(
      `validate: ${result.seconds.toFixed(2)} s, peak RSS ${result.maxRssMiB.toFixed(0)} MiB, ${result.problems} problem(s)`,
    );
    console.log(`first problem: ${result.first}`);
    await writeReport('validate-aliases', { environment: environment({ bytes: text.length, reuses }), ...result });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
