/**
 * `fairline validate FILE… [--set params.NAME=VALUE]…`: checks pipeline files without running
 * anything. Problems go to stderr as FILE:LINE:COL: message (one per line, every problem of every
 * file), valid files get their one-line summary on stdout.
 */
import { formatProblem, validatePipelineFile, type ValidateOptions } from '../pipeline/validate';

/** Where the command writes; injectable so tests can capture output. */
export interface ValidateOutput {
  out(line: string): void;
  err(line: string): void;
}

const consoleOutput: ValidateOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Validates each file (all of them, even after one fails) and returns the exit code: 0 when
 * every file is valid, 1 otherwise (also when no file was given).
 */
export async function validateCommand(
  files: string[],
  options: { set?: string[]; stageTypes?: ValidateOptions['stageTypes'] },
  output: ValidateOutput = consoleOutput,
): Promise<number> {
  if (files.length === 0) {
    output.err('fairline validate: no pipeline file given');
    return 1;
  }
  let allValid = true;
  for (const file of files) {
    const result = await validatePipelineFile(file, {
      ...(options.set !== undefined ? { set: options.set } : {}),
      ...(options.stageTypes !== undefined ? { stageTypes: options.stageTypes } : {}),
    });
    if (result.ok) {
      output.out(result.summary);
    } else {
      allValid = false;
      for (const problem of result.problems) output.err(formatProblem(problem));
    }
  }
  return allValid ? 0 : 1;
}
