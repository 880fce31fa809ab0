/**
 * Rules for email coming back to us: which enrolment a reply belongs to, and whether it is a
 * person answering or a machine (out-of-office, auto-responders), which is not a reply.
 */

const addressOf = (value: string) => (/<([^>]+)>/.exec(value)?.[1] ?? value).trim().toLowerCase();

/** `r-<token>@INBOUND_DOMAIN` in any recipient: the reply address of one enrolment or one-off email. */
export function replyTokenFrom(recipients: string[], inboundDomain: string): string | null {
  const domain = inboundDomain.toLowerCase();
  for (const recipient of recipients) {
    const address = addressOf(recipient);
    const at = address.lastIndexOf('@');
    if (at < 0 || address.slice(at + 1) !== domain) continue;
    const local = address.slice(0, at);
    // Tokens are base64url; mail systems may lowercase the local part, so match case-insensitively.
    if (local.startsWith('r-') && local.length > 2) return local.slice(2);
  }
  return null;
}

/** The unsubscribe token in a `mailto:unsubscribe@…?subject=unsubscribe <token>` email. */
export function unsubscribeTokenFromMailto(recipients: string[], subject: string, inboundDomain: string): string | null {
  const isUnsubscribeAddress = recipients.some((r) => addressOf(r) === `unsubscribe@${inboundDomain.toLowerCase()}`);
  if (!isUnsubscribeAddress) return null;
  return /unsubscribe\s+([0-9a-f-]{36}\.[A-Za-z0-9_-]+)/i.exec(subject)?.[1] ?? null;
}

/** Our own message ids (`<uuid@INBOUND_DOMAIN>`) named in In-Reply-To or References. */
export function referencedMessageIds(headers: Record<string, string | undefined>, inboundDomain: string): string[] {
  const header = (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1] ?? '';
  const ids = `${header('in-reply-to')} ${header('references')}`.match(/<[^>]+>/g) ?? [];
  const suffix = `@${inboundDomain.toLowerCase()}>`;
  return ids
    .map((id) => id.toLowerCase())
    .filter((id) => id.endsWith(suffix))
    .map((id) => id.slice(1, -suffix.length))
    .filter((id) => /^[0-9a-f-]{36}$/.test(id));
}

/**
 * Auto-replies (RFC 3834 `Auto-Submitted`, Microsoft's and others' headers, precedence) and the
 * usual out-of-office subjects are recorded but do not count as replies.
 */
export function isAutoReply(headers: Record<string, string | undefined>, subject: string): boolean {
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), (v ?? '').toLowerCase().trim()]));
  if (h['auto-submitted'] && h['auto-submitted'] !== 'no') return true;
  if ('x-autoreply' in h || 'x-autorespond' in h || 'x-autoresponder' in h) return true;
  if (h['x-auto-response-suppress'] && /all|oof|autoreply/.test(h['x-auto-response-suppress'])) return true;
  if (['auto_reply', 'bulk', 'junk', 'list'].includes(h['precedence'] ?? '')) return true;
  return /^(auto(matic)?[ -]?reply|out of (the )?office|abwesenheitsnotiz|réponse automatique|autosvar|away from (my|the) (desk|office))/i.test(subject.trim());
}
