/**
 * The real public datasets in ../shared/data (read-only, never copied into the repository), and
 * data mirrors that redirect the authors' public URLs named in pipelines/datasets/*.yaml to
 * those local copies: the pipelines run unchanged, offline. The local files keep their folder's
 * names (unsmile/train.tsv), the public ones their authors' (unsmile_train_v1.0.tsv), so each
 * mirror maps one whole URL.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PROJECT_ROOT } from '../common/paths';
import type { FairlineConfig } from '../temporal.config';

export const SHARED_DATA = join(PROJECT_ROOT, '..', 'shared', 'data');

const RAW = 'https://raw.githubusercontent.com';

/** Public URL → path under SHARED_DATA. */
export const SHARED_FILES: Readonly<Record<string, string>> = {
  [`${RAW}/saltlux-ailabs/Ethics-skku/main/data/multilabel_classification/problems/train.json`]:
    'ethics-problems/train.json',
  [`${RAW}/saltlux-ailabs/Ethics-skku/main/data/multilabel_classification/problems/test.json`]:
    'ethics-problems/test.json',
  [`${RAW}/kocohub/korean-hate-speech/master/labeled/train.tsv`]: 'korean-hate-speech/train.tsv',
  [`${RAW}/kocohub/korean-hate-speech/master/labeled/dev.tsv`]: 'korean-hate-speech/dev.tsv',
  [`${RAW}/smilegate-ai/korean_unsmile_dataset/main/unsmile_train_v1.0.tsv`]: 'unsmile/train.tsv',
  [`${RAW}/smilegate-ai/korean_unsmile_dataset/main/unsmile_valid_v1.0.tsv`]: 'unsmile/valid.tsv',
  [`${RAW}/naver-ai/korean-safety-benchmarks/main/data/KoSBi/kosbi_valid.json`]: 'kosbi/valid.json',
  [`${RAW}/adlnlp/K-MHaS/main/data/kmhas_valid.txt`]: 'kmhas/valid.txt',
  [`${RAW}/intelligence-csd-auth-gr/Ethos-Hate-Speech-Dataset/master/ethos/ethos_data/Ethos_Dataset_Binary.csv`]:
    'ethos/binary.csv',
  [`${RAW}/intelligence-csd-auth-gr/Ethos-Hate-Speech-Dataset/master/ethos/ethos_data/Ethos_Dataset_Multi_Label.csv`]:
    'ethos/multi_label.csv',
  [`${RAW}/KLUE-benchmark/KLUE/main/klue_benchmark/klue-ner-v1.1/klue-ner-v1.1_dev.tsv`]: 'klue-ner/dev.tsv',
  [`${RAW}/KLUE-benchmark/KLUE/main/klue_benchmark/klue-nli-v1.1/klue-nli-v1.1_dev.json`]: 'klue-nli/dev.json',
  [`${RAW}/KLUE-benchmark/KLUE/main/klue_benchmark/klue-sts-v1.1/klue-sts-v1.1_dev.json`]: 'klue-sts/dev.json',
};

/** The local copy of a public URL. */
export function sharedFile(url: string): string {
  const local = SHARED_FILES[url];
  if (local === undefined) throw new Error(`no local copy of ${url} in test/shared-data.ts`);
  return join(SHARED_DATA, local);
}

/**
 * Mirrors from every public URL to its local copy, as file:// URLs, or under `base` (a local
 * HTTP server serving SHARED_DATA) when given.
 */
export function sharedDataMirrors(base?: string): FairlineConfig['dataMirrors'] {
  return Object.entries(SHARED_FILES).map(([from, local]) => ({
    from,
    to: base !== undefined ? `${base.replace(/\/$/, '')}/${local}` : pathToFileURL(join(SHARED_DATA, local)).href,
  }));
}
