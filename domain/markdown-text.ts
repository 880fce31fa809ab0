/**
 * Text of ours with data in it (a lead's email, a sequence's name, a subject) as the Temporal UI
 * shows it: it renders workflow summaries and details as Markdown, so a name such as
 * `[Click here](https://evil.test)` or `<img src=x>` must arrive as the characters it is, not as a
 * link or markup an operator may click. CommonMark lets any ASCII punctuation be escaped with a
 * backslash (spec §2.4), which shows the character and gives it no meaning; line breaks become
 * spaces (a summary is one line) and the text is cut to `max` characters first, so an escape is
 * never cut in half.
 */
export const SUMMARY_MAX_LENGTH = 200;

export function markdownText(text: string, max = SUMMARY_MAX_LENGTH): string {
  // eslint-disable-next-line no-control-regex
  const oneLine = text.replace(/[\r\n\t]+/g, ' ').replace(/[\u0000-\u001f\u007f]/g, '');
  const cut = [...oneLine].length > max ? `${[...oneLine].slice(0, max - 1).join('')}…` : oneLine;
  return cut.replace(/[!-/:-@[-`{-~]/g, '\\$&');
}
