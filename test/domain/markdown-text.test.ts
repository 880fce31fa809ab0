import MarkdownIt from 'markdown-it';
import { describe, expect, it } from 'vitest';
import { markdownText, SUMMARY_MAX_LENGTH } from '../../domain/markdown-text.js';

// The Temporal UI renders summaries as Markdown; CommonMark's reference behaviour (markdown-it)
// stands in for it: what we write must come out as the characters it is, and nothing more.
const md = new MarkdownIt({ html: true, linkify: true });
const rendered = (text: string) => md.renderInline(text);

describe('text of ours shown in the Temporal UI', () => {
  it.each([
    ['a link', '[Click here](https://evil.test/login)'],
    ['raw HTML', '<img src=x onerror=alert(1)>'],
    ['emphasis and code', '**urgent** _now_ `rm -rf`'],
    ['an autolink', '<https://evil.test>'],
    ['an entity', '&lt;script&gt;'],
    ['a heading and a list marker', '# Title - item + item'],
  ])('shows %s as the characters written, with no link or markup', (_what, text) => {
    const html = rendered(markdownText(text));
    expect(html).not.toMatch(/<a |<img|<strong|<em|<code|<script/);
    // What the reader sees is the text itself (HTML-escaped by the renderer).
    expect(
      html
        .replace(/&lt;/g, '<')
        .replace(/&gt;/g, '>')
        .replace(/&quot;/g, '"')
        .replace(/&amp;/g, '&'),
    ).toBe(text);
  });

  it('is one line, without control characters', () => {
    expect(markdownText('first\r\nsecond\tthird\u0007')).toBe('first second third');
  });

  it('is cut to its length before escaping, so no escape is cut in half', () => {
    const long = '['.repeat(SUMMARY_MAX_LENGTH * 2);
    const text = markdownText(long);
    expect(text.endsWith('…')).toBe(true);
    expect(text).toBe(`${'\\['.repeat(SUMMARY_MAX_LENGTH - 1)}…`);
  });

  it('leaves letters, digits, spaces and non-ASCII text as they are', () => {
    expect(markdownText('Olá Zoë 42 日本')).toBe('Olá Zoë 42 日本');
  });
});
