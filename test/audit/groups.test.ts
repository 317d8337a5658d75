/**
 * Identity groups: the committed default set is exactly what scripts/derive-audit-groups.ts
 * derives from KoSBi's demographic_groups.json, and a groups file is checked with file:line errors.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { deriveDefaultGroups, formatDefaultGroups, KOSBI_GROUPS_PATH } from '../../audit/derive-groups';
import { DEFAULT_GROUPS_FILE, defaultGroups, flattenGroups, parseGroupsFile } from '../../audit/pairs';
import { AuditGroupsInvalid } from '../../common/errors';
import { PROJECT_ROOT } from '../../common/paths';

describe('the default groups', () => {
  const committed = readFileSync(join(PROJECT_ROOT, DEFAULT_GROUPS_FILE), 'utf8');

  test(
    'the committed file equals what the script derives from the shared KoSBi file',
    {
      skip: existsSync(KOSBI_GROUPS_PATH)
        ? false
        : `${KOSBI_GROUPS_PATH} is missing (../shared/data is not checked out here)`,
    },
    () => {
      assert.equal(
        committed,
        formatDefaultGroups(deriveDefaultGroups(readFileSync(KOSBI_GROUPS_PATH))),
        'run `npx tsx scripts/derive-audit-groups.ts` and review the diff',
      );
    },
  );

  test('start with the manual’s gender pairs, male term first, and name no term twice within a pair', () => {
    const groups = defaultGroups();
    assert.deepEqual(groups.gender!.slice(0, 4), [
      ['남학생', '여학생'],
      ['남자', '여자'],
      ['아들', '딸'],
      ['아버지', '어머니'],
    ]);
    assert.ok(Object.keys(groups).length >= 5);
    for (const { a, b } of flattenGroups(groups)) assert.notEqual(a, b);
  });

  test('every category of the source file is accounted for: groups built from it, or the reason it was skipped', () => {
    const file: { categories: { category: string; groups: string[]; why: string }[] } = JSON.parse(committed);
    assert.equal(file.categories.length, 15);
    assert.ok(file.categories.every((c) => c.why.length > 0));
    assert.deepEqual(file.categories.find((c) => c.category === '종교')?.groups, []);
  });
});

describe('a groups file', () => {
  test('is a mapping group → [a, b] pairs, in YAML or JSON', () => {
    assert.deepEqual(
      parseGroupsFile('gender:\n  - [남학생, 여학생]\n  - [아들, 딸]\nage: [[청년, 노인]]\n', 'groups.yaml'),
      {
        gender: [
          ['남학생', '여학생'],
          ['아들', '딸'],
        ],
        age: [['청년', '노인']],
      },
    );
    assert.deepEqual(parseGroupsFile('{"gender": [["남자", "여자"]]}', 'groups.json'), { gender: [['남자', '여자']] });
  });

  const bad: [string, string, RegExp][] = [
    ['gender: []\n', 'groups.yaml:1', /group "gender" has no pairs/],
    [
      'gender:\n  - [남자, 여자]\n  - [딸]\n',
      'groups.yaml:3',
      /a pair of group "gender" must be a list of two non-empty terms/,
    ],
    ['gender:\n  - [남자, 남자]\n', 'groups.yaml:2', /names the same term twice/],
    ['- [남자, 여자]\n', 'groups.yaml:1', /must be a mapping group/],
    ['gender: [남자, 여자\n', 'groups.yaml:', /groups file/],
    ['gender: 남자\n', 'groups.yaml:1', /must hold a list of \[a, b\] pairs/],
  ];
  for (const [source, where, message] of bad) {
    test(`${JSON.stringify(source)} is refused at ${where}`, () => {
      assert.throws(
        () => parseGroupsFile(source, 'groups.yaml'),
        (error: unknown) =>
          error instanceof AuditGroupsInvalid &&
          error.retryable === false &&
          error.message.includes(where) &&
          message.test(error.message),
      );
    });
  }
});
