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
const engineOptions = { strictFilters: true, ownPropertyOnly: true, timezoneOffset: 0 } as const;
const engine = new Liquid(engineOptions);
/** For HTML parts: every value a tag prints is escaped, so lead data cannot inject markup. */
const htmlEngine = new Liquid({ ...engineOptions, outputEscape: 'escape' });

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
  const { variables } = engine.analyzeSync(templates);
  for (const uses of Object.values(variables)) {
    for (const use of uses) {
      if (!isKnown(use.segments)) {
        const tag = describe(use.segments);
        throw new TemplateError(`unknown merge tag {{ ${tag} }}`, tag);
      }
    }
  }
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
  return (options.escapeHtml ? htmlEngine : engine).parseAndRenderSync(source, mergeData(context));
}
