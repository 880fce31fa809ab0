import escapeHtml from 'escape-html';

// The small pages a lead sees after clicking "Unsubscribe": branded with the sender's company,
// readable without CSS, usable by keyboard and screen reader. Every value is escaped.

export interface PageBranding {
  companyName: string;
  logoUrl: string | null;
  brandColor: string;
}

/**
 * The Content-Security-Policy of these pages: no script at all, the inline stylesheet (it carries
 * the brand colour), the account's https logo, a form that posts back to this origin only, and no
 * framing (clickjacking a one-click unsubscribe button).
 */
export const unsubscribePageCsp = {
  defaultSrc: ["'none'"],
  styleSrc: ["'unsafe-inline'"],
  imgSrc: ['https:'],
  formAction: ["'self'"],
  baseUri: ["'none'"],
  frameAncestors: ["'none'"],
};

export function unsubscribePage(options: {
  title: string;
  message: string;
  branding?: PageBranding;
  /** Shows the confirm button, posting to this URL. */
  confirmAction?: string;
  /** The button's text (default "Unsubscribe"). */
  confirmLabel?: string;
}): string {
  const brand = options.branding;
  const colour = brand && /^#[0-9a-fA-F]{6}$/.test(brand.brandColor) ? brand.brandColor : '#2563eb';
  const name = brand?.companyName ? escapeHtml(brand.companyName) : '';
  const logo = brand?.logoUrl?.startsWith('https://')
    ? `<img src="${escapeHtml(brand.logoUrl)}" alt="${name}" height="40">`
    : name
      ? `<p class="brand">${name}</p>`
      : '';
  const form = options.confirmAction
    ? `<form method="post" action="${escapeHtml(options.confirmAction)}">
        <input type="hidden" name="List-Unsubscribe" value="One-Click">
        <button type="submit">${escapeHtml(options.confirmLabel ?? 'Unsubscribe')}</button>
      </form>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(options.title)}</title>
<style>
  body { margin: 0; font: 16px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1f2937; background: #f4f5f7; }
  main { max-width: 32rem; margin: 3rem auto; padding: 2rem; background: #fff; border-top: 4px solid ${colour}; border-radius: 6px; }
  h1 { font-size: 1.4rem; margin: 0 0 0.75rem; }
  .brand { font-weight: 600; color: #374151; }
  button { font: inherit; color: #fff; background: ${colour}; border: 0; border-radius: 4px; padding: 0.6rem 1.4rem; cursor: pointer; }
  button:focus-visible { outline: 3px solid #1f2937; outline-offset: 2px; }
</style>
</head>
<body>
<main>
  ${logo}
  <h1>${escapeHtml(options.title)}</h1>
  <p>${escapeHtml(options.message)}</p>
  ${form}
</main>
</body>
</html>`;
}
