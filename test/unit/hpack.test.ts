import { expect } from 'chai';
import { encodeRequest, encodeRequestPrefix, HpackDecoder, HpackError, huffmanDecode } from '../../services/push-worker/hpack.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

describe('HPACK', function () {
  describe('decoding', function () {
    it('decodes the RFC 7541 C.3 requests, with the dynamic table carried from one block to the next', function () {
      const decoder = new HpackDecoder();
      expect(decoder.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'))).to.deep.equal([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
      ]);
      // 0xbe: index 62, the entry the first block added.
      expect(decoder.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865'))).to.deep.equal([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
        ['cache-control', 'no-cache'],
      ]);
      expect(
        decoder.decode(hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65')),
      ).to.deep.equal([
        [':method', 'GET'],
        [':scheme', 'https'],
        [':path', '/index.html'],
        [':authority', 'www.example.com'],
        ['custom-key', 'custom-value'],
      ]);
    });

    it('decodes the RFC 7541 C.4 requests (Huffman-coded strings)', function () {
      const decoder = new HpackDecoder();
      expect(decoder.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))).to.deep.equal([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
      ]);
      expect(decoder.decode(hex('8286 84be 5886 a8eb 1064 9cbf'))).to.deep.equal([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
        ['cache-control', 'no-cache'],
      ]);
      expect(decoder.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'))).to.deep.equal([
        [':method', 'GET'],
        [':scheme', 'https'],
        [':path', '/index.html'],
        [':authority', 'www.example.com'],
        ['custom-key', 'custom-value'],
      ]);
    });

    it('evicts the oldest entries when the table is full, and honours a size update', function () {
      const decoder = new HpackDecoder(100);
      // Two entries of 32 + 2 + 10 = 44 octets fit in 100; the third evicts the first.
      const literal = (name: string, value: string) =>
        Buffer.concat([Buffer.from([0x40, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
      decoder.decode(Buffer.concat([literal('k1', 'aaaaaaaaaa'), literal('k2', 'bbbbbbbbbb'), literal('k3', 'cccccccccc')]));
      expect(decoder.decode(Buffer.from([0xbe, 0xbf]))).to.deep.equal([
        ['k3', 'cccccccccc'],
        ['k2', 'bbbbbbbbbb'],
      ]);
      expect(() => decoder.decode(Buffer.from([0xc0]))).to.throw(HpackError, /index 64/);
      // A size update to 0 empties the table.
      expect(() => decoder.decode(Buffer.from([0x20, 0xbe]))).to.throw(HpackError, /index 62/);
    });

    it('refuses blocks a conforming encoder never sends', function () {
      const cases: [string, Buffer][] = [
        ['index 0', Buffer.from([0x80])],
        ['an index beyond both tables', Buffer.from([0xff, 0x00])],
        ['a size update above what we allowed (4097)', hex('3fe2 1f')],
        ['a size update after a field', Buffer.from([0x82, 0x20])],
        ['a truncated string', Buffer.from([0x00, 0x05, 0x61])],
        ['a truncated integer', Buffer.from([0xff])],
        ['an integer too large', hex('ff ff ff ff ff 7f')],
        ['Huffman padding longer than 7 bits', hex('0081 6182 1fff')],
        ['Huffman padding that is not ones', hex('0081 6181 00')],
      ];
      for (const [what, block] of cases) {
        expect(() => new HpackDecoder().decode(block), what).to.throw(HpackError);
      }
    });

    it('refuses EOS inside a Huffman-coded string', function () {
      // EOS is thirty 1-bits; padded with two more.
      expect(() => huffmanDecode(hex('ffff ffff'), 0, 4)).to.throw(HpackError, /EOS/);
    });
  });

  describe('encoding a request', function () {
    it('encodes what the decoder reads back: pseudo-fields first, names lowercased, its own content-length', function () {
      const authorization = 'vapid t=' + 'j'.repeat(300) + ', k=' + 'k'.repeat(87);
      const block = Buffer.from(
        encodeRequest(
          encodeRequestPrefix('https', 'fcm.googleapis.com'),
          '/wpush/v2/' + 'x'.repeat(200),
          { 'Content-Encoding': 'aes128gcm', TTL: '2419200', authorization, topic: '', 'content-length': '999' },
          3993,
        ),
        'latin1',
      );
      expect(new HpackDecoder().decode(block)).to.deep.equal([
        [':method', 'POST'],
        [':scheme', 'https'],
        [':authority', 'fcm.googleapis.com'],
        [':path', '/wpush/v2/' + 'x'.repeat(200)],
        ['content-encoding', 'aes128gcm'],
        ['ttl', '2419200'],
        ['authorization', authorization],
        ['topic', ''],
        ['content-length', '3993'],
      ]);
      // `:method: POST` and `:scheme: https` indexed (0x83, 0x87); `ttl`, not in the static table, by a literal name.
      expect([...block.subarray(0, 2)]).to.deep.equal([0x83, 0x87]);
      expect(block.includes(Buffer.from([0x00, 0x03, 0x74, 0x74, 0x6c]))).to.equal(true);
    });
  });
});
