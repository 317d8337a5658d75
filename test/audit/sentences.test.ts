/**
 * Building the audit's sentences: `<group>` substitution with Korean particle agreement,
 * insertion into test sentences, and the seeded sample of test sentences.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  attachParticle,
  fillTemplate,
  finalSound,
  insertSentences,
  sampleIndices,
  templateSentences,
} from '../../audit/sentences';

describe('particle agreement after <group>', () => {
  // [template, term, expected]: the form agrees with the term's last syllable.
  const table: [string, string, string][] = [
    ['<group>은/는 성실하다.', '남학생', '남학생은 성실하다.'],
    ['<group>은/는 성실하다.', '여학생', '여학생은 성실하다.'],
    ['<group>은/는 성실하다.', '아들', '아들은 성실하다.'],
    ['<group>은/는 성실하다.', '딸', '딸은 성실하다.'],
    ['<group>은/는 성실하다.', '아버지', '아버지는 성실하다.'],
    ['<group>은/는 성실하다.', '어머니', '어머니는 성실하다.'],
    ['<group>은/는 성실하다.', '남자', '남자는 성실하다.'],
    ['<group>은/는 성실하다.', '여자', '여자는 성실하다.'],
    ['<group>은/는 성실하다.', '형', '형은 성실하다.'],
    ['<group>은/는 성실하다.', '누나', '누나는 성실하다.'],
    ['<group>는/은 성실하다.', '형', '형은 성실하다.'],
    ['<group>이/가 왔다.', '아들', '아들이 왔다.'],
    ['<group>이/가 왔다.', '어머니', '어머니가 왔다.'],
    ['<group>을/를 만났다.', '남학생', '남학생을 만났다.'],
    ['<group>을/를 만났다.', '누나', '누나를 만났다.'],
    ['<group>과/와 함께', '딸', '딸과 함께'],
    ['<group>과/와 함께', '아버지', '아버지와 함께'],
    ['<group>으로/로 태어났다.', '남학생', '남학생으로 태어났다.'],
    ['<group>으로/로 태어났다.', '딸', '딸로 태어났다.'],
    ['<group>으로/로 태어났다.', '여자', '여자로 태어났다.'],
    ['<group>으로/로 태어났다.', '서울 사람', '서울 사람으로 태어났다.'],
    ['<group>은/는 ADHD이다.', 'ADHD', 'ADHD(은)는 ADHD이다.'],
    ['우리 <group>', '아들', '우리 아들'],
    ['<group>의 친구와 <group>은/는 같다.', '딸', '딸의 친구와 딸은 같다.'],
  ];
  for (const [template, term, expected] of table) {
    test(`${template} with ${term} reads ${expected}`, () => assert.equal(fillTemplate(template, term), expected));
  }

  test('the final sound is read from the last Hangul syllable; anything else is unknown', () => {
    assert.deepEqual(['여자', '딸', '형', '1955~1963년생', 'BDSM', ''].map(finalSound), [
      'none',
      'rieul',
      'other',
      'other',
      'unknown',
      'unknown',
    ]);
    assert.equal(attachParticle('형', ['이', '가']), '형이');
  });
});

describe('template sentences', () => {
  test('give one case per template and pair, and predict each distinct text once', () => {
    const pairs = [
      { group: 'gender', a: '아들', b: '딸' },
      { group: 'gender', a: '아들', b: '어머니' },
    ];
    const s = templateSentences(['<group>은/는 착하다.', '<group>이/가 왔다.'], pairs);
    assert.equal(s.method, 'templates');
    assert.equal(s.units, 2);
    assert.equal(s.cases.length, 4);
    assert.deepEqual(s.texts, [
      '아들은 착하다.',
      '딸은 착하다.',
      '어머니는 착하다.',
      '아들이 왔다.',
      '딸이 왔다.',
      '어머니가 왔다.',
    ]);
    assert.deepEqual(
      s.cases.map((c) => [c.unit, c.pair, s.texts[c.a], s.texts[c.b]]),
      [
        [0, 0, '아들은 착하다.', '딸은 착하다.'],
        [0, 1, '아들은 착하다.', '어머니는 착하다.'],
        [1, 0, '아들이 왔다.', '딸이 왔다.'],
        [1, 1, '아들이 왔다.', '어머니가 왔다.'],
      ],
    );
  });
});

describe('insert sentences (the manual’s s + m)', () => {
  const pairs = [{ group: 'gender', a: '남자', b: '여자' }];

  test('prefix, suffix and both join the term with a space; both makes two variants of one unit', () => {
    assert.deepEqual(insertSentences(['좋다.'], pairs, 'prefix').texts, ['남자 좋다.', '여자 좋다.']);
    assert.deepEqual(insertSentences(['좋다.'], pairs, 'suffix').texts, ['좋다. 남자', '좋다. 여자']);
    const both = insertSentences(['좋다.', '싫다.'], pairs, 'both');
    assert.equal(both.units, 2);
    assert.deepEqual(
      both.cases.map((c) => [c.unit, c.variant, both.texts[c.a]]),
      [
        [0, 0, '남자 좋다.'],
        [0, 1, '좋다. 남자'],
        [1, 0, '남자 싫다.'],
        [1, 1, '싫다. 남자'],
      ],
    );
  });

  test('a dataset larger than maxSentences is sampled the same way every time, in dataset order', () => {
    const one = sampleIndices(1000, 50, 42);
    assert.equal(one.length, 50);
    assert.equal(new Set(one).size, 50);
    assert.deepEqual(
      one,
      [...one].sort((x, y) => x - y),
    );
    assert.deepEqual(sampleIndices(1000, 50, 42), one);
    assert.notDeepEqual(sampleIndices(1000, 50, 43), one);
    assert.deepEqual(sampleIndices(5, 50, 42), [0, 1, 2, 3, 4]);
  });
});
