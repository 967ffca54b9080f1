import { expect } from 'chai';
import { isLoopbackAddress, isPublicAddress } from '../../shared/push-endpoints/index.js';

describe('isPublicAddress', () => {
  const notPublic: Array<[string, string]> = [
    ['0.0.0.0', 'unspecified (0.0.0.0/8)'],
    ['0.1.2.3', '"this network" (0.0.0.0/8)'],
    ['10.0.0.1', 'private (10/8)'],
    ['10.255.255.255', 'private (10/8), last address'],
    ['100.64.0.1', 'CGNAT (100.64/10)'],
    ['100.127.255.254', 'CGNAT (100.64/10), upper end'],
    ['127.0.0.1', 'loopback (127/8)'],
    ['127.255.255.254', 'loopback (127/8), upper end'],
    ['169.254.169.254', 'link-local, cloud metadata (169.254/16)'],
    ['172.16.0.1', 'private (172.16/12)'],
    ['172.31.255.255', 'private (172.16/12), upper end'],
    ['192.0.0.8', 'IETF protocol assignments (192.0.0/24)'],
    ['192.0.2.1', 'TEST-NET-1 (192.0.2/24)'],
    ['192.88.99.1', '6to4 relay anycast (192.88.99/24)'],
    ['192.168.1.1', 'private (192.168/16)'],
    ['198.18.0.1', 'benchmarking (198.18/15)'],
    ['198.19.255.255', 'benchmarking (198.18/15), upper end'],
    ['198.51.100.7', 'TEST-NET-2 (198.51.100/24)'],
    ['203.0.113.9', 'TEST-NET-3 (203.0.113/24)'],
    ['224.0.0.1', 'multicast (224/4)'],
    ['239.255.255.250', 'multicast (224/4), SSDP'],
    ['240.0.0.1', 'reserved (240/4)'],
    ['255.255.255.255', 'limited broadcast'],
    ['::', 'IPv6 unspecified (::/128)'],
    ['::1', 'IPv6 loopback (::1/128)'],
    ['::a00:1', 'IPv4-compatible, deprecated (::/96)'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback in hex'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata address'],
    ['::ffff:0.0.0.0', 'IPv4-mapped unspecified'],
    ['64:ff9b::a00:1', 'NAT64 of 10.0.0.1'],
    ['64:ff9b::127.0.0.1', 'NAT64 of 127.0.0.1, dotted'],
    ['64:ff9b:1::808:808', 'local-use NAT64 (64:ff9b:1::/48)'],
    ['100::1', 'discard-only (100::/64)'],
    ['2001:db8::1', 'documentation (2001:db8::/32)'],
    ['2002:a00:1::', '6to4 of 10.0.0.1'],
    ['2002:7f00:1::1', '6to4 of 127.0.0.1'],
    ['fc00::1', 'unique local (fc00::/7)'],
    ['fd12:3456:789a::1', 'unique local (fc00::/7), fd half'],
    ['fe80::1', 'link-local (fe80::/10)'],
    ['febf::1', 'link-local (fe80::/10), upper end'],
    ['fec0::1', 'site-local (fec0::/10)'],
    ['ff02::1', 'multicast (ff00::/8)'],
    ['fe80::1%eth0', 'link-local with a zone'],
    ['2001:4860:4860::8888%eth0', 'a global address with a zone'],
  ];
  for (const [ip, what] of notPublic) {
    it(`refuses ${ip}: ${what}`, () => {
      expect(isPublicAddress(ip)).to.equal(false);
    });
  }

  const publicAddresses: Array<[string, string]> = [
    ['8.8.8.8', 'Google DNS'],
    ['142.250.185.74', 'an FCM address'],
    ['1.1.1.1', 'Cloudflare DNS'],
    ['100.63.255.255', 'just below CGNAT'],
    ['100.128.0.1', 'just above CGNAT'],
    ['172.15.255.255', 'just below 172.16/12'],
    ['172.32.0.1', 'just above 172.16/12'],
    ['192.0.1.1', 'between 192.0.0/24 and 192.0.2/24'],
    ['198.20.0.1', 'just above 198.18/15'],
    ['223.255.255.254', 'just below multicast'],
    ['::ffff:8.8.8.8', 'IPv4-mapped public'],
    ['::ffff:808:808', 'IPv4-mapped public in hex'],
    ['64:ff9b::808:808', 'NAT64 of 8.8.8.8'],
    ['2002:808:808::1', '6to4 of 8.8.8.8'],
    ['2001:4860:4860::8888', 'Google DNS over IPv6'],
    ['2a00:1450:4001:82b::200a', 'an FCM address over IPv6'],
    ['2606:4700:4700::1111', 'Cloudflare DNS over IPv6'],
  ];
  for (const [ip, what] of publicAddresses) {
    it(`accepts ${ip}: ${what}`, () => {
      expect(isPublicAddress(ip)).to.equal(true);
    });
  }

  const invalid = [
    '',
    'localhost',
    'fcm.googleapis.com',
    '2130706433',
    '0x7f.0.0.1',
    '0177.0.0.1',
    '127.1',
    '256.1.1.1',
    '1.2.3.4.5',
    ' 8.8.8.8',
    '8.8.8.8 ',
    '[::1]',
    '[2001:4860:4860::8888]',
    '1::2::3',
    'gggg::1',
    '8.8.8.8/32',
  ];
  for (const text of invalid) {
    it(`refuses ${JSON.stringify(text)}, which is not an IP address`, () => {
      expect(isPublicAddress(text)).to.equal(false);
    });
  }
});

describe('isLoopbackAddress', () => {
  it('recognises 127/8, ::1 and IPv4-mapped loopback', () => {
    for (const ip of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) {
      expect(isLoopbackAddress(ip), ip).to.equal(true);
    }
  });

  it('does not count other non-public addresses or names as loopback', () => {
    for (const ip of ['10.0.0.1', '0.0.0.0', '::', 'fe80::1', '::ffff:10.0.0.1', 'localhost', '8.8.8.8']) {
      expect(isLoopbackAddress(ip), ip).to.equal(false);
    }
  });
});
