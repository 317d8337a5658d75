import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Tokenizer } from 'tokenizers';
import { ensureBuiltinModel } from '../../../models/builtin';
import { assertMaskedConsistent, direct } from './support';

describe('the ner-mask stage with a built-in model’s tokenizer', () => {
  test('tokenizer: multilingual-e5-small masks every SentencePiece sub-token of a span with <mask>', async () => {
    const text = '남학생들은 서울에 갔다';
    const span = { start: 0, end: 3 }; // 남학생
    // The expectation, from the built folder's tokenizer.json read directly: the sub-tokens that overlap the span.
    const tokenizer = Tokenizer.fromFile(join(await ensureBuiltinModel('multilingual-e5-small'), 'tokenizer.json'));
    const encoding = await tokenizer.encode(text, null, { addSpecialTokens: false });
    const overlapping = encoding.getOffsets().filter(([s = 0, e = 0]) => s < span.end && e > span.start && e > s);
    assert.ok(overlapping.length >= 2, `남학생 is more than one piece: ${JSON.stringify(encoding.getTokens())}`);

    const stage = await direct();
    const rows = [{ id: 's', text, labels: 0, entities: [{ ...span, type: 'identity' }] }];
    const out = await stage.run({
      dataset: await stage.dataset(rows),
      sources: { dataset: true },
      mode: 'perSubtoken',
      tokenizer: 'multilingual-e5-small',
      maskToken: '<mask>',
    });
    const masked = out.rows[0]!.meta.masked;
    assert.equal(masked.text, `${'<mask>'.repeat(overlapping.length)}${text.slice(span.end)}`);
    assert.equal(out.card.maskTokens, overlapping.length);
    assertMaskedConsistent(text, masked, '<mask>');
  });
});
