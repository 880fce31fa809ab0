import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import ipaddr from 'ipaddr.js';
import type { Config } from '../config.js';

// Where the service may send a portal webhook. The URL is the tenant's, so it must not become a
// way into our own network (server-side request forgery): only public unicast addresses, no
// credentials in the URL, https in production, and never a cloud metadata endpoint. The address
// ranges come from ipaddr.js; this module only decides which of them are acceptable.
//
// The URL is checked when it is saved and again when each delivery connects (a name can resolve
// elsewhere by then); both use the rules here.

export interface DestinationPolicy {
  /** https only (production). */
  requireHttps: boolean;
  /** Development and tests: private, loopback and link-local addresses are allowed (never metadata). */
  allowPrivate: boolean;
}

export type DestinationCheck = { ok: true; url: URL; hostname: string } | { ok: false; reason: string };

/** Cloud instance metadata endpoints (AWS, GCP, Azure, Oracle, Alibaba, AWS ECS/EKS, AWS IPv6). */
const METADATA_ADDRESSES = ['169.254.169.254', '169.254.170.2', '169.254.170.23', '100.100.100.200', 'fd00:ec2::254', 'fd00:ec2::23'].map(
  (a) => ipaddr.parse(a).toNormalizedString(),
);
const METADATA_HOSTS = new Set([
  'metadata.google.internal',
  'metadata.goog',
  'metadata',
  'instance-data',
  'instance-data.ec2.internal',
  'metadata.tencentyun.com',
]);
/** Names that never leave the local network (RFC 6761 localhost, RFC 6762 .local, ICANN's .internal, home.arpa). */
const LOCAL_SUFFIXES = ['localhost', 'local', 'internal', 'home.arpa', 'localdomain'];

export type AddressVerdict = { public: true } | { public: false; range: string; metadata: boolean };

/**
 * Whether one IP address is a public destination. IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as
 * the IPv4 address it carries; every range other than global unicast (private, loopback,
 * link-local, unique-local, CGNAT, multicast, unspecified, broadcast, reserved, documentation,
 * NAT64/6to4/Teredo, which embed IPv4 addresses) is refused.
 */
export function classifyAddress(address: string): AddressVerdict {
  if (!ipaddr.isValid(address)) return { public: false, range: 'invalid', metadata: false };
  const parsed = ipaddr.process(address);
  const metadata = METADATA_ADDRESSES.includes(parsed.toNormalizedString());
  // IPv4-compatible IPv6 (::a.b.c.d, deprecated by RFC 4291) is "unicast" to ipaddr.js but names
  // an IPv4 address (::7f00:1 is 127.0.0.1 on stacks that still route it).
  const ownRange = parsed.range();
  const range =
    ownRange === 'unicast' && parsed.kind() === 'ipv6' && parsed.match(ipaddr.IPv6.parse('::'), 96) ? 'ipv4Compatible' : ownRange;
  return range === 'unicast' && !metadata ? { public: true } : { public: false, range: metadata ? 'metadata' : range, metadata };
}

/** Whether an address is acceptable under a policy; a reason when it is not. */
export function addressProblem(address: string, policy: Pick<DestinationPolicy, 'allowPrivate'>): string | undefined {
  const verdict = classifyAddress(address);
  if (verdict.public) return undefined;
  if (verdict.metadata) return `${address} is a cloud metadata address`;
  if (policy.allowPrivate && verdict.range !== 'invalid') return undefined;
  return `${address} is not a public address (${verdict.range})`;
}

/**
 * The rules that need no DNS: scheme, credentials, metadata and local names, IP literals. The
 * WHATWG URL parser has already turned decimal, octal and hex IPv4 spellings (2130706433,
 * 0x7f.1, 0177.0.0.1) into dotted quads and IPv6 into its compressed form.
 */
export function checkWebhookUrl(raw: string, policy: DestinationPolicy): DestinationCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'is not a valid URL' };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && !policy.requireHttps)) {
    return { ok: false, reason: policy.requireHttps ? 'must be an https:// URL' : 'must be an http:// or https:// URL' };
  }
  if (url.username || url.password) return { ok: false, reason: 'must not contain a user name or password' };
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (!hostname) return { ok: false, reason: 'has no host' };
  if (isIP(hostname)) {
    const problem = addressProblem(hostname, policy);
    return problem ? { ok: false, reason: `must not point at ${problem}` } : { ok: true, url, hostname };
  }
  const name = hostname.toLowerCase().replace(/\.$/, '');
  if (METADATA_HOSTS.has(name)) return { ok: false, reason: `must not point at ${name}, a cloud metadata host` };
  if (!policy.allowPrivate && (!name.includes('.') || LOCAL_SUFFIXES.some((s) => name === s || name.endsWith(`.${s}`)))) {
    return { ok: false, reason: `must not point at ${name}, a local host name` };
  }
  return { ok: true, url, hostname };
}

/**
 * The addresses a name resolved to, judged together: one private address among public ones is
 * enough to refuse (the connection could go to any of them).
 */
export function resolvedAddressesProblem(
  hostname: string,
  addresses: string[],
  policy: Pick<DestinationPolicy, 'allowPrivate'>,
): string | undefined {
  if (addresses.length === 0) return `${hostname} resolves to no address`;
  for (const address of addresses) {
    const problem = addressProblem(address, policy);
    if (problem) return `${hostname} resolves to ${problem}`;
  }
  return undefined;
}

/** What DNS gives for a name: every address (dns.promises.lookup with all: true, or a test's fake). */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

export type DestinationVerdict = { ok: true; url: URL } | { ok: false; reason: string; unresolvable?: boolean };

/** The URL rules, then every address its host resolves to (a literal IP needs no DNS). */
export async function checkWebhookDestination(raw: string, policy: DestinationPolicy, lookupAll: LookupAll): Promise<DestinationVerdict> {
  const checked = checkWebhookUrl(raw, policy);
  if (!checked.ok) return checked;
  if (isIP(checked.hostname)) return { ok: true, url: checked.url };
  let addresses: string[];
  try {
    addresses = (await lookupAll(checked.hostname)).map((a) => a.address);
  } catch (error) {
    return {
      ok: false,
      unresolvable: true,
      reason: `host ${checked.hostname} could not be resolved (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
    };
  }
  const problem = resolvedAddressesProblem(checked.hostname, addresses, policy);
  return problem ? { ok: false, reason: `must not point at ${problem}` } : { ok: true, url: checked.url };
}

/** The destination rules of this deployment: https only in production, private addresses only when allowed. */
export function webhookDestinationPolicy(config: Pick<Config, 'NODE_ENV' | 'PORTAL_WEBHOOK_ALLOW_PRIVATE'>): DestinationPolicy {
  return { requireHttps: config.NODE_ENV === 'production', allowPrivate: config.PORTAL_WEBHOOK_ALLOW_PRIVATE };
}

/**
 * Every address of a name, or an error after DNS_DEADLINE_MS: a tenant's name under a nameserver
 * that never answers must not keep a request (or a delivery) waiting for the resolver's timeouts.
 */
const DNS_DEADLINE_MS = 5_000;
export const lookupAll: LookupAll = (hostname) =>
  Promise.race([
    dnsLookup(hostname, { all: true, verbatim: true }),
    sleep(DNS_DEADLINE_MS, undefined, { ref: false }).then(() => {
      throw Object.assign(new Error(`${hostname} did not resolve within ${DNS_DEADLINE_MS / 1000} s`), { code: 'ETIMEOUT' });
    }),
  ]);
