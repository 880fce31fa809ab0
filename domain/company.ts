import freeMailDomains from 'email-providers/all.json' with { type: 'json' };
import { getDomain } from 'tldts';

// Who a lead's colleagues are: the same company. The portal may say (a company id); otherwise
// the registrable domain of the lead's email (mail.acme.co.uk and sales.acme.co.uk are one
// company, acme.co.uk), except at a free-mail provider, where two addresses say nothing about
// each other; at a shared mail host (Microsoft 365's onmicrosoft.com, hosted help desks) each
// tenant's host is a company of its own.

const FREE_MAIL = new Set<string>(freeMailDomains);

/**
 * Shared mail hosts that give every customer a subdomain of its own: the public-suffix list does
 * not know them, so tldts reads `contoso.onmicrosoft.com` and `fabrikam.onmicrosoft.com` as one
 * registrable domain, `onmicrosoft.com`, and every lead there would be one company (one reply
 * stopping them all, anyone at any tenant a colleague). Here each tenant is its own: the label
 * below the shared host and that host. Only hosts whose subdomains are each one customer's, and
 * whose addresses people write from; the longest listed suffix wins.
 */
const TENANT_HOSTS = [
  // Microsoft 365: every tenant's initial domain is <tenant>.onmicrosoft.com, and many small
  // companies mail from it; <tenant>.mail.onmicrosoft.com is the tenant's hybrid routing domain.
  'mail.onmicrosoft.com',
  'onmicrosoft.com',
  // Microsoft 365 operated by 21Vianet (China): <tenant>.partner.onmschina.cn.
  'partner.onmschina.cn',
  // Hosted help desks: each customer's support address is at its own subdomain
  // (support@<customer>.zendesk.com …), and a reply from a ticket lands on the reply address.
  'zendesk.com', // Zendesk
  'freshdesk.com', // Freshdesk
  'freshservice.com', // Freshservice (Freshworks' IT service desk)
  'zohodesk.com', // Zoho Desk
  'kayako.com', // Kayako
  'atlassian.net', // Jira Service Management: a site's support address is at <site>.atlassian.net
].sort((a, b) => b.length - a.length);

/** The host of an address or a bare domain: after the last `@`, lowercased, without a trailing dot. */
const hostOf = (addressOrDomain: string): string =>
  addressOrDomain
    .slice(addressOrDomain.lastIndexOf('@') + 1)
    .trim()
    .toLowerCase()
    .replace(/\.+$/, '');

/**
 * The registrable domain of an address or a bare domain (`user@mail.acme.co.uk` → `acme.co.uk`):
 * by the public-suffix list, private suffixes included (two github.io sites are two), and one
 * tenant's host at a shared mail host (`ann@eu.contoso.onmicrosoft.com` → `contoso.onmicrosoft.com`;
 * the shared host itself has none). The one rule of who is at a company (companyKeyOf) and of
 * which domains align (senderAuthenticated, domain/inbound.ts). Null for no domain.
 */
export function registrableDomain(addressOrDomain: string): string | null {
  const host = hostOf(addressOrDomain);
  if (!host) return null;
  const shared = TENANT_HOSTS.find((suffix) => host === suffix || host.endsWith(`.${suffix}`));
  if (shared) {
    if (host === shared) return null;
    const labels = host.slice(0, -shared.length - 1).split('.');
    const tenant = labels.at(-1);
    return tenant ? `${tenant}.${shared}` : null;
  }
  return getDomain(host, { allowPrivateDomains: true });
}

/** `id:<companyId>`, else `domain:<registrable domain>`, or null (free mail, no email, no domain). */
export function companyKeyOf(lead: { email?: string | null; companyId?: string | null }): string | null {
  const companyId = lead.companyId?.trim();
  if (companyId) return `id:${companyId}`;
  if (!lead.email?.includes('@')) return null;
  const host = hostOf(lead.email);
  // Private suffixes count (github.io, herokuapp.com): one customer's site is not another's; so
  // do tenants of a shared mail host (TENANT_HOSTS).
  const domain = registrableDomain(host);
  if (!domain || FREE_MAIL.has(domain) || FREE_MAIL.has(host)) return null;
  return `domain:${domain}`;
}

/**
 * Whose inbox an email lands in, for a cap per recipient domain: `domain:<registrable domain>`,
 * except at a free-mail provider, where every address is its own (`address:<it>`): a thousand
 * Gmail users are a thousand people, not one company's server.
 */
export function recipientKeyOf(email: string): string {
  const host = hostOf(email);
  const domain = registrableDomain(host);
  if (!domain || FREE_MAIL.has(domain) || FREE_MAIL.has(host)) return `address:${email.trim().toLowerCase()}`;
  return `domain:${domain}`;
}
