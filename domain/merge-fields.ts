import { Liquid, type Template } from 'liquidjs';

/**
 * Merge tags in subjects and bodies are Liquid: `{{ first_name }}`,
 * `{{ first_name | default: "there" }}`, `{{ custom.plan }}`, `{{ sender.name }}`.
 * Templates only ever see the fields below: a tag cannot reach anything else of the lead, the
 * account or the process.
 */
export const LEAD_FIELDS = ['first_name', 'last_name', 'full_name', 'email', 'company', 'title', 'phone'] as const;
export const SENDER_FIELDS = ['name', 'email', 'company', 'signature'] as const;

// Rendering must be deterministic (a retried send must produce the same payload): fixed zone.
// Templates are written by users, so they get no file system (Liquid would otherwise read any
// file under the working directory: `{% include ".env" %}`) and bounded work: a loop over
// (1..100000000) stops at the time and memory limits instead of blocking the process.
const engineOptions = {
  strictFilters: true,
  ownPropertyOnly: true,
  timezoneOffset: 0,
  templates: {},
  parseLimit: 1_000_000,
  renderLimit: 1_000,
  memoryLimit: 10_000_000,
} as const;
const FILE_TAGS = ['include', 'render', 'layout', 'block'] as const;
function withoutFileTags(liquid: Liquid): Liquid {
  for (const name of FILE_TAGS) {
    liquid.registerTag(name, {
      parse() {
        throw new Error(`{% ${name} %} is not available in emails`);
      },
      render() {},
    });
  }
  return liquid;
}
const engine = withoutFileTags(new Liquid(engineOptions));
/** For HTML parts: every value a tag prints is escaped, so lead data cannot inject markup. */
const htmlEngine = withoutFileTags(new Liquid({ ...engineOptions, outputEscape: 'escape' }));

export class TemplateError extends Error {
  constructor(message: string, readonly tag?: string) {
    super(message);
  }
}

export function parseTemplate(source: string): Template[] {
  try {
    return engine.parse(source);
  } catch (error) {
    throw new TemplateError(`invalid merge tag syntax: ${(error as Error).message.split(', line')[0]}`);
  }
}

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
  if (root === 'custom') return child !== undefined && /^[A-Za-z0-9_]+$/.test(child);
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
  // A template that cannot render within the limits (a loop over a huge range) is refused now,
  // not discovered at send time.
  renderTemplate(source, { lead: Object.fromEntries(LEAD_FIELDS.map((f) => [f, 'x'])) as MergeContext['lead'], custom: {}, sender: Object.fromEntries(SENDER_FIELDS.map((f) => [f, 'x'])) as MergeContext['sender'] });
}

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

export function mergeData(context: MergeContext): Record<string, unknown> {
  return { ...context.lead, custom: context.custom, sender: context.sender };
}

/** Fields in `required` that are empty for this lead. */
export function missingMergeFields(required: string[], context: MergeContext): string[] {
  const data = mergeData(context);
  return required.filter((path) => {
    const value = path.split('.').reduce<unknown>((obj, key) => (obj as Record<string, unknown> | undefined)?.[key], data);
    return value === undefined || value === null || String(value).trim() === '';
  });
}

export function renderTemplate(source: string, context: MergeContext, options: { escapeHtml?: boolean } = {}): string {
  try {
    return (options.escapeHtml ? htmlEngine : engine).parseAndRenderSync(source, mergeData(context));
  } catch (error) {
    // Over a limit, or a tag refused since the template was saved: the template's fault, not ours.
    throw new TemplateError(`the template cannot be rendered: ${(error as Error).message.split(', line')[0]}`);
  }
}
