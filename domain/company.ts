import freeMailDomains from 'email-providers/all.json' with { type: 'json' };
import { getDomain } from 'tldts';

// Who a lead's colleagues are: the same company. The portal may say (a company id); otherwise
// the registrable domain of the lead's email (mail.acme.co.uk and sales.acme.co.uk are one
// company, acme.co.uk), except at a free-mail provider, where two addresses say nothing about
// each other.

const FREE_MAIL = new Set<string>(freeMailDomains);

/** `id:<companyId>`, else `domain:<registrable domain>`, or null (free mail, no email, no domain). */
export function companyKeyOf(lead: { email?: string | null; companyId?: string | null }): string | null {
  const companyId = lead.companyId?.trim();
  if (companyId) return `id:${companyId}`;
  const host = lead.email?.slice(lead.email.lastIndexOf('@') + 1).toLowerCase();
  if (!host || !lead.email?.includes('@')) return null;
  // Private suffixes count (github.io, herokuapp.com): one customer's site is not another's.
  const domain = getDomain(host, { allowPrivateDomains: true });
  if (!domain || FREE_MAIL.has(domain) || FREE_MAIL.has(host)) return null;
  return `domain:${domain}`;
}
