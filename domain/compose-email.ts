import { compile } from 'html-to-text';
import MarkdownIt from 'markdown-it';
import { setImmediate as nextTurn } from 'node:timers/promises';
import mjml2html from 'mjml';
import sanitizeHtml from 'sanitize-html';
import { LRUCache } from 'lru-cache';
import { renderTemplate, type MergeContext } from './merge-fields.js';
import escapeHtml from 'escape-html';

// Turns a step (Markdown with Liquid merge tags) into the email a lead receives: an HTML part in
// the account's branded, responsive MJML layout and a plain-text part. Pure and deterministic:
// the same inputs give the same bytes, which a retry under the same idempotency key needs.

export interface Branding {
  senderName: string;
  companyName: string;
  postalAddress: string;
  logoUrl: string | null;
  brandColor: string;
  signature: string;
}

export interface ComposedEmail {
  subject: string;
  html: string;
  text: string;
  /** The body alone as text (no signature, quote or footer): what a later reply quotes. */
  bodyText: string;
}

/** The previous email below a reply: its introduction line and its body as text. */
export interface Quote {
  intro: string;
  text: string;
}

// markdown-it, not marked: marked's emphasis parsing is quadratic (bench/README.md, "Figures
// behind the code") and its blockquotes recurse until the stack overflows. Raw HTML is off: a body is Markdown, and text that looks like a tag stays text.
const markdown = new MarkdownIt({ html: false, linkify: false, breaks: true, typographer: false });

// Compiled once: html-to-text compiles its options (selectors and all) on every convert() call,
// which cost more than the conversion itself (about 4 ms an email in the send benchmark's profile).
const plainText = compile({ wordwrap: 78, selectors: [{ selector: 'a', options: { hideLinkHrefIfSameAsText: true } }] });
const previewText = compile({ wordwrap: false });

const SANITIZE: sanitizeHtml.IOptions = {
  allowedTags: [
    'p',
    'br',
    'strong',
    'b',
    'em',
    'i',
    'u',
    's',
    'a',
    'ul',
    'ol',
    'li',
    'blockquote',
    'code',
    'pre',
    'h1',
    'h2',
    'h3',
    'h4',
    'hr',
    'table',
    'thead',
    'tbody',
    'tr',
    'th',
    'td',
    'img',
  ],
  allowedAttributes: { a: ['href', 'title'], img: ['src', 'alt', 'width', 'height'] },
  allowedSchemes: ['https', 'http', 'mailto', 'tel'],
  allowedSchemesByTag: { img: ['https'] },
  transformTags: { a: sanitizeHtml.simpleTransform('a', { target: '_blank', rel: 'noopener' }) },
};

/** A plain email is a personal note: no images in its body or signature. */
const SANITIZE_PLAIN: sanitizeHtml.IOptions = {
  ...SANITIZE,
  allowedTags: (SANITIZE.allowedTags as string[]).filter((tag) => tag !== 'img'),
  allowedAttributes: { a: ['href', 'title'] },
};

/** Markdown → sanitised HTML. Merge values were escaped as Markdown text before Markdown saw them. */
export async function bodyToHtml(markdownSource: string, merge: MergeContext, allowed: sanitizeHtml.IOptions = SANITIZE): Promise<string> {
  const withValues = renderTemplate(markdownSource, merge, { forMarkdown: true });
  // Each phase is linear in the body; between them other requests get the thread.
  await nextTurn();
  const html = markdown.render(withValues);
  await nextTurn();
  return sanitizeHtml(html, allowed);
}

/** The parts of an email that change from lead to lead, as they go into the layout (escaped). */
interface LayoutSlots {
  title: string;
  preview: string;
  body: string;
  quote: string;
  unsubscribeUrl: string;
}

/** The account's branded MJML layout around one email's slots. */
function layoutMjml(branding: Branding, slots: LayoutSlots): string {
  const colour = /^#[0-9a-fA-F]{6}$/.test(branding.brandColor) ? branding.brandColor : '#2563eb';
  const footerLines = [branding.companyName, branding.postalAddress].filter(Boolean).map(escapeHtml);
  const signature = branding.signature
    ? sanitizeHtml(markdown.render(branding.signature), SANITIZE)
    : `<p>${escapeHtml(branding.senderName)}</p>`;
  const logo = branding.logoUrl?.startsWith('https://')
    ? `<mj-image src="${escapeHtml(branding.logoUrl)}" alt="${escapeHtml(branding.companyName || branding.senderName)}" width="120px" align="left" padding="0 0 12px 0" />`
    : '';
  return `<mjml lang="en">
  <mj-head>
    <mj-title>${slots.title}</mj-title>
    <mj-preview>${slots.preview}</mj-preview>
    <mj-attributes>
      <mj-all font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" />
      <mj-text font-size="15px" line-height="1.55" color="#1f2937" />
    </mj-attributes>
    <mj-style>a { color: ${colour}; }</mj-style>
  </mj-head>
  <mj-body background-color="#f4f5f7" width="600px">
    <mj-section padding="0"><mj-column><mj-divider border-color="${colour}" border-width="4px" padding="0" /></mj-column></mj-section>
    <mj-section background-color="#ffffff" padding="24px 28px 8px">
      <mj-column>
        ${logo}
        <mj-text padding="0">${slots.body}</mj-text>
        <mj-text padding="12px 0 0" color="#374151">${signature}</mj-text>
        <mj-text padding="12px 0 0" color="#6b7280">${slots.quote}</mj-text>
      </mj-column>
    </mj-section>
    <mj-section padding="16px 28px">
      <mj-column>
        <mj-text font-size="12px" line-height="1.5" color="#6b7280" align="center" padding="0">
          ${footerLines.join('<br />')}${footerLines.length ? '<br />' : ''}
          <a href="${slots.unsubscribeUrl}" style="color:#6b7280">Unsubscribe</a> from these emails.
        </mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;
}

async function mjmlToHtml(source: string): Promise<string> {
  const { html, errors } = await mjml2html(source, { validationLevel: 'soft', keepComments: false });
  if (errors.length) throw new Error(`email layout error: ${errors[0]!.formattedMessage}`);
  return html;
}

/**
 * MJML is most of the cost of an email (bench/README.md, "Figures behind the code"), and the
 * layout depends on the account's branding only. So it is rendered once per branding with a
 * marker in each slot, and each email fills the markers in. MJML passes the slots' contents
 * through untouched (title, preview, mj-text and href hold them verbatim), which
 * test/composition.test.ts checks byte for byte against a fresh render.
 */
const SLOT_MARKERS: LayoutSlots = {
  title: 'XSLOTTITLEX',
  preview: 'XSLOTPREVIEWX',
  body: 'XSLOTBODYX',
  quote: 'XSLOTQUOTEX',
  unsubscribeUrl: 'XSLOTUNSUBSCRIBEX',
};
const SLOT_BY_MARKER = new Map(Object.entries(SLOT_MARKERS).map(([slot, marker]) => [marker, slot as keyof LayoutSlots]));
const SLOT_PATTERN = new RegExp(Object.values(SLOT_MARKERS).join('|'), 'g');
const layouts = new LRUCache<string, Promise<string>>({ max: 500 });

async function renderLayout(branding: Branding, slots: LayoutSlots, fresh: boolean): Promise<string> {
  if (fresh) return mjmlToHtml(layoutMjml(branding, slots));
  const key = JSON.stringify(branding);
  let layout = layouts.get(key);
  if (!layout) {
    layout = mjmlToHtml(layoutMjml(branding, SLOT_MARKERS));
    layout.catch(() => layouts.delete(key));
    layouts.set(key, layout);
  }
  // One pass with a function: text that was filled in is never scanned again (a lead named
  // like a marker stays as typed), and a `$` in it is not a replacement pattern.
  return (await layout).replace(SLOT_PATTERN, (marker) => slots[SLOT_BY_MARKER.get(marker)!]);
}

export async function composeEmail(input: {
  subject: string;
  body: string;
  merge: MergeContext;
  branding: Branding;
  unsubscribeUrl: string;
  /** `branded` (the MJML layout, the default) or `plain` (a personal note). */
  format?: 'branded' | 'plain';
  /**
   * The subject as it goes, taken as written (a reply's `Re:` the thread's subject, which was
   * rendered once already): never read as a template again.
   */
  literalSubject?: string;
  /** The previous email below this one (a reply in the thread that quotes it). */
  quote?: Quote | null;
  /** Render the layout afresh instead of from the per-branding cache (tests compare the two). */
  fresh?: boolean;
}): Promise<ComposedEmail> {
  const { branding, merge } = input;
  const plain = input.format === 'plain';
  const subject = (input.literalSubject ?? renderTemplate(input.subject, merge)).replace(/[\r\n]+/g, ' ').trim();
  const bodyHtml = await bodyToHtml(input.body, merge, plain ? SANITIZE_PLAIN : SANITIZE);
  const quoteHtml = input.quote
    ? `<p>${escapeHtml(input.quote.intro)}</p><blockquote style="margin:0 0 0 8px;padding-left:12px;border-left:2px solid #d1d5db;white-space:pre-wrap">${escapeHtml(input.quote.text)}</blockquote>`
    : '';
  const html = plain
    ? plainHtml(branding, { body: bodyHtml, quote: quoteHtml, unsubscribeUrl: input.unsubscribeUrl })
    : await renderLayout(
        branding,
        {
          // Trimmed, as MJML trims what it is given.
          title: escapeHtml(subject).trim(),
          preview: escapeHtml(previewText(bodyHtml).slice(0, 120)).trim(),
          body: bodyHtml.trim(),
          quote: quoteHtml,
          unsubscribeUrl: escapeHtml(input.unsubscribeUrl).trim(),
        },
        input.fresh ?? false,
      );

  await nextTurn();
  const bodyText = plainText(bodyHtml);
  const signatureText = branding.signature || branding.senderName;
  const quoteText = input.quote ? ['', input.quote.intro, ...input.quote.text.split('\n').map((line) => `> ${line}`.trimEnd())] : [];
  const footer = [branding.companyName, branding.postalAddress].filter(Boolean);
  const text = [
    bodyText,
    '',
    signatureText,
    ...quoteText,
    '',
    '--',
    // A plain note keeps the footer to one line each: who sends it, and how to stop it.
    ...(plain ? (footer.length ? [footer.join(', ')] : []) : footer),
    `Unsubscribe: ${input.unsubscribeUrl}`,
  ].join('\n');
  return { subject, html, text, bodyText };
}

/**
 * The HTML twin of a plain email: the body, the signature, the quote and a one-line footer, with
 * no layout, colour, logo or image, so it reads as the personal note its text part is.
 */
function plainHtml(branding: Branding, slots: { body: string; quote: string; unsubscribeUrl: string }): string {
  const signature = branding.signature
    ? sanitizeHtml(markdown.render(branding.signature), SANITIZE_PLAIN)
    : `<p>${escapeHtml(branding.senderName)}</p>`;
  const footer = [branding.companyName, branding.postalAddress].filter(Boolean).map(escapeHtml).join(', ');
  return `<!doctype html><html><head><meta charset="utf-8"></head><body><div style="font-family:sans-serif;font-size:14px;line-height:1.5">${slots.body}${signature}${slots.quote}<p style="color:#6b7280;font-size:12px">${footer ? `${footer} · ` : ''}<a href="${escapeHtml(slots.unsubscribeUrl)}" style="color:#6b7280">Unsubscribe</a></p></div></body></html>`;
}
