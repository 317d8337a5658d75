/**
 * Local files and tokenizers for the `ner-mask` stage: a file input (artifact or path) made a
 * local path, and Hugging Face tokenizers loaded through the npm `tokenizers` binding (the same
 * Rust core as the Python trainer's; its offsets count code points, as fairline's spans do).
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { StageInputInvalid } from '../../common/errors';
import { checkReadable, readPolicy } from '../../common/read-roots';
import type { FileInput, TokenizerInput } from '../../stages/ner-mask/contract';
import { isBuiltinModelName } from '../../models/names';
import { ensureBuiltinModel } from '../../models/builtin';
import { artifactName, materialize } from '../../store/materialize';
import type { StageContext } from './context';

/** A local path holding the input's bytes: artifacts are downloaded (verified) into the scratch folder. */
export async function localPath(input: FileInput, context: StageContext, name: string): Promise<string> {
  if (typeof input !== 'string') return materialize(context.store, input, context.scratchDir, name);
  // Only under the readable roots; the real path (symlinks resolved) is what gets read.
  return checkReadable(input, readPolicy(context.config, context.pipelineDir));
}

/** The input's text, and a name for messages. */
export async function readText(input: FileInput, context: StageContext): Promise<{ text: string; name: string }> {
  if (typeof input !== 'string') {
    return { text: (await context.store.read(input)).toString('utf8'), name: artifactName(input) };
  }
  const path = await localPath(input, context, 'file');
  return { text: await readFile(path, 'utf8'), name: basename(path) };
}

type TokenizersModule = typeof import('tokenizers');
export type Tokenizer = InstanceType<TokenizersModule['Tokenizer']>;

/** The npm `tokenizers` binding; StageInputInvalid saying how to get it when it is not installed. */
export async function tokenizers(stageId: string, why: string): Promise<TokenizersModule> {
  try {
    return await import('tokenizers');
  } catch (error) {
    throw new StageInputInvalid(
      stageId,
      `${why} needs the npm package \`tokenizers\` (Hugging Face's binding), which does not load here (${error instanceof Error ? error.message : String(error)}): run \`npm install tokenizers@0.23.2\``,
    );
  }
}

/**
 * A tokenizer.json loaded with the npm binding; StageInputInvalid when it does not load. A
 * built-in model's name (`multilingual-e5-small`) means that model's tokenizer.json, built on
 * first use like the train stage builds it (models/builtin.ts).
 */
export async function loadTokenizer(input: TokenizerInput, context: StageContext, why: string): Promise<Tokenizer> {
  const { Tokenizer } = await tokenizers(context.stageId, why);
  const path =
    typeof input === 'string' && isBuiltinModelName(input)
      ? join(
          await ensureBuiltinModel(input, {
            python: context.config.trainer.python,
            signal: context.signal,
            log: (m) => context.log.info(m),
          }),
          'tokenizer.json',
        )
      : await localPath(input, context, 'tokenizer.json');
  try {
    return Tokenizer.fromFile(path);
  } catch (error) {
    throw new StageInputInvalid(
      context.stageId,
      `${why}: ${basename(path)} is not a tokenizer.json the tokenizers library reads: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

/** Code-point ranges of the tokenizer's tokens of `text`, special tokens left out, in order. */
export async function tokenRanges(tokenizer: Tokenizer, text: string): Promise<[number, number][]> {
  const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
  const special = encoding.getSpecialTokensMask();
  return encoding
    .getOffsets()
    .filter((_, i) => special[i] !== 1)
    .map(([s, e]) => [s ?? 0, e ?? 0] as [number, number])
    .filter(([s, e]) => e > s);
}
