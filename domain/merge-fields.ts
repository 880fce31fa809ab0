import { Liquid, type Template } from 'liquidjs';

// Merge tags in subjects and bodies are Liquid: `{{ first_name }}`,
// `{{ first_name | default: "there" }}`, `{{ custom.plan }}`, `{{ sender.name }}`.
// Templates only ever see the fields below: a tag cannot reach anything else of the lead, the
// account or the process.

export const LEAD_FIELDS = ['first_name', 'last_name', 'full_name', 'email', 'company', 'title', 'phone'] as const;
export const SENDER_FIELDS = ['name', 'email', 'company', 'signature'] as const;

/**
 * What a template may do. Templates are written by one tenant and rendered on threads every
 * tenant shares, so their cost must be bounded before they run, not discovered while they do:
 * - no loops and no variables (`for`, `tablerow`, `cycle`, `assign`, `capture` …): each tag runs
 *   at most once per render, so the work is linear in the template;
 * - at most MAX_TEMPLATE_TAGS tags per template (Liquid's parser and analyser slow down
 *   sharply with thousands of them);
 * - only filters that read nothing but their arguments: no `date` (it reads the clock, and a
 *   retried send must render the same bytes), no `sample`/random, no hashing or JSON;
 * - every string a filter makes, and everything a tag prints, is charged to Liquid's memory
 *   limit before it is kept, so no combination of filters and long lead values can build a
 *   large string. The time limit is only a backstop: deterministic limits decide.
 * Templates get no file system either (Liquid would otherwise read any file under the working
 * directory: `{% include ".env" %}`).
 */
export const TEMPLATE_TAGS = ['if', 'unless', 'case', 'comment', 'raw', '#'] as const;
export const TEMPLATE_FILTERS = [
  'default',
  'upcase',
  'downcase',
  'capitalize',
  'strip',
  'lstrip',
  'rstrip',
  'strip_newlines',
  'normalize_whitespace',
  'squish',
  'truncate',
  'truncatewords',
  'append',
  'prepend',
  'remove',
  'remove_first',
  'remove_last',
  'replace',
  'replace_first',
  'replace_last',
  'split',
  'first',
  'last',
  'size',
  'slice',
  'escape',
  'url_encode',
  'plus',
  'minus',
  'times',
  'divided_by',
  'modulo',
  'round',
  'floor',
  'ceil',
  'abs',
  'at_least',
  'at_most',
  'number_of_words',
] as const;
export const MAX_TEMPLATE_TAGS = 200;
/** Characters a render may allocate in all (strings made by filters and printed output). */
export const RENDER_MEMORY_LIMIT = 100_000;

const engineOptions = {
  strictFilters: true,
  ownPropertyOnly: true,
  timezoneOffset: 0,
  templates: {},
  parseLimit: 200_000,
  // A backstop only (wall-clock time varies with load): the deterministic limits above decide.
  renderLimit: 10_000,
  memoryLimit: RENDER_MEMORY_LIMIT,
} as const;

type Charge = { context: { memoryLimit: { use(n: number): void } } };
const lengthOf = (value: unknown) => (typeof value === 'string' ? value.length : Array.isArray(value) ? value.length : 0);

/**
 * CommonMark lets any ASCII punctuation be escaped with a backslash: a lead named
 * `[Claim](https://evil.test)` or `![x](https://track.test/p.gif)` stays text, not a link or an
 * image. Line breaks would start new blocks, so they become spaces.
 */
export function escapeMarkdown(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').replace(/[!-/:-@[-`{-~]/g, (c) => `\\${c}`);
}

function restrictedEngine(escape: (value: string) => string): Liquid {
  const liquid = new Liquid({
    ...engineOptions,
    outputEscape(this: Charge, value: unknown) {
      const text = escape(value === null || value === undefined ? '' : String(value));
      this.context.memoryLimit.use(text.length);
      return text;
    },
  });
  const internals = liquid as unknown as { tags: Record<string, unknown>; filters: Record<string, (...args: unknown[]) => unknown> };
  for (const name of Object.keys(internals.tags)) {
    if ((TEMPLATE_TAGS as readonly string[]).includes(name)) continue;
    liquid.registerTag(name, {
      parse() {
        throw new Error(`{% ${name} %} is not available in emails (use if, unless or case)`);
      },
      render() {},
    });
  }
  for (const name of Object.keys(internals.filters)) {
    if (!(TEMPLATE_FILTERS as readonly string[]).includes(name)) delete internals.filters[name];
  }
  for (const name of TEMPLATE_FILTERS) {
    const original = internals.filters[name]!;
    liquid.registerFilter(name, function (this: Charge, ...args: unknown[]) {
      // `replace` multiplies: charge what it will make before making it.
      if (name === 'replace' && typeof args[0] === 'string' && typeof args[1] === 'string' && typeof args[2] === 'string') {
        const occurrences = args[1] === '' ? args[0].length + 1 : args[0].split(args[1]).length - 1;
        this.context.memoryLimit.use(occurrences * args[2].length);
      }
      const result = original.apply(this, args);
      this.context.memoryLimit.use(lengthOf(result));
      return result;
    });
  }
  return liquid;
}
const engine = restrictedEngine((value) => value);
/** For bodies: every printed value is Markdown text, whatever it holds (the HTML is made after). */
const markdownEngine = restrictedEngine(escapeMarkdown);

export class TemplateError extends Error {
  constructor(
    message: string,
    readonly tag?: string,
    /** The API's machine code for it. */
    readonly code: 'unknown_merge_tag' | 'invalid_template' | 'template_too_complex' = tag ? 'unknown_merge_tag' : 'invalid_template',
  ) {
    super(message);
  }
}

export function parseTemplate(source: string, liquid: Liquid = engine): Template[] {
  const tags = source.match(/\{[{%]/g)?.length ?? 0;
  if (tags > MAX_TEMPLATE_TAGS) {
    throw new TemplateError(
      `a template may hold at most ${MAX_TEMPLATE_TAGS} merge tags and conditions (this one has ${tags})`,
      undefined,
      'template_too_complex',
    );
  }
  try {
    return liquid.parse(source);
  } catch (error) {
    throw new TemplateError(`invalid merge tag syntax: ${(error as Error).message.split(', line')[0]}`);
  }
}

/**
 * A custom field's name: letters, digits and `_`, and never a name every JavaScript object
 * already answers to (`constructor`, `__proto__` …), which would pass for a field the lead has
 * or vanish on the way in.
 */
const INHERITED_NAMES = new Set(Object.getOwnPropertyNames(Object.prototype));
export const isCustomFieldName = (name: string) => /^[A-Za-z0-9_]{1,64}$/.test(name) && !INHERITED_NAMES.has(name);

type Segment = string | number | object;

/** `custom[some_var]` style lookups are dynamic: never a known field. */
const segmentText = (s: Segment) => (typeof s === 'object' ? '[…]' : String(s));

function describe(segments: Segment[]): string {
  return segments.map(segmentText).join('.');
}

function isKnown(segments: Segment[]): boolean {
  if (segments.some((s) => typeof s === 'object')) return false;
  const [root, child, ...rest] = segments.map(String);
  if (rest.length) return false;
  if (root === 'custom') return child !== undefined && isCustomFieldName(child);
  if (root === 'sender') return (SENDER_FIELDS as readonly string[]).includes(child ?? '');
  return child === undefined && (LEAD_FIELDS as readonly string[]).includes(root ?? '');
}

/** Rejects tags that name no field we know. Called when a step is saved. */
export function assertKnownMergeTags(source: string): void {
  const templates = parseTemplate(source);
  let variables: ReturnType<typeof engine.analyzeSync>['variables'];
  try {
    ({ variables } = engine.analyzeSync(templates));
  } catch (error) {
    throw new TemplateError(`invalid merge tag syntax: ${(error as Error).message.split(', line')[0]}`);
  }
  for (const uses of Object.values(variables)) {
    for (const use of uses) {
      if (!isKnown(use.segments)) {
        const tag = describe(use.segments);
        throw new TemplateError(`unknown merge tag {{ ${tag} }}`, tag);
      }
    }
  }
  // A template that cannot render within the limits with every field at its longest is refused
  // now, not discovered at send time.
  const custom = Object.values(variables)
    .flatMap((uses) => uses.map((u) => u.segments.map(String)))
    .filter(([root]) => root === 'custom');
  const longest: MergeContext = {
    lead: Object.fromEntries(LEAD_FIELDS.map((f) => [f, 'x'.repeat(FIELD_MAX_LENGTH[f])])) as MergeContext['lead'],
    custom: Object.fromEntries(custom.map(([, name]) => [name!, 'x'.repeat(CUSTOM_FIELD_MAX_LENGTH)])),
    sender: Object.fromEntries(SENDER_FIELDS.map((f) => [f, 'x'.repeat(FIELD_MAX_LENGTH[f])])) as MergeContext['sender'],
  };
  renderTemplate(source, longest);
  renderTemplate(source, longest, { forMarkdown: true });
}

/** The longest value each field may hold (the lead and account schemas enforce them). */
export const FIELD_MAX_LENGTH = {
  first_name: 200,
  last_name: 200,
  full_name: 401,
  email: 320,
  company: 200,
  title: 200,
  phone: 50,
  name: 200,
  signature: 5000,
} as const satisfies Record<(typeof LEAD_FIELDS)[number] | (typeof SENDER_FIELDS)[number], number>;
export const CUSTOM_FIELD_MAX_LENGTH = 2000;

/**
 * Fields a template prints with no `default` fallback. A lead missing one of them is refused at
 * enrolment, so nobody gets "Hi ,".
 */
export function requiredMergeFields(source: string): string[] {
  const required = new Set<string>();
  for (const tpl of parseTemplate(source)) {
    const output = tpl as unknown as {
      value?: { filters: { name: string }[]; initial: { postfix: { getText(): string }[] } };
    };
    if (!output.value || tpl.constructor.name !== 'Output') continue;
    if (output.value.filters.some((f) => f.name === 'default')) continue;
    const [first] = output.value.initial.postfix;
    if (output.value.initial.postfix.length === 1 && first) required.add(first.getText());
  }
  return [...required];
}

export interface MergeContext {
  lead: Record<(typeof LEAD_FIELDS)[number], string>;
  custom: Record<string, string>;
  sender: Record<(typeof SENDER_FIELDS)[number], string>;
}

/**
 * The data a template sees: own fields only, on objects with no prototype, so `{{ custom.constructor }}`
 * finds nothing rather than Object's constructor.
 */
export function mergeData(context: MergeContext): Record<string, unknown> {
  const own = (values: Record<string, string>) => Object.assign(Object.create(null) as Record<string, string>, values);
  return Object.assign(Object.create(null) as Record<string, unknown>, own(context.lead), {
    custom: own(context.custom),
    sender: own(context.sender),
  });
}

/** Fields in `required` that are empty for this lead. */
export function missingMergeFields(required: string[], context: MergeContext): string[] {
  const data = mergeData(context);
  return required.filter((path) => {
    const value = path
      .split('.')
      .reduce<unknown>(
        (obj, key) => (obj && typeof obj === 'object' && Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined),
        data,
      );
    return typeof value !== 'string' || value.trim() === '';
  });
}

/**
 * Renders a subject or body. `forMarkdown`: every value a tag prints is escaped as Markdown text
 * (bodies are Markdown; the HTML is made from them after), so lead data never becomes markup.
 */
export function renderTemplate(source: string, context: MergeContext, options: { forMarkdown?: boolean } = {}): string {
  const liquid = options.forMarkdown ? markdownEngine : engine;
  const templates = parseTemplate(source, liquid);
  try {
    return liquid.renderSync(templates, mergeData(context)) as string;
  } catch (error) {
    // Over a limit, or a tag refused since the template was saved: the template's fault, not ours.
    throw new TemplateError(`the template cannot be rendered: ${(error as Error).message.split(', line')[0]}`);
  }
}
