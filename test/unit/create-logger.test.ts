import { Writable } from 'node:stream';
import { expect } from 'chai';
import { createLogger } from '../../shared/logging/index.js';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, stream };
}

describe('createLogger', () => {
  it('never writes the bound values of a failed database statement', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });
    const err = Object.assign(new Error('Duplicate entry'), {
      query: 'INSERT INTO vapid_key VALUES (?, ?)',
      parameters: ['crm', 'PRIVATE-KEY-MATERIAL'],
      driverError: { code: 'ER_DUP_ENTRY', errno: 1062, sql: "INSERT ... 'PRIVATE-KEY-MATERIAL'" },
    });

    log.error({ err }, 'insert failed');

    const line = lines.join('');
    expect(line).to.contain('Duplicate entry').and.to.contain('ER_DUP_ENTRY');
    expect(line).to.not.contain('PRIVATE-KEY-MATERIAL');
  });

  it('redacts credentials and key material by field name', () => {
    const { lines, stream } = capture();
    const log = createLogger({ level: 'info', destination: stream });

    log.info({ password: 'hunter2', keys: { p256dh: 'BROWSER-KEY', auth: 'AUTH-SECRET' }, privateKey: 'PK' }, 'x');

    expect(lines.join('')).to.not.match(/hunter2|BROWSER-KEY|AUTH-SECRET|"PK"/);
  });

});
