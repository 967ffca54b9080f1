import { expect } from 'chai';
import { jsonTextProblem, MAX_JSON_DEPTH, nestsDeeperThan, readJson } from '../../shared/events/index.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('nestsDeeperThan', () => {
  it('counts objects and arrays together, up to and past the limit', () => {
    expect(nestsDeeperThan(bytes('{"a":[{"b":[]}]}'), 4)).to.equal(false);
    expect(nestsDeeperThan(bytes('{"a":[{"b":[[]]}]}'), 4)).to.equal(true);
    expect(nestsDeeperThan(bytes(nested(MAX_JSON_DEPTH)), MAX_JSON_DEPTH)).to.equal(false);
    expect(nestsDeeperThan(bytes(nested(MAX_JSON_DEPTH + 1)), MAX_JSON_DEPTH)).to.equal(true);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan(bytes(`{"a":"${'['.repeat(100)}"}`), 2)).to.equal(false);
    expect(nestsDeeperThan(bytes(`{"a":"\\"${'{'.repeat(100)}"}`), 2)).to.equal(false);
    expect(nestsDeeperThan(bytes(`{"a":"\\\\",${'"b":{'.repeat(3)}}}}}`), 2)).to.equal(true);
  });

  it('reads multi-byte UTF-8 without mistaking its bytes for brackets', () => {
    expect(nestsDeeperThan(bytes('{"a":"[ÿ€😀["}'), 1)).to.equal(false);
  });
});

describe('readJson', () => {
  it('parses JSON within the limits', () => {
    expect(readJson(bytes('{"title":"héllo"}'))).to.deep.equal({ ok: true, value: { title: 'héllo' } });
  });

  it('refuses bytes that are not UTF-8 rather than reading them as U+FFFD', () => {
    for (const bad of [[0x80], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]) {
      const payload = Buffer.concat([bytes('{"title":"'), Buffer.from(bad), bytes('"}')]);
      expect(readJson(payload)).to.deep.include({ ok: false, code: 'invalid_utf8' });
    }
  });

  it('refuses nesting past MAX_JSON_DEPTH before parsing, and text that is not JSON', () => {
    expect(readJson(bytes(nested(50_000)))).to.deep.include({ ok: false, code: 'too_deep' });
    expect(readJson(bytes('{"title":'))).to.deep.include({ ok: false, code: 'invalid_json' });
    expect(jsonTextProblem(bytes('{}'))).to.equal(null);
  });
});
