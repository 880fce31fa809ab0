import { describe, expect, it } from 'vitest';
import {
  checkWebhookDestination,
  checkWebhookUrl,
  classifyAddress,
  type DestinationPolicy,
  type LookupAll,
} from '../domain/webhook-destination.js';

const production: DestinationPolicy = { requireHttps: true, allowPrivate: false };
const development: DestinationPolicy = { requireHttps: false, allowPrivate: false };
const devWithPrivate: DestinationPolicy = { requireHttps: false, allowPrivate: true };

const refusal = (url: string, policy = production) => {
  const result = checkWebhookUrl(url, policy);
  return result.ok ? undefined : result.reason;
};

describe('a portal webhook address', () => {
  it('is public only in global unicast space', () => {
    for (const address of ['8.8.8.8', '93.184.215.14', '2606:4700::1111', '2a00:1450:4001:81b::200e'])
      expect(classifyAddress(address)).toEqual({ public: true });
  });

  it('is refused in every private, loopback, link-local, unique-local, CGNAT, multicast, unspecified or reserved range', () => {
    const ranges: Record<string, string> = {
      '127.0.0.1': 'loopback',
      '127.8.9.10': 'loopback',
      '::1': 'loopback',
      '10.1.2.3': 'private',
      '172.16.0.1': 'private',
      '192.168.1.1': 'private',
      '169.254.1.1': 'linkLocal',
      'fe80::1': 'linkLocal',
      'fc00::1': 'uniqueLocal',
      'fd12:3456::1': 'uniqueLocal',
      '100.64.0.1': 'carrierGradeNat',
      '224.0.0.1': 'multicast',
      'ff02::1': 'multicast',
      '0.0.0.0': 'unspecified',
      '::': 'unspecified',
      '255.255.255.255': 'broadcast',
      '192.0.2.1': 'reserved',
      '240.0.0.1': 'reserved',
      '2001:db8::1': 'reserved',
    };
    for (const [address, range] of Object.entries(ranges))
      expect(classifyAddress(address), address).toEqual({ public: false, range, metadata: false });
  });

  it('carrying an IPv4 address inside IPv6 is judged as that IPv4 address, or refused when it only tunnels one', () => {
    expect(classifyAddress('::ffff:127.0.0.1')).toMatchObject({ public: false, range: 'loopback' });
    expect(classifyAddress('::ffff:7f00:1')).toMatchObject({ public: false, range: 'loopback' });
    expect(classifyAddress('::ffff:10.0.0.1')).toMatchObject({ public: false, range: 'private' });
    expect(classifyAddress('::ffff:8.8.8.8')).toEqual({ public: true });
    // NAT64, 6to4 and Teredo reach an IPv4 address through a gateway: not a place to send to.
    for (const tunnel of ['64:ff9b::a9fe:a9fe', '2002:7f00:1::1', '2001::1']) expect(classifyAddress(tunnel).public, tunnel).toBe(false);
    // The deprecated IPv4-compatible form (::a.b.c.d) too, whatever IPv4 address it names.
    for (const compatible of ['::7f00:1', '::127.0.0.1', '::a00:1']) expect(classifyAddress(compatible).public, compatible).toBe(false);
  });

  it('of a cloud metadata service is refused even where private addresses are allowed', () => {
    for (const address of ['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '100.100.100.200', '::ffff:169.254.169.254']) {
      expect(classifyAddress(address), address).toMatchObject({ public: false, metadata: true });
      expect(refusal(`http://[${address.includes(':') ? address : `::ffff:${address}`}]/`, devWithPrivate), address).toMatch(/metadata/);
    }
  });
});

describe('a portal webhook URL', () => {
  it('pointing at the cloud metadata address is refused, however it is spelled', () => {
    for (const url of [
      'https://169.254.169.254/latest/meta-data/',
      'https://2852039166/',
      'https://0xa9.0xfe.0xa9.0xfe/',
      'https://0251.0376.0251.0376/',
      'https://[::ffff:a9fe:a9fe]/',
      'https://[fd00:ec2::254]/',
    ]) {
      expect(refusal(url), url).toMatch(/metadata/);
    }
    for (const url of ['https://metadata.google.internal/computeMetadata/v1/', 'https://METADATA.google.internal./', 'https://metadata/'])
      expect(refusal(url, devWithPrivate), url).toMatch(/metadata host/);
  });

  it('pointing at loopback, private or unspecified addresses is refused in every spelling the URL parser accepts', () => {
    for (const url of [
      'https://127.0.0.1:5432/',
      'https://2130706433/',
      'https://0x7f.1/',
      'https://0177.0.0.1/',
      'https://127.1/',
      'https://[::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://10.0.0.1/',
      'https://192.168.0.10/',
      'https://0.0.0.0/',
      'https://0/',
      'https://[::]/',
      'https://100.64.1.1/',
    ]) {
      expect(refusal(url), url).toMatch(/not a public address/);
    }
  });

  it('naming a host that only exists locally is refused', () => {
    for (const url of [
      'https://localhost/',
      'https://LOCALHOST./',
      'https://api.localhost/',
      'https://printer.local/',
      'https://db.internal/',
      'https://postgres/',
    ])
      expect(refusal(url), url).toMatch(/local host name/);
  });

  it('with a user name or password is refused', () => {
    expect(refusal('https://user:pass@portal.example.com/hooks')).toMatch(/user name or password/);
    expect(refusal('https://user@portal.example.com/hooks')).toMatch(/user name or password/);
  });

  it('must be https in production; http is allowed in development', () => {
    expect(refusal('http://portal.example.com/hooks', production)).toMatch(/https/);
    expect(refusal('http://portal.example.com/hooks', development)).toBeUndefined();
    expect(refusal('ftp://portal.example.com/hooks', development)).toMatch(/http/);
  });

  it('may point at loopback and private addresses only under the explicit development setting', () => {
    expect(refusal('http://127.0.0.1:4000/hooks', devWithPrivate)).toBeUndefined();
    expect(refusal('http://localhost:4000/hooks', devWithPrivate)).toBeUndefined();
    expect(refusal('http://127.0.0.1:4000/hooks', development)).toMatch(/loopback/);
  });

  it('at a public address or name is accepted', () => {
    expect(refusal('https://93.184.215.14/hooks')).toBeUndefined();
    expect(refusal('https://portal.example.com/hooks')).toBeUndefined();
  });
});

describe('a portal webhook host name', () => {
  const dns =
    (answers: Record<string, string[]>): LookupAll =>
    async (hostname) => {
      const addresses = answers[hostname];
      if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };

  it('is refused when any address it resolves to is not public', async () => {
    const lookup = dns({
      'rebind.example.com': ['93.184.215.14', '127.0.0.1'],
      'meta.example.com': ['169.254.169.254'],
      'v6.example.com': ['::ffff:10.0.0.1'],
    });
    await expect(checkWebhookDestination('https://rebind.example.com/', production, lookup)).resolves.toMatchObject({
      ok: false,
      reason: expect.stringMatching(/rebind\.example\.com resolves to 127\.0\.0\.1/),
    });
    await expect(checkWebhookDestination('https://meta.example.com/', production, lookup)).resolves.toMatchObject({
      ok: false,
      reason: expect.stringMatching(/metadata/),
    });
    await expect(checkWebhookDestination('https://v6.example.com/', production, lookup)).resolves.toMatchObject({
      ok: false,
      reason: expect.stringMatching(/private/),
    });
  });

  it('is accepted when every address is public, and refused as unresolvable when DNS has no answer', async () => {
    const lookup = dns({ 'portal.example.com': ['93.184.215.14', '2606:4700::1111'] });
    await expect(checkWebhookDestination('https://portal.example.com/hooks', production, lookup)).resolves.toMatchObject({ ok: true });
    await expect(checkWebhookDestination('https://nowhere.example.com/hooks', production, lookup)).resolves.toMatchObject({
      ok: false,
      unresolvable: true,
      reason: expect.stringContaining('ENOTFOUND'),
    });
  });
});
