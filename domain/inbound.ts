import { parseAddressHeader } from 'mailparser';
import { companyKeyOf, registrableDomain } from './company.js';

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

/** A UUID as PostgreSQL's uuid type reads one: anything else, compared with a uuid column, is an error, not "no row". */
export const isUuid = (value: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** Every Message-ID an email's In-Reply-To and References name, as written (`<…>`), In-Reply-To first. */
export function referencedIds(headers: Record<string, string | undefined>): string[] {
  const header = (name: string) => Object.entries(headers).find(([k]) => k.toLowerCase() === name)?.[1] ?? '';
  return (`${header('in-reply-to')} ${header('references')}`.match(/<[^<>\s]{1,400}>/g) ?? []) as string[];
}

/** Our own message ids (`<uuid@INBOUND_DOMAIN>`) named in In-Reply-To or References. */
export function referencedMessageIds(headers: Record<string, string | undefined>, inboundDomain: string): string[] {
  const ids = referencedIds(headers);
  const suffix = `@${inboundDomain.toLowerCase()}>`;
  return ids
    .map((id) => id.toLowerCase())
    .filter((id) => id.endsWith(suffix))
    .map((id) => id.slice(1, -suffix.length))
    .filter(isUuid);
}

/**
 * The keyword of an RFC 3834 `Auto-Submitted` value, without its comments and parameters
 * (`no; x=y (why)` is `no`); an empty value is taken as `no`, as no header at all is.
 */
function autoSubmittedKeyword(value: string): string {
  let keyword = '';
  let comment = 0;
  let escaped = false;
  for (const ch of value) {
    if (escaped) escaped = false;
    else if (comment && ch === '\\') escaped = true;
    else if (ch === '(') comment++;
    else if (comment && ch === ')') comment--;
    else if (comment) continue;
    else if (ch === ';') break;
    else keyword += ch;
  }
  return keyword.trim().toLowerCase() || 'no';
}

/** What told an email apart as automatic: a header (`name: value`, value cut) or the subject's opening words. */
export interface AutoReplySignal {
  kind: 'header' | 'subject';
  matched: string;
}

const headerSignal = (name: string, value: string): AutoReplySignal => ({
  kind: 'header',
  // By code points, so no half of a surrogate pair is left (jsonb refuses it).
  matched: `${name}: ${[...value].slice(0, 60).join('')}`.trim(),
});

/**
 * Auto-replies (RFC 3834 `Auto-Submitted`, Microsoft's and others' headers, precedence) and the
 * usual out-of-office subjects are recorded but do not count as replies. Answers the first rule
 * that told, so that a classification can say why (domain/reply-classification.ts), or null.
 */
export function autoReplySignal(headers: Record<string, string | undefined>, subject: string): AutoReplySignal | null {
  const h = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), (v ?? '').toLowerCase().trim()]));
  if (autoSubmittedKeyword(h['auto-submitted'] ?? '') !== 'no') return headerSignal('auto-submitted', h['auto-submitted'] ?? '');
  for (const name of ['x-autoreply', 'x-autorespond', 'x-autoresponder'])
    if (Object.hasOwn(h, name)) return headerSignal(name, h[name] ?? '');
  const suppress = h['x-auto-response-suppress'];
  if (suppress && /all|oof|autoreply/.test(suppress)) return headerSignal('x-auto-response-suppress', suppress);
  const precedence = h['precedence'] ?? '';
  if (['auto_reply', 'bulk', 'junk', 'list'].includes(precedence)) return headerSignal('precedence', precedence);
  const opening =
    /^(auto(matic)?[ -]?reply|out of (the )?office|abwesenheitsnotiz|réponse automatique|autosvar|away from (my|the) (desk|office))/i.exec(
      subject.trim(),
    );
  return opening ? { kind: 'subject', matched: opening[0] } : null;
}

// ---------------------------------------------------------------------------------------------
// What a stranger's email may hold, made storable. Inbound mail is written by anyone: every field
// we keep goes through these before it reaches PostgreSQL, a notification or a forwarded email.

/** The most we keep of each field (characters, after cleaning). */
export const INBOUND_LIMITS = {
  text: 50_000,
  subject: 998, // RFC 5322's line length: a longer subject is no real one
  address: 320, // RFC 3696: 64 + @ + 255
  providerId: 500, // a Message-ID; it is indexed, and btree rows stop at ~2.7 KB
  recipients: 100,
  /** Header fields kept, and the size of each, for the rules that read them (auto-reply, references). */
  headerCount: 100,
  headerValue: 8_192,
  headerName: 100,
  /** The top-level header block handed to the MIME parser. */
  headBytes: 64 * 1024,
} as const;

// NUL cannot be stored in PostgreSQL text or jsonb; an unpaired UTF-16 surrogate is no character
// (jsonb refuses it, text would turn it into U+FFFD); the other C0 controls (but TAB, LF, CR) and
// DEL are never meant in mail text and confuse whatever displays them.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this removes
const UNSTORABLE_TEXT = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]|\p{Cs}/gu;
// In a one-line field (subject, header value, address) every line break and control character
// goes, C1 controls and Unicode's line/paragraph separators included.
// eslint-disable-next-line no-control-regex -- control characters are exactly what this removes
const NOT_ONE_LINE = /[\u0000-\u001F\u007F-\u009F\u2028\u2029]|\p{Cs}/gu;

/**
 * Multi-line text (a reply's body) as PostgreSQL can store it and a person can read it: at most
 * `max` characters, without NUL, unpaired surrogates or control characters other than TAB/LF/CR.
 * Cut first, then cleaned, so a cut through a surrogate pair leaves no half behind.
 */
export function storableText(value: unknown, max: number): string {
  if (typeof value !== 'string') return '';
  return value.slice(0, max).replace(UNSTORABLE_TEXT, '');
}

/** A one-line field (subject, header value): no line breaks or controls (each becomes a space), trimmed, at most `max`. */
export function storableLine(value: unknown, max: number): string {
  if (typeof value !== 'string') return '';
  // Cut generously first so a hostile megabyte is not scanned whole, then clean, then cut exactly.
  return value
    .slice(0, max * 2)
    .replace(NOT_ONE_LINE, ' ')
    .replace(/ {2,}/g, ' ')
    .trim()
    .slice(0, max)
    .replace(/\p{Cs}/gu, '');
}

/** The most of a From field read at all: a longer one is no sender's (and is not parsed). */
const FROM_FIELD_MAX = 4 * INBOUND_LIMITS.address;

/**
 * Whether a From field is one plain mailbox: quoted strings and comments (nested, with
 * backslash escapes) all closed; at most one angle-addr outside them, followed by nothing but
 * comments and white space; without one, a single word (the addr-spec) outside comments. Two
 * angle-addrs in one mailbox, or an address after another one, are not something two readers
 * agree on (which one would a receiving server have checked?), so such a field names nobody.
 * One pass, no regular expression: linear in the (bounded) length.
 */
function isOneMailbox(field: string): boolean {
  let quoted = false;
  let comment = 0;
  let escaped = false;
  let angles = 0;
  let inAngle = false;
  let words = 0;
  let inWord = false;
  let afterAngle = false;
  for (const ch of field) {
    if (escaped) {
      escaped = false;
      continue;
    }
    if (quoted) {
      if (ch === '\\') escaped = true;
      else if (ch === '"') quoted = false;
      continue;
    }
    if (comment) {
      if (ch === '\\') escaped = true;
      else if (ch === '(') comment++;
      else if (ch === ')') comment--;
      continue;
    }
    if (ch === '(') {
      comment = 1;
      inWord = false;
      continue;
    }
    if (inAngle) {
      if (ch === '"') quoted = true;
      else if (ch === '>') inAngle = false;
      continue;
    }
    if (ch === ' ' || ch === '\t') {
      inWord = false;
      continue;
    }
    if (afterAngle) return false; // text after the angle-addr
    if (ch === '<') {
      if (++angles > 1) return false;
      inAngle = true;
      afterAngle = true;
      continue;
    }
    if (ch === '>') return false;
    if (ch === '"') quoted = true;
    if (!inWord) words++;
    inWord = true;
  }
  if (quoted || comment || inAngle || escaped) return false;
  return angles === 1 || words === 1;
}

/**
 * The bare address of the one mailbox in a From field (`Name <a@b>`, `"Name" <a@b>`, `a@b (Name)`
 * or `a@b`), lowercased and bounded; '' when there is none, or more than one, or the field is
 * longer than FROM_FIELD_MAX or not plain (see isOneMailbox). A display name is never read for an
 * address, however it is quoted or encoded: `"Ann <ann@acme.test>" <mallory@evil.test>` is
 * mallory's. Parsed by mailparser's address parser (RFC 5322 quoting, comments, groups, RFC 2047
 * encoded words, which may not stand for an address).
 */
export function senderAddress(value: unknown): string {
  const line = storableLine(value, FROM_FIELD_MAX + 1);
  if (!line || line.length > FROM_FIELD_MAX || !isOneMailbox(line)) return '';
  const mailboxes = parseAddressHeader(line, { flatten: true, decodePunycode: false }).value;
  if (mailboxes.length !== 1) return '';
  const address = (mailboxes[0]?.address ?? '').trim().toLowerCase();
  return address.length <= INBOUND_LIMITS.address ? address : '';
}

/**
 * JSON as jsonb can take it: strings (and keys) cleaned of what PostgreSQL refuses, nesting cut
 * at `maxDepth` (deeper values become null). Used for provider payloads we keep as received.
 */
export function storableJson(value: unknown, maxDepth = 32): unknown {
  if (typeof value === 'string') return value.replace(UNSTORABLE_TEXT, '');
  if (value === null || typeof value !== 'object') return value;
  if (maxDepth <= 0) return null;
  if (Array.isArray(value)) return value.map((item) => storableJson(item, maxDepth - 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key.replace(UNSTORABLE_TEXT, ''), storableJson(item, maxDepth - 1)]),
  );
}

/**
 * The headers the rules read, bounded: the first `headerCount` fields, names lowercased, values
 * on one line and at most `headerValue` characters; a repeated name keeps its first value, and
 * a list of values is joined. No header is stored: they decide auto-reply, which of our emails is
 * answered and whether the sender is authenticated.
 *
 * Authentication-Results is the exception, as only its topmost field may be believed (see
 * senderAuthenticated) and a joined list of them reads as one header that says anything: a list
 * keeps its first value (the topmost, in the order mailparser and providers give), and the name
 * met twice in a record (`Authentication-Results` and `authentication-results` as two keys, whose
 * order says nothing of the message's) keeps nothing, so that no header is believed; in a list
 * of fields, which is in the message's order, the first stays.
 */
const TOPMOST_ONLY = 'authentication-results';

export function boundedHeaders(headers: unknown): Record<string, string> {
  const entries: [string, unknown][] = Array.isArray(headers)
    ? headers.map((h) => [
        String((h as { key?: unknown; name?: unknown })?.key ?? (h as { name?: unknown })?.name ?? ''),
        (h as { value?: unknown })?.value,
      ])
    : headers && typeof headers === 'object'
      ? Object.entries(headers)
      : [];
  const kept: Record<string, string> = {};
  let count = 0;
  for (const [rawName, rawValue] of entries) {
    if (count >= INBOUND_LIMITS.headerCount) break;
    const name = storableLine(rawName, INBOUND_LIMITS.headerName).toLowerCase();
    // Two keys for it in a record: which was on top is unknown (a list of fields is in order).
    if (name === TOPMOST_ONLY && Object.hasOwn(kept, name) && !Array.isArray(headers)) kept[name] = '';
    // Own keys only: `in` would see Object.prototype and drop `constructor` or `toString`.
    if (!name || Object.hasOwn(kept, name) || name === '__proto__') continue;
    const value = Array.isArray(rawValue)
      ? name === TOPMOST_ONLY
        ? String(rawValue[0] ?? '')
        : rawValue.slice(0, 20).map(String).join(' ')
      : typeof rawValue === 'string'
        ? rawValue
        : String(rawValue ?? '');
    kept[name] = storableLine(value, INBOUND_LIMITS.headerValue);
    count++;
  }
  return kept;
}

/** Recipients as strings, at most `recipients` of them, each a bounded line. */
export function boundedRecipients(values: unknown[]): string[] {
  return values
    .filter((v): v is string => typeof v === 'string')
    .slice(0, INBOUND_LIMITS.recipients)
    .map((v) => storableLine(v, 4 * INBOUND_LIMITS.address));
}

// The header fields the parser needs whatever else is dropped: addresses, subject, ids, MIME
// structure, and those the auto-reply rule reads.
const ESSENTIAL_HEADERS = new Set([
  'from',
  'to',
  'cc',
  'subject',
  'message-id',
  'in-reply-to',
  'references',
  'date',
  'reply-to',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'auto-submitted',
  'x-autoreply',
  'x-autorespond',
  'x-autoresponder',
  'x-auto-response-suppress',
  'precedence',
  // Those that say a message is a delivery notice (domain/reply-classification.ts).
  'x-failed-recipients',
  'x-ms-exchange-message-is-ndr',
  // Whether the sender is who the From says: the receiving server's topmost one is the one read,
  // and it stays first among them, whatever a sender adds below it.
  'authentication-results',
]);

/**
 * Bounds the top-level header block of a raw MIME message before it is parsed: each field at
 * most `headerValue` bytes (cut), at most `headerCount` fields (the essential ones first, in
 * their order, then the others as they come) and `headBytes` in all. The body is left as it is.
 * A message without a blank line is all header. Answers the message to parse and how many
 * fields were dropped or cut. `headOnly`: the header block alone, without its Content-* fields
 * (what is left to read of a message whose body the parser refused).
 */
/** How much of a header block is read at all (4 × what is kept of it). */
export const MIME_HEAD_SCAN_BYTES = 4 * INBOUND_LIMITS.headBytes;

export function boundMimeHead(raw: Buffer, options: { headOnly?: boolean } = {}): { message: Buffer; dropped: number; cut: number } {
  const crlf = raw.indexOf('\r\n\r\n');
  const lf = raw.indexOf('\n\n');
  // Where the header block ends and the body starts: the first blank line, however it is written.
  const [headEnd, bodyStart] = crlf >= 0 && (lf < 0 || crlf < lf) ? [crlf, crlf + 4] : lf >= 0 ? [lf, lf + 2] : [raw.length, raw.length];
  // latin1: one character per byte, so lengths below are bytes and nothing is decoded here.
  // Only the first MIME_HEAD_SCAN_BYTES of the header block are read at all: a message of 25 MB
  // of header lines would otherwise be split, measured and sorted whole on the request thread
  // (seconds of it: bench/README.md, "Figures behind the code"); whatever lies past that is dropped, as no real mail system writes such a head.
  const scanned = raw.subarray(0, Math.min(headEnd, MIME_HEAD_SCAN_BYTES)).toString('latin1');
  const fields: string[] = [];
  for (const line of scanned.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && fields.length) fields[fields.length - 1] += `\r\n${line}`;
    else if (line.includes(':')) fields.push(line);
  }
  let cut = 0;
  const bounded = fields.map((field) => {
    if (field.length <= INBOUND_LIMITS.headerValue) return field;
    cut++;
    return field.slice(0, INBOUND_LIMITS.headerValue).replace(/\r?\n?$/, '');
  });
  // One pass each: the fields we need first, in their order, then the others, within the budget.
  const isEssential = (field: string) => ESSENTIAL_HEADERS.has(field.slice(0, field.indexOf(':')).trim().toLowerCase());
  const kept = new Set<number>();
  let bytes = 0;
  for (const essential of [true, false]) {
    for (const [i, field] of bounded.entries()) {
      if (kept.size >= INBOUND_LIMITS.headerCount) break;
      if (isEssential(field) !== essential || bytes + field.length + 2 > INBOUND_LIMITS.headBytes) continue;
      kept.add(i);
      bytes += field.length + 2;
    }
  }
  const unread = headEnd > MIME_HEAD_SCAN_BYTES ? 1 : 0;
  const dropped = fields.length - kept.size + unread;
  // Nothing dropped or cut: the message is parsed as it came.
  if (!dropped && !cut && !options.headOnly) return { message: raw, dropped, cut };
  const keptFields = bounded.filter((field, i) => kept.has(i) && !(options.headOnly && /^content-/i.test(field)));
  const head = Buffer.from(`${keptFields.join('\r\n')}\r\n\r\n`, 'latin1');
  return { message: options.headOnly ? head : Buffer.concat([head, raw.subarray(bodyStart)]), dropped, cut };
}

// ---------------------------------------------------------------------------------------------
// Who wrote: the From address compared with the lead's.

export type InboundSender = 'lead' | 'lead_domain' | 'other';

/**
 * `lead` when the From address is the lead's own (case-insensitively); `lead_domain` when it is
 * at the lead's company by its address, by the one rule of domain/company.ts (the same
 * registrable domain, `eu.acme.test` and `acme.test` alike; never a free-mail provider's, by the
 * email-providers list; at a shared mail host, the same tenant: `contoso.onmicrosoft.com`, not
 * every onmicrosoft.com address); `other` for anyone else, a lead without an address or a From
 * that is no address. The lead's company id is not read here: only addresses are compared.
 */
export function senderRelation(from: string, leadEmail: string | null | undefined): InboundSender {
  const writer = senderAddress(from);
  const lead = senderAddress(leadEmail ?? '');
  if (!writer || !lead || !writer.includes('@')) return 'other';
  if (writer === lead) return 'lead';
  const company = companyKeyOf({ email: writer });
  if (company && company === companyKeyOf({ email: lead })) return 'lead_domain';
  return 'other';
}

// ---------------------------------------------------------------------------------------------
// Whether the From address is the sender's: the receiving server's Authentication-Results.

/** One result of an Authentication-Results header (RFC 8601): `dkim=pass header.d=acme.test`. */
export interface AuthenticationResult {
  method: string;
  result: string;
  /** `ptype.property` (lowercased) → value, e.g. `header.d`, `smtp.mailfrom`; the first of each kept. */
  properties: Record<string, string>;
}

/** The most results read from one header: real ones hold a handful (spf, dkim per signature, dmarc, arc). */
const AUTH_RESULTS_MAX = 50;

/**
 * An Authentication-Results value (RFC 8601 §2.2) as its authserv-id and results, or null when it
 * is not one: comments (nested, escaped) dropped, quoted strings read as values, a leading version
 * number after the authserv-id allowed, `none` as no results. Strict where it matters: every
 * `;`-separated part must be `method[/version]=result` followed by nothing but `name=value`
 * pairs, so two headers run together into one value (`a.test; spf=fail … b.test; dkim=pass`)
 * do not parse, and are believed as nothing. One pass over the value, whose length the caller
 * bounds (boundedHeaders: 8 KB).
 */
export function parseAuthenticationResults(value: string): { authservId: string; results: AuthenticationResult[] } | null {
  // Tokens: words, quoted strings (as words), ';' and '='. Comments are white space.
  const tokens: { word?: string; punct?: ';' | '=' }[] = [];
  let word = '';
  let inWord = false;
  const flush = () => {
    if (inWord) tokens.push({ word });
    word = '';
    inWord = false;
  };
  let comment = 0;
  let quoted = false;
  let escaped = false;
  for (const ch of value) {
    if (escaped) {
      escaped = false;
      if (quoted) word += ch;
      continue;
    }
    if (quoted) {
      if (ch === '\\') escaped = true;
      else if (ch === '"') quoted = false;
      else word += ch;
      continue;
    }
    if (comment) {
      if (ch === '\\') escaped = true;
      else if (ch === '(') comment++;
      else if (ch === ')') comment--;
      continue;
    }
    if (ch === '(') {
      flush();
      comment = 1;
    } else if (ch === '"') {
      quoted = true;
      inWord = true;
    } else if (ch === ';' || ch === '=') {
      flush();
      tokens.push({ punct: ch });
    } else if (/\s/.test(ch)) flush();
    else {
      word += ch;
      inWord = true;
    }
  }
  if (quoted || comment || escaped) return null;
  flush();

  const parts: (typeof tokens)[] = [[]];
  for (const token of tokens) {
    if (token.punct === ';') parts.push([]);
    else parts.at(-1)!.push(token);
  }
  const [head = [], ...rest] = parts;
  // authserv-id [version]: a value, then digits at most.
  const authservId = head[0]?.word?.toLowerCase();
  if (!authservId || head.length > 2 || (head[1] && !/^\d+$/.test(head[1].word ?? ''))) return null;
  // A trailing ';' leaves an empty part; `none` is the header that says there are no results.
  const filled = rest.filter((part, i) => part.length > 0 || i < rest.length - 1);
  if (filled.some((part) => part.length === 0) || filled.length > AUTH_RESULTS_MAX) return null;
  if (filled.length === 1 && filled[0]!.length === 1 && filled[0]![0]!.word?.toLowerCase() === 'none') {
    return { authservId, results: [] };
  }
  const results: AuthenticationResult[] = [];
  for (const part of filled) {
    if (part.length % 3 !== 0) return null;
    const pairs: [string, string][] = [];
    for (let i = 0; i < part.length; i += 3) {
      const [name, eq, val] = [part[i]!, part[i + 1]!, part[i + 2]!];
      if (name.word === undefined || eq.punct !== '=' || val.word === undefined || !name.word) return null;
      pairs.push([name.word.toLowerCase(), val.word]);
    }
    const [[method, result], ...props] = pairs as [[string, string], ...[string, string][]];
    const properties: Record<string, string> = {};
    for (const [name, val] of props) if (!Object.hasOwn(properties, name)) properties[name] = val.toLowerCase();
    results.push({ method: method.replace(/\/.*$/, ''), result: result.toLowerCase(), properties });
  }
  return { authservId, results };
}

/**
 * Whether the From address is authenticated, by the topmost Authentication-Results header (the
 * one the receiving server added; a sender can only add theirs below it): null when no server's
 * results are trusted (`trustedIds` empty: nothing was checked); false when the header is missing,
 * is not one (see parseAuthenticationResults), names a server not in `trustedIds`, or has no
 * passing result aligned with the From domain; true for `dmarc=pass` about the From domain
 * (`header.from`), or `dkim=pass` whose `header.d` (else `header.i`'s domain), or `spf=pass` whose
 * `smtp.mailfrom`, has the From address's registrable domain (DMARC's relaxed alignment; by
 * registrableDomain in domain/company.ts, so one Microsoft 365 tenant's signature does not vouch
 * for another tenant's From).
 */
export function senderAuthenticated(
  headers: Record<string, string | undefined>,
  from: string,
  trustedIds: readonly string[],
): boolean | null {
  if (!trustedIds.length) return null;
  const fromDomain = registrableDomain(senderAddress(from));
  if (!fromDomain) return false;
  const parsed = parseAuthenticationResults(headers['authentication-results'] ?? '');
  if (!parsed || !trustedIds.includes(parsed.authservId)) return false;
  const aligned = (value: string | undefined) => value !== undefined && registrableDomain(value) === fromDomain;
  return parsed.results.some(
    ({ method, result, properties: p }) =>
      result === 'pass' &&
      ((method === 'dmarc' && aligned(p['header.from'])) ||
        (method === 'dkim' && aligned(p['header.d'] ?? p['header.i'])) ||
        (method === 'spf' && aligned(p['smtp.mailfrom']))),
  );
}

/**
 * The forward's subject: the inbound one on one line (no CR/LF or controls), `Re:` once, and at
 * most INBOUND_LIMITS.subject characters with that prefix.
 */
export function forwardSubject(subject: string): string {
  const line = storableLine(subject, INBOUND_LIMITS.subject);
  if (/^re:/i.test(line)) return line;
  const prefix = 'Re: ';
  return `${prefix}${storableLine(subject, INBOUND_LIMITS.subject - prefix.length) || '(no subject)'}`;
}
