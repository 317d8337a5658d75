import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isSuffixChain, Lexicon, parseLexiconFile, SUFFIXES } from '../../../stages/ner-mask/lexicon';
import { LexiconInvalid } from '../../../stages/ner-mask/errors';

const lexicon = new Lexicon(
  [
    '남학생',
    '여학생',
    '학생',
    '남자',
    '여자',
    '아들',
    '딸',
    '형',
    '취업 준비생',
    '준비생',
    'ADHD',
    '1955~1963년생',
  ].map((term) => ({ term, type: 'identity' })),
);
const found = (text: string): string[] => {
  const chars = Array.from(text);
  return lexicon.find(chars).map((s) => chars.slice(s.start, s.end).join(''));
};

describe('lexicon matching on Korean word boundaries', () => {
  const cases: [string, string[]][] = [
    ['남학생은 학교에 갔다', ['남학생']],
    ['여학생이 왔다', ['여학생']],
    ['남자들의 이야기', ['남자']],
    ['아들에게 주었다', ['아들']],
    ['딸로 태어났다', ['딸']],
    ['남자로서 말한다', ['남자']],
    ['여자들에게는 어렵다', ['여자']],
    ['학생과 여학생', ['학생', '여학생']],
    ['형님들은 바쁘다', ['형']],
    ['그는 남자였다', ['남자']],
    ['여자라서 그렇다', ['여자']],
    ['"여자는" (남자) 말했다', ['여자', '남자']],
    ['남자, 여자, 아들.', ['남자', '여자', '아들']],
    ['취업 준비생들이 많다', ['취업 준비생']],
    ['준비생은 따로', ['준비생']],
    ['adhd는 치료된다', ['ADHD'.toLowerCase()]],
    ['1955~1963년생은 베이비붐 세대', ['1955~1963년생']],
    // Not a term: inside a longer word, or followed by something that is no particle.
    ['대학생들', []],
    ['남자친구를 만났다', []],
    ['딸기를 먹었다', []],
    ['형사가 왔다', []],
    // A particle that disagrees with the term's final sound is not a particle of it.
    ['남자은 왔다', []],
    ['아들가 왔다', []],
    ['딸으로', []],
  ];
  for (const [text, terms] of cases) {
    test(`${JSON.stringify(text)} → ${terms.length > 0 ? terms.join(', ') : 'nothing'}`, () => {
      assert.deepEqual(
        found(text).map((t) => t.toLowerCase()),
        terms.map((t) => t.toLowerCase()),
      );
    });
  }

  test('the span covers the term, not its particles', () => {
    assert.deepEqual(lexicon.find(Array.from('여학생들에게는')), [{ start: 0, end: 3, type: 'identity' }]);
  });

  test('a longer term wins over a shorter one at the same place', () => {
    const both = new Lexicon([
      { term: '학생', type: 'short' },
      { term: '여학생', type: 'long' },
    ]);
    assert.deepEqual(both.find(Array.from('여학생이')), [{ start: 0, end: 3, type: 'long' }]);
  });

  test('a term listed twice keeps its first type', () => {
    const twice = new Lexicon([
      { term: '미혼모', type: '혼인 여부' },
      { term: '미혼모', type: '가족 형태' },
    ]);
    assert.equal(twice.size, 1);
    assert.equal(twice.find(Array.from('미혼모는'))[0]?.type, '혼인 여부');
  });

  test('suffix forms are tried longest first', () => {
    const forms = SUFFIXES.map((s) => s.form.length);
    assert.deepEqual(
      forms,
      [...forms].sort((a, b) => b - a),
    );
  });

  const chains: [string, string, boolean][] = [
    ['', '자', true],
    ['들에게는', '자', true],
    ['에서부터', '교', true],
    ['으로는', '생', true],
    ['으로', '들', false], // after ㄹ it is 로
    ['로', '들', true],
    ['이다', '생', true],
    ['다', '생', false], // after a consonant the copula keeps its 이
    ['들다', '자', false], // 들 then 다 is a verb, not a suffix chain
    ['는은도만', '자', false], // more particles than Korean stacks
  ];
  for (const [rest, previous, ok] of chains) {
    test(`${JSON.stringify(rest)} after ${previous} ${ok ? 'is' : 'is not'} a suffix chain`, () => {
      assert.equal(isSuffixChain(rest, previous), ok);
    });
  }
});

describe('lexicon files', () => {
  test('a YAML list holds terms and {term, type} entries', () => {
    const terms = parseLexiconFile('- 남학생\n- { term: 여학생, type: gender }\n- term: 아들\n', 'l.yaml', {
      format: 'auto',
      type: 'identity',
    });
    assert.deepEqual(terms, [
      { term: '남학생', type: 'identity' },
      { term: '여학생', type: 'gender' },
      { term: '아들', type: 'identity' },
    ]);
  });

  test('KoSBi’s groups shape splits comma-separated groups and types terms by category', () => {
    const source = '{\n  "성별": ["남성, 남자", "여성,여자 "],\n  "종교": ["불교"]\n}\n';
    assert.deepEqual(
      parseLexiconFile(source, 'groups.json', { format: 'auto', type: 'identity', categories: ['성별'] }),
      [
        { term: '남성', type: '성별' },
        { term: '남자', type: '성별' },
        { term: '여성', type: '성별' },
        { term: '여자', type: '성별' },
      ],
    );
  });

  const bad: {
    name: string;
    source: string;
    format?: 'list' | 'groups';
    categories?: string[];
    line: number;
    message: RegExp;
  }[] = [
    { name: 'YAML that does not parse', source: '- 남자\n- [여자\n- 아들\n', line: 3, message: /Flow sequence/ },
    { name: 'a tab indentation', source: '- 남자\n\t- 여자\n', line: 2, message: /./ },
    { name: 'a number entry', source: '- 남자\n- 42\n', line: 2, message: /not number 42/ },
    { name: 'a nested list', source: '- 남자\n- - 여자\n', line: 2, message: /nested list/ },
    { name: 'an empty entry', source: '- 남자\n-\n- 딸\n', line: 2, message: /empty entry/ },
    {
      name: 'an entry mapping with an unknown key',
      source: '- 남자\n- { term: 딸, kind: x }\n',
      line: 2,
      message: /non-empty string `term`/,
    },
    {
      name: 'a group that is not a string',
      source: '성별:\n  - 남자\n  - [여자]\n',
      line: 3,
      message: /must be a string of comma-separated terms/,
    },
    { name: 'duplicate categories', source: '성별: [남자]\n성별: [여자]\n', line: 2, message: /unique/ },
    {
      name: 'a list lexicon given as a mapping',
      source: '성별: [남자]\n',
      format: 'list',
      line: 1,
      message: /YAML sequence/,
    },
    {
      name: 'a category that is not there',
      source: '성별: [남자]\n',
      categories: ['종교'],
      line: 1,
      message: /no category "종교"/,
    },
    { name: 'an empty file', source: '\n', line: 1, message: /empty/ },
  ];
  for (const c of bad) {
    test(`${c.name} is LexiconInvalid naming line ${c.line}`, () => {
      assert.throws(
        () =>
          parseLexiconFile(c.source, 'lexicon.yaml', {
            format: c.format ?? 'auto',
            type: 'identity',
            ...(c.categories ? { categories: c.categories } : {}),
          }),
        (e: unknown) =>
          e instanceof LexiconInvalid &&
          !e.retryable &&
          e.line === c.line &&
          e.message.startsWith(`lexicon lexicon.yaml:${c.line}: `) &&
          c.message.test(e.message),
      );
    });
  }
});
