/**
 * One formatter per language, both from npm so `npm ci` is the only install: Prettier for
 * TypeScript and JavaScript (.prettierrc.json), Ruff's formatter (compiled to WebAssembly,
 * @wasm-fmt/ruff_fmt) for the trainer's and the benchmarks' Python. Both wrap at 120 columns.
 *
 *   npx tsx infra/format.ts            # rewrite every tracked file that is not formatted
 *   npx tsx infra/format.ts --check    # list them and exit 1 (part of `npm run lint`)
 *
 * Only files git tracks are formatted, so build outputs and caches never are.
 */
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { format as formatPython, type Config as RuffConfig } from '@wasm-fmt/ruff_fmt';
import * as prettier from 'prettier';
import { PROJECT_ROOT } from '../common/paths';

/** Ruff's defaults (Black's style) at fairline's width. */
const RUFF: RuffConfig = {
  line_width: 120,
  indent_style: 'space',
  indent_width: 4,
  quote_style: 'double',
  magic_trailing_comma: 'respect',
};

function tracked(patterns: string[]): string[] {
  const out = execFileSync('git', ['ls-files', '-z', '--', ...patterns], { cwd: PROJECT_ROOT, encoding: 'utf8' });
  return out.split('\0').filter(Boolean);
}

/** The file's text as its formatter prints it. */
async function formatted(file: string, text: string): Promise<string> {
  if (file.endsWith('.py')) return formatPython(text, file, RUFF);
  const options = await prettier.resolveConfig(join(PROJECT_ROOT, file));
  return prettier.format(text, { ...options, filepath: join(PROJECT_ROOT, file) });
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const files = tracked(['*.ts', '*.mjs', '*.js', '*.py']);
  const unformatted: string[] = [];
  for (const file of files) {
    const text = await readFile(join(PROJECT_ROOT, file), 'utf8');
    const out = await formatted(file, text);
    if (out === text) continue;
    unformatted.push(file);
    if (!check) await writeFile(join(PROJECT_ROOT, file), out);
  }
  if (check && unformatted.length > 0) {
    process.stderr.write(
      `${unformatted.length} file(s) not formatted (run \`npm run format\`):\n${unformatted.map((f) => `  ${f}`).join('\n')}\n`,
    );
    process.exit(1);
  }
  process.stderr.write(
    check ? `${files.length} files formatted\n` : `formatted ${unformatted.length} of ${files.length} files\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`format: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(2);
});
