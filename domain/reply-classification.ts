import * as chrono from 'chrono-node';
import { DateTime } from 'luxon';
import { autoReplySignal, senderAddress, senderRelation, type InboundSender } from './inbound.js';
import { addDelay } from './schedule.js';

// What an inbound email is, read from its headers, subject and the words its writer put on top,
// and, for an out-of-office, the day its writer is back. Pure: the clock and the lead's zone are
// inputs, so the same email always gets the same answer (and a correction can be compared with it).

export type InboundClass = 'reply' | 'out_of_office' | 'auto_reply' | 'unsubscribe_request' | 'bounce_notice' | 'from_other_address';

/**
 * Why: `header` names the header and (part of) its value, `subject` and `body` the phrase as it
 * was found, `sender` the writer's relation to the lead (`lead`, `lead_domain`, `other`) or the
 * daemon's mailbox name. At most EVIDENCE_MAX characters, on one line: it goes on a timeline.
 */
export interface ClassificationEvidence {
  kind: 'header' | 'subject' | 'body' | 'sender';
  matched: string;
}

export interface InboundClassification {
  class: InboundClass;
  evidence: ClassificationEvidence;
  /** Out-of-office only, when one can be read: the day named as the return (or the last day away), `yyyy-MM-dd` in the lead's zone. */
  returnDate?: string;
}

export interface InboundToClassify {
  /** Header names in any case (boundedHeaders lowercases them); values as one line. */
  headers: Record<string, string | undefined>;
  subject: string;
  text: string;
  /** The From field (a bare address, or `Name <address>`). */
  from: string;
  leadEmail: string | null | undefined;
  receivedAt: Date;
  /** The lead's IANA zone (falling back to the account's): the calendar dates are read in it. */
  timeZone: string;
}

export const EVIDENCE_MAX = 80;

/**
 * How much of the text is read at all (characters). A person's answer, or an autoresponder's, is
 * on top; whatever lies further down is quoted mail, signatures and disclaimers. Every rule below
 * is linear in what it reads, so this bounds the cost of any text.
 */
export const CLASSIFY_SCAN_CHARS = 16 * 1024;

/**
 * How much of the human-written part the date parser reads (characters). chrono-node runs some
 * thirty patterns per locale, six locales: this is the expensive part, and out-of-office texts,
 * two languages included, are shorter. Measured on the development machine (2 cores, Node 20):
 * a 1 MB hostile body (weekday names repeated, the worst found; test/domain/
 * reply-classification.test.ts, 'a hostile body') classifies in at most 85 ms, 10–35 ms once
 * warm; without this bound the six parsers took 14 s over that megabyte.
 */
export const DATE_SCAN_CHARS = 4 * 1024;

/** Lines of the human-written part an unsubscribe request must be in: "please remove me" is said first, if at all. */
export const UNSUBSCRIBE_LINES = 5;

/** Lines of the human-written part read for the absence phrases of an out-of-office. */
const ABSENCE_LINES = 25;

/** The furthest a return date may lie after the email: beyond a year it is no return date (a typo, a contract's end). */
export const MAX_RETURN_YEARS = 1;

// ---------------------------------------------------------------------------------------------
// Phrases. JavaScript's \b knows no accented letter, so words are bounded by any letter or digit.

const phrase = (source: string) => new RegExp(`(?<![\\p{L}\\p{N}])(?:${source})(?![\\p{L}\\p{N}])`, 'iu');

// Delivery status notifications, by the subjects of Postfix, Exim, Sendmail, qmail, Gmail and
// Exchange (in its six languages here).
const DSN_SUBJECT =
  /^\s*(undeliverable|undelivered mail|delivery status notification|mail delivery failed|returned mail|delivery failure|failure notice|message not delivered|delivery has failed|unzustellbar|nicht zustellbar|non remis|non distribuable|onbestelbaar|niet bezorgd|no se puede entregar|no entregado|não é possível entregar|não entregue)/iu;
const DSN_MAILBOX = /^(mailer-daemon|mailer_daemon|mailerdaemon|mail-daemon|postmaster|microsoftexchange[0-9a-f]{32})$/;
const DSN_BODY = phrase(
  [
    "(could not|couldn't|can't|cannot) be delivered",
    'delivery (to the following recipients?|has) failed',
    'address not found',
    'permanent(ly)? (error|failure)',
    'konnte nicht zugestellt werden',
    "n'a pas pu être (remis|distribué)",
    'kon niet worden (bezorgd|afgeleverd)',
    'no se (pudo|ha podido) entregar',
    'não (pôde|foi possível) ser entregue',
  ].join('|'),
);

// Automatic subjects that autoReplySignal (domain/inbound.ts) does not know (Outlook in Dutch,
// Spanish, Portuguese and newer German; Gmail's and Apple's usual vacation subjects; read
// receipts). The classification reads autoReplySignal first, then these.
const AUTO_SUBJECT =
  /^\s*(automatische antwort|automatisch antwoord|respuesta automática|resposta automática|risposta automatica|auto:|vacation( reply| response)?|abwesend|absence|absent|afwezig|ausente|fuera de la oficina|fora do escritório|out of office|ooo\b|urlaub|congés|vakantie|vacaciones|férias|(not )?read\s?:|gelesen\s?:|lu\s?:|gelezen\s?:|leído\s?:|lida\s?:)(?![\p{L}\p{N}])/iu;

// Words of absence, in any automatic email's subject or top lines: what tells an out-of-office
// from another auto-responder (a ticket number, "we have received your request").
const ABSENCE = phrase(
  [
    // English
    'out of (the )?office',
    'away from (the |my )?(office|desk)',
    'on (annual |parental |maternity |paternity |sick |study )?leave',
    'on (vacation|holidays?)',
    '(limited|no|without) access to (my )?e-?mails?',
    'upon my return',
    'out of town',
    '(currently )?travell?ing',
    "(i am|i'm|i will be|i'll be) (currently |now )?away",
    // German
    'nicht im büro',
    'abwesend',
    'abwesenheit(snotiz)?',
    'im urlaub',
    'außer haus',
    'wieder im büro',
    '(nicht|wieder) erreichbar',
    'wieder für sie da',
    'elternzeit',
    // French
    'absente?',
    'absence',
    'en congés?',
    'en vacances',
    'hors du bureau',
    'de retour le',
    // Dutch
    'afwezig(heid)?',
    'niet op kantoor',
    '(met|op) vakantie',
    'buiten kantoor',
    'met verlof',
    // Spanish
    'fuera de (la )?oficina',
    'ausente',
    'ausencia',
    'de vacaciones',
    'de permiso',
    // Portuguese
    'fora do escritório',
    'ausência',
    'de férias',
    'de licença',
  ].join('|'),
);

// An out-of-office written without an automatic header (an Apple Mail or Outlook rule replying
// with a template) is told by two things a person answering rarely writes together: "I am away"
// in the first person, and an autoresponder's sentence (whom to ask meanwhile, an answer after
// the return). One alone is a person who happens to be away, and that is a reply.
const ABSENCE_STATEMENT = phrase(
  [
    "(i am|i'm|i will be|i'll be) (currently |now )?(out of (the )?office|away|on (annual |parental |maternity |paternity |sick )?leave|on (vacation|holiday))",
    'ich bin[^\\n!?]{0,60}?(nicht im büro|abwesend|im urlaub|außer haus|nicht erreichbar)',
    'je (suis|serai)[^\\n!?]{0,60}?(absente?|en congés?|en vacances|hors du bureau|en déplacement)',
    'ik ben[^\\n!?]{0,60}?(afwezig|niet op kantoor|met vakantie|op vakantie|buiten kantoor|met verlof)',
    '(estoy|estaré)[^\\n!?]{0,60}?(fuera de (la )?oficina|ausente|de vacaciones|de viaje|de permiso)',
    '(estou|estarei)[^\\n!?]{0,60}?(fora do escritório|ausente|de férias|de licença|em viagem)',
  ].join('|'),
);
const AUTORESPONDER_SENTENCE = phrase(
  [
    'this is an auto(matic|mated)[ -]?(reply|response|message)',
    'limited access to (my )?e-?mail',
    'upon my return',
    'for (urgent|immediate) (matters|questions|requests|assistance|issues)',
    "(i will|i'll) (respond|reply|get back to you)[^.\\n]{0,40}(return|back)",
    'automatische antwort',
    'in dringenden fällen',
    'nach meiner rückkehr',
    'réponse automatique',
    "en cas d'urgence",
    'dès mon retour',
    'automatisch antwoord',
    'voor dringende zaken',
    'na mijn terugkeer',
    'respuesta automática',
    'para (asuntos|temas|consultas) urgentes',
    'a mi regreso',
    'resposta automática',
    'em caso de urgência',
    'assuntos urgentes',
    'no meu retorno|quando eu retornar',
  ].join('|'),
);

// "Stop writing to me", as people say it. Read only in the first lines of what they wrote, never
// in quoted mail: every one of our emails quotes its own unsubscribe footer back.
const UNSUBSCRIBE = phrase(
  [
    // English
    'unsubscribe( me)?',
    'remove me',
    'take me off',
    'opt(-| )?out',
    'stop (e-?mailing|contacting|sending|writing)',
    "(do not|don't) (e-?mail|contact|write to) me",
    'no (more|further) e-?mails',
    // German
    'abmelden',
    'austragen',
    'keine (weiteren )?(e-?mails|nachrichten|werbung)',
    '(entfernen|löschen) sie mich',
    'aus (ihrem|dem) verteiler',
    // French
    'désabonner',
    'désinscri(re|vez|ption)',
    '(retirez|supprimez|enlevez)[- ]moi',
    'ne plus recevoir',
    'ne me (contactez|écrivez) plus',
    // Dutch
    'afmelden',
    'uitschrijven',
    'verwijder (mij|me)',
    'haal (mij|me) (van|uit)',
    'geen (e-?mails|mails) meer',
    // Spanish
    '(dar(me)?|den(me)?|déme|dame) de baja',
    'baja de (la|su|vuestra) lista',
    'no me (envíe|envíen|escriba|escriban|contacte|contacten) más',
    'elimín(e|en)me',
    'cancelar (la |mi )?suscripción',
    // Portuguese
    'descadastr(ar|e)',
    'cancelar (a |minha )?inscrição',
    'não quero (mais )?receber',
    '(me )?(tire|retire|remova)(-me)? da lista',
    'remova[- ]me',
  ].join('|'),
);

// Where a person's text ends and quoted mail begins, in the clients and languages we read.
const QUOTE_LINE = /^\s*>/;
const QUOTE_SEPARATOR =
  /^\s*(-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|oorspronkelijk bericht|mensaje original|mensagem original|forwarded message|weitergeleitete nachricht)|_{10,}\s*$|--\s*$)/iu;
// German and Dutch name the writer after the verb ("Am … schrieb Sam <sam@…>:"), the others before it.
const QUOTE_ATTRIBUTION = /((wrote|a écrit|escribió|escreveu)\s*:|(schrieb|schreef)\s[^\n]{0,200}:)\s*$/iu;
const QUOTE_ATTRIBUTION_OPENING = /^\s*(on|am|le|op|el|em)\s/iu;
const QUOTE_HEADER = /^\s*\*?(from|von|de|van)\s?:\s*\S/iu;
const QUOTE_HEADER_NEXT = /^\s*\*?(sent|gesendet|envoyé|verzonden|enviado|date|datum|to|an|à|aan|para)\s?:/iu;

// "Re:", "AW:", "Automatic reply:", "Réponse automatique :": a subject that goes on with someone else's.
const QUOTING_SUBJECT = /^\s*[\p{L} -]{1,30}\s?:/u;

// ---------------------------------------------------------------------------------------------

// Cut by code points: a cut through a surrogate pair would leave text PostgreSQL's jsonb refuses.
const oneLine = (value: string) => [...value.replace(/\s+/g, ' ').trim()].slice(0, EVIDENCE_MAX).join('');

// What mail systems write in place of plain spaces and apostrophes (French Outlook's space before
// a colon, iOS's curly apostrophe), so that one spelling of each phrase is enough.
const normalised = (value: string) => value.replace(/[\u00A0\u2007\u202F]/g, ' ').replace(/[\u2018\u2019\u02BC]/g, "'");

/**
 * The lines a person (or an autoresponder) wrote on top: the scanned text up to the first quoted
 * line, attribution line ("On … wrote:", in six languages), Outlook's original-message header or
 * separator, or signature delimiter. Also whether anything was quoted at all.
 */
export function humanPart(text: string): { lines: string[]; quoted: boolean } {
  const lines = normalised(text.slice(0, CLASSIFY_SCAN_CHARS)).split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    let end = -1;
    if (QUOTE_LINE.test(line) || QUOTE_SEPARATOR.test(line)) end = i;
    else if (QUOTE_ATTRIBUTION.test(line))
      end = i > 0 && QUOTE_ATTRIBUTION_OPENING.test(lines[i - 1]!) && !QUOTE_ATTRIBUTION_OPENING.test(line) ? i - 1 : i;
    else if (QUOTE_HEADER.test(line) && lines.slice(i + 1, i + 4).some((next) => QUOTE_HEADER_NEXT.test(next))) end = i;
    if (end >= 0) return { lines: lines.slice(0, end), quoted: true };
  }
  return { lines, quoted: false };
}

const firstLines = (lines: string[], count: number) =>
  lines
    .filter((line) => line.trim())
    .slice(0, count)
    .join('\n');

const lowerCased = (headers: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), (value ?? '').trim()]));

/** A delivery status notification, or null: by its MIME type, its headers, its sender, its subject. */
function bounceEvidence(
  h: Record<string, string>,
  subject: string,
  fromAddress: string,
  sender: InboundSender,
  top: string,
): ClassificationEvidence | null {
  const contentType = (h['content-type'] ?? '').toLowerCase();
  const report = /^multipart\/report/.exec(contentType) ? (/report-type\s*=\s*"?([\w-]+)/.exec(contentType)?.[1] ?? '') : null;
  if (report === 'delivery-status') return { kind: 'header', matched: oneLine(`content-type: ${contentType}`) };
  if (Object.hasOwn(h, 'x-failed-recipients')) return { kind: 'header', matched: 'x-failed-recipients' };
  if (Object.hasOwn(h, 'x-ms-exchange-message-is-ndr')) return { kind: 'header', matched: 'x-ms-exchange-message-is-ndr' };
  const mailbox = fromAddress.slice(0, fromAddress.lastIndexOf('@'));
  if (DSN_MAILBOX.test(mailbox)) return { kind: 'sender', matched: mailbox };
  // A subject alone could be typed by anyone; from the lead's own address it is the lead's.
  const dsnSubject = sender !== 'lead' ? DSN_SUBJECT.exec(subject) : null;
  if (dsnSubject) return { kind: 'subject', matched: oneLine(dsnSubject[0]) };
  // A multipart/report whose report-type is missing is a DSN when its words say so; a read
  // receipt (disposition-notification) is none. Raw MIME keeps the parameter (api/routes/webhooks.ts,
  // headerLine, writes mailparser's parsed parameters back), but a provider handing us headers
  // may not, and a sender may leave it out.
  const dsnWords = report === '' ? DSN_BODY.exec(top) : null;
  if (dsnWords) return { kind: 'body', matched: oneLine(dsnWords[0]) };
  return null;
}

/**
 * The class of an inbound email, the evidence that decided it, and an out-of-office's return day.
 *
 * Precedence, first match wins, and why:
 * 1. `bounce_notice`: a DSN comes from a daemon (another address), carries automatic headers and
 *    quotes our own email (its unsubscribe footer, its dates): read as anything else it would be
 *    misread, and it says the lead's address may be dead, which matters most.
 * 2. Automatic mail (autoReplySignal's headers and subjects, and the subjects above): an
 *    `out_of_office` when its subject or top lines speak of absence and it comes from the lead or
 *    the lead's domain, else `auto_reply`. A machine asks for nothing, so it is never an
 *    unsubscribe; and a stranger's out-of-office must not pause someone else's sequence, so it is
 *    an `auto_reply` (which changes nothing) rather than a pause or `from_other_address`.
 * 3. `from_other_address`: a person who is neither the lead nor at the lead's domain may not stop,
 *    pause or unsubscribe the lead's enrolment, whatever they write.
 * 4. `unsubscribe_request`: a phrase in the first UNSUBSCRIBE_LINES lines of what the lead wrote
 *    (not the subject, which quotes ours; not quoted text, which holds our footer).
 * 5. `out_of_office` without an automatic header: a first-person absence and an autoresponder's
 *    sentence together on top, with nothing quoted (a template rule quotes nothing; a person
 *    answering from a mail client almost always does).
 * 6. `reply`: a person, the lead or at the lead's domain, with the relation as evidence.
 */
export function classifyInbound(email: InboundToClassify): InboundClassification {
  const h = lowerCased(email.headers);
  const subject = normalised(email.subject.slice(0, 1_000));
  const sender = senderRelation(email.from, email.leadEmail);
  const { lines, quoted } = humanPart(email.text);
  const top = firstLines(lines, ABSENCE_LINES);

  const bounce = bounceEvidence(h, subject, senderAddress(email.from), sender, top);
  if (bounce) return { class: 'bounce_notice', evidence: bounce };

  const automatic = automaticEvidence(h, subject);
  if (automatic) {
    const absence = ABSENCE.exec(subject);
    const absenceOnTop = absence ? null : ABSENCE.exec(top);
    if ((absence || absenceOnTop) && sender !== 'other') {
      const evidence: ClassificationEvidence = absence
        ? { kind: 'subject', matched: oneLine(absence[0]) }
        : { kind: 'body', matched: oneLine(absenceOnTop![0]) };
      return outOfOffice(evidence, subject, lines, email);
    }
    return { class: 'auto_reply', evidence: automatic };
  }

  if (sender === 'other') return { class: 'from_other_address', evidence: { kind: 'sender', matched: 'other' } };

  const unsubscribe = UNSUBSCRIBE.exec(firstLines(lines, UNSUBSCRIBE_LINES));
  if (unsubscribe) return { class: 'unsubscribe_request', evidence: { kind: 'body', matched: oneLine(unsubscribe[0]) } };

  const statement = quoted ? null : ABSENCE_STATEMENT.exec(top);
  if (statement && AUTORESPONDER_SENTENCE.test(top))
    return outOfOffice({ kind: 'body', matched: oneLine(statement[0]) }, subject, lines, email);

  return { class: 'reply', evidence: { kind: 'sender', matched: sender } };
}

function automaticEvidence(h: Record<string, string>, subject: string): ClassificationEvidence | null {
  const signal = autoReplySignal(h, subject);
  if (signal) return { kind: signal.kind, matched: oneLine(signal.matched) };
  // A read receipt is a machine's answer too (RFC 8098).
  if (/report-type\s*=\s*"?disposition-notification/i.test(h['content-type'] ?? ''))
    return { kind: 'header', matched: 'content-type: multipart/report' };
  const opening = AUTO_SUBJECT.exec(subject);
  return opening ? { kind: 'subject', matched: oneLine(opening[0]) } : null;
}

function outOfOffice(evidence: ClassificationEvidence, subject: string, lines: string[], email: InboundToClassify): InboundClassification {
  // The body first, then a subject of the lead's own ("Out of office until January 19", as Gmail
  // and Apple let people write it); one with a prefix ("Automatic reply: Webinar on 20 January",
  // "Re: …") quotes ours, whose dates are not the lead's.
  const ownSubject = QUOTING_SUBJECT.test(subject) ? '' : subject;
  const returnDate =
    readReturnDate(lines.join('\n'), email.receivedAt, email.timeZone) ??
    (ownSubject ? readReturnDate(ownSubject, email.receivedAt, email.timeZone) : undefined);
  return { class: 'out_of_office', evidence, ...(returnDate ? { returnDate } : {}) };
}

// ---------------------------------------------------------------------------------------------
// The return day.

type ChronoConfiguration = ConstructorParameters<typeof chrono.Chrono>[0] & {};
type Parser = ChronoConfiguration['parsers'][number];

// Times of day and relative spans ("within 24 hours", "2 weeks ago") name no day to come back on,
// and read "12.01" as a quarter past noon; numeric dates (12/01/2026) are read by one parser
// only, whose order of day and month the lead's zone decides, so that six locales do not read
// one date six ways. Parsers are named as chrono-node 2.10.3 names them (the version is pinned);
// a rename fails here, at start, rather than reading dates silently otherwise.
const UNWANTED = /TimeExpressionParser|TimeUnit|Casual/;
const NUMERIC = /^(SlashDateFormatParser|ISOFormatParser)$/;

function parserNamed(config: ChronoConfiguration, name: string): Parser {
  const found = config.parsers.find((p) => p.constructor.name === name);
  if (!found) throw new Error(`chrono-node has no ${name}: check domain/reply-classification.ts against its version`);
  return found;
}

function datesOnly(config: ChronoConfiguration, keepNumeric: boolean): chrono.Chrono {
  const parsers = config.parsers.filter((p) => !UNWANTED.test(p.constructor.name) && (keepNumeric || !NUMERIC.test(p.constructor.name)));
  if (!config.parsers.some((p) => UNWANTED.test(p.constructor.name)))
    throw new Error('chrono-node parsers renamed: see domain/reply-classification.ts');
  return new chrono.Chrono({ ...config, parsers });
}

// English month names as the US writes them ("Jan 12": the day, which little-endian English reads
// as a year), numeric dates either way.
function englishParser(dayFirst: boolean): chrono.Chrono {
  const config = chrono.en.configuration.createConfiguration(false, false);
  const slash = parserNamed(chrono.en.configuration.createConfiguration(false, dayFirst), 'SlashDateFormatParser');
  const parsers = config.parsers.map((p) => (p.constructor.name === 'SlashDateFormatParser' ? slash : p));
  return datesOnly({ ...config, parsers }, true);
}

const PARSERS = {
  enDayFirst: englishParser(true),
  enMonthFirst: englishParser(false),
  others: [chrono.de, chrono.fr, chrono.nl, chrono.es, chrono.pt].map((locale) =>
    datesOnly(locale.createConfiguration(false, true), false),
  ),
};

// Where a numeric date is written month first: the United States (and its territories' zones).
const MONTH_FIRST_ZONES =
  /^(America\/(New_York|Chicago|Denver|Los_Angeles|Phoenix|Anchorage|Juneau|Sitka|Metlakatla|Nome|Yakutat|Adak|Boise|Detroit|Menominee|Indiana\/.+|Kentucky\/.+|North_Dakota\/.+|Puerto_Rico)|Pacific\/(Honolulu|Guam)|US\/.+)$/;

// Dotted numeric dates (12.01.2026, and German's 12.01. without a year, which chrono-node does not
// read) are day first in every language that writes them, the United States' included: written
// out as "12 January 2026" they are read so whatever order the zone gives slashed dates.
const DOTTED_DATE = /(?<![\d./-])([0-3]?\d)\.([01]?\d)\.(\d{4}|\d{2}(?!\d))?(?![\d.])/g;
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const withDottedDatesSpelt = (text: string) =>
  text.replace(DOTTED_DATE, (whole, day: string, month: string, year: string | undefined) =>
    Number(day) >= 1 && Number(day) <= 31 && Number(month) >= 1 && Number(month) <= 12
      ? ` ${Number(day)} ${MONTHS[Number(month) - 1]}${year ? ` ${year.length === 2 ? `20${year}` : year}` : ''} `
      : whole,
  );

// "Back on the 12th", "de retour le 12", "bis zum 12.": a day of the month alone after a word of
// return or until, which chrono-node does not read in any of the six. The day is the next 12th.
const MONTH_WORD =
  '(jan|feb|m[aä]r|apr|ma[iy]|mei|jun|jul|aug|sep|o[ck]t|nov|de[cz]|dic|ene|abr|ago|set|out|janv|févr|avr|juil|août|déc|maa)';
const WEEKDAY_WORD =
  '((mon|tues?|wed(nes)?|thu(rs)?|fri|sat(ur)?|sun)(day)?|montag|dienstag|mittwoch|donnerstag|freitag|samstag|sonntag|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|maandag|dinsdag|woensdag|donderdag|vrijdag|zaterdag|zondag|lunes|martes|miércoles|jueves|viernes|sábado|domingo|segunda|terça|quarta|quinta|sexta)(-feira)?,?\\s+';
const BARE_DAY = [
  `(back|return(ing|s)?|until|till|til|through|thru)\\s+((on|by)\\s+)?(${WEEKDAY_WORD})?(the\\s+)?(?<day>\\d{1,2})(st|nd|rd|th)(?!\\s*(of\\s+)?${MONTH_WORD})`,
  `(bis(\\s+(zum|einschließlich|einschl\\.|inkl\\.))?|ab(\\s+(dem|den))?|wieder\\s+am|am)\\s+(${WEEKDAY_WORD}(den\\s+)?)?(?<day>\\d{1,2})\\.(?!\\s*\\d)(?!\\s*${MONTH_WORD})`,
  `(de retour|retour|jusqu'(au|à)|à partir du|dès le|reviendrai le|rentrerai le)\\s+(le\\s+)?(${WEEKDAY_WORD})?(?<day>\\d{1,2})(er)?(?![\\p{L}\\p{N}/:]|\\.\\d)(?!\\s*${MONTH_WORD})`,
  `(tot(\\s+en\\s+met)?|t/m|vanaf|terug\\s+op|weer\\s+op)\\s+(${WEEKDAY_WORD})?(de\\s+)?(?<day>\\d{1,2})(e|ste|de)(?![\\p{L}\\p{N}])(?!\\s*${MONTH_WORD})`,
  `(hasta|a partir|regreso|regresaré|volveré|vuelvo|de vuelta)\\s+(del?|el)\\s+(${WEEKDAY_WORD})?(día\\s+)?(?<day>\\d{1,2})(?![\\p{L}\\p{N}/:]|\\.\\d)(?!\\s+de\\s)`,
  `(até|a partir|retorno|volto|voltarei|de volta)\\s+((o|ao|do|no|em)\\s+)?(${WEEKDAY_WORD})?dia\\s+(?<day>\\d{1,2})(?![\\p{L}\\p{N}/:]|\\.\\d)(?!\\s+de\\s)`,
].map((source) => new RegExp(`(?<![\\p{L}\\p{N}])${source}`, 'giu'));

interface DayParts {
  year: number;
  month: number;
  day: number;
  dayKnown: boolean;
  weekday?: number;
}

/**
 * The return day an out-of-office names: of every date in the first DATE_SCAN_CHARS characters
 * (the end of each range), the latest on or after the day it was received and at most a year
 * later, in the lead's zone. The latest, because such texts name the first day away, the last,
 * the day back and colleagues' dates in some order, and waiting a day too long is better than
 * writing to someone still away. A date without a year is in the nearest year; a weekday alone is
 * the next such day. `yyyy-MM-dd`, or undefined when no day is named.
 */
export function readReturnDate(text: string, receivedAt: Date, timeZone: string): string | undefined {
  const zone = DateTime.local().setZone(timeZone).isValid ? timeZone : 'UTC';
  const received = DateTime.fromJSDate(receivedAt, { zone }).startOf('day');
  const latestAllowed = received.plus({ years: MAX_RETURN_YEARS });
  const scanned = withDottedDatesSpelt(normalised(text.slice(0, DATE_SCAN_CHARS)));
  // The wall-clock date of the reference in the lead's zone is what chrono-node reads relative dates from.
  const reference = { instant: receivedAt, timezone: DateTime.fromJSDate(receivedAt, { zone }).offset };
  const english = MONTH_FIRST_ZONES.test(zone) ? PARSERS.enMonthFirst : PARSERS.enDayFirst;

  const candidates: DayParts[] = [];
  for (const parser of [english, ...PARSERS.others]) {
    for (const result of parser.parse(scanned, reference)) {
      const parts = result.end ?? result.start;
      const dayKnown = parts.isCertain('day');
      if (!dayKnown && !parts.isCertain('weekday')) continue; // a month alone, a year alone: no day
      // A weekday alone counts written out: German's "so", "do" and "mi" are also English and Spanish words.
      if (!dayKnown && !/\p{L}{5,}/u.test(result.text)) continue;
      candidates.push({
        year: parts.get('year')!,
        month: parts.get('month')!,
        day: parts.get('day')!,
        dayKnown,
        ...(dayKnown ? {} : { weekday: parts.get('weekday')! }),
      });
    }
  }
  for (const pattern of BARE_DAY) {
    for (const match of scanned.matchAll(pattern)) {
      const day = Number(match.groups?.day);
      if (day >= 1 && day <= 31) candidates.push(nextDayOfMonth(received, day));
    }
  }

  let latest: DateTime | undefined;
  for (const candidate of candidates) {
    const date = dayOf(candidate, received, zone);
    if (date && date >= received && date <= latestAllowed && (!latest || date > latest)) latest = date;
  }
  return latest?.toISODate() ?? undefined;
}

function nextDayOfMonth(received: DateTime, day: number): DayParts {
  // Within two months there is always a month with that day (31: this one or the next but one).
  for (let months = 0; months < 3; months++) {
    const month = received.startOf('month').plus({ months });
    if (day <= (month.daysInMonth ?? 0) && (months > 0 || day >= received.day)) {
      return { year: month.year, month: month.month, day, dayKnown: true };
    }
  }
  return { year: received.year, month: received.month, day: 0, dayKnown: true };
}

function dayOf(parts: DayParts, received: DateTime, zone: string): DateTime | undefined {
  if (!parts.dayKnown && parts.weekday !== undefined) {
    // A weekday alone: the next one after the day received ("back on Monday", said on a Monday, is a week later).
    const luxonWeekday = parts.weekday === 0 ? 7 : parts.weekday;
    return received.plus({ days: ((luxonWeekday - received.weekday + 6) % 7) + 1 });
  }
  // A date without its year is already in chrono-node's nearest year (12 January, read on 20
  // December, is next year's): one before the day received has passed (the first day away).
  const date = DateTime.fromObject({ year: parts.year, month: parts.month, day: parts.day }, { zone });
  return date.isValid ? date.startOf('day') : undefined;
}

/**
 * When an enrolment waiting for the lead's return resumes: the start of the first business day
 * (Monday to Friday, in the lead's zone) after the return day. The send window then decides the
 * hour (domain/schedule.ts). A day whose midnight does not exist (a DST change at 00:00) starts
 * at its first hour.
 */
export function resumeAtAfterReturn(returnDate: string, timeZone: string): Date {
  const day = DateTime.fromISO(returnDate, { zone: timeZone });
  if (!day.isValid)
    throw new RangeError(`resumeAtAfterReturn: ${day.invalidExplanation ?? 'invalid date or zone'} (${returnDate}, ${timeZone})`);
  const next = addDelay(day.startOf('day').toJSDate(), { amount: 1, unit: 'business_days' }, timeZone);
  return DateTime.fromJSDate(next, { zone: timeZone }).startOf('day').toJSDate();
}
