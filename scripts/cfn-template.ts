/**
 * Reading a packaged CloudFormation template the way CloudFormation will deploy it, for
 * `npm run check:deploy` (scripts/deploy-checks.ts). Pure functions over the JSON.
 */

/** Template JSON: shapes vary by resource type and are checked where they are read. */
export type Cfn = any;

export interface Template {
  readonly Resources: Record<string, Cfn>;
  readonly Conditions?: Record<string, Cfn>;
  readonly Outputs?: Record<string, Cfn>;
}

const NO_VALUE = Symbol('AWS::NoValue');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What CloudFormation would create: every condition decided (they compare literals once the
 * framework has resolved its variables), resources and outputs whose condition is false left out,
 * `Fn::If` replaced by its branch, `AWS::NoValue` removed. Throws on a condition it cannot decide
 * (one that depends on a stack parameter): then nothing below could be judged either.
 */
export function effectiveTemplate(template: Template): Template {
  const conditions = template.Conditions ?? {};
  const decided = new Map<string, boolean>();

  const condition = (name: string): boolean => {
    let value = decided.get(name);
    if (value === undefined) {
      if (!(name in conditions)) throw new Error(`unknown condition "${name}"`);
      value = evaluate(conditions[name]);
      decided.set(name, value);
    }
    return value;
  };
  const literal = (value: unknown): string => {
    const v = resolve(value);
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw new Error(`cannot decide a condition on ${JSON.stringify(v)}`);
  };
  function evaluate(expression: Cfn): boolean {
    if (isObject(expression)) {
      if (typeof expression.Condition === 'string') return condition(expression.Condition);
      const [fn, args] = Object.entries(expression)[0] ?? [];
      if (fn === 'Fn::Equals' && Array.isArray(args)) return literal(args[0]) === literal(args[1]);
      if (fn === 'Fn::Not' && Array.isArray(args)) return !evaluate(args[0]);
      if (fn === 'Fn::And' && Array.isArray(args)) return args.every(evaluate);
      if (fn === 'Fn::Or' && Array.isArray(args)) return args.some(evaluate);
    }
    throw new Error(`cannot decide condition ${JSON.stringify(expression)}`);
  }
  function resolve(value: Cfn): Cfn {
    if (Array.isArray(value)) return value.map(resolve).filter((v) => v !== NO_VALUE);
    if (!isObject(value)) return value;
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === 'Fn::If' && Array.isArray(value['Fn::If'])) {
      const [name, yes, no] = value['Fn::If'] as [string, Cfn, Cfn];
      return resolve(condition(name) ? yes : no);
    }
    if (keys.length === 1 && value.Ref === 'AWS::NoValue') return NO_VALUE;
    const out: Record<string, Cfn> = {};
    for (const [k, v] of Object.entries(value)) {
      const r = resolve(v);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }
  const kept = (entries: Record<string, Cfn> | undefined) =>
    Object.fromEntries(
      Object.entries(entries ?? {})
        .filter(([, r]) => typeof r?.Condition !== 'string' || condition(r.Condition))
        .map(([id, r]) => [id, resolve(r)]),
    );
  return { Resources: kept(template.Resources), Outputs: kept(template.Outputs), Conditions: template.Conditions };
}

/**
 * An intrinsic as text, in Fn::Sub's notation: `{Ref: X}` is `${X}`, `{Fn::GetAtt: [X, A]}` is
 * `${X.A}`, Fn::Join joins. ARNs then compare as strings; `arn:${AWS::Partition}:` reads as `arn:aws:`.
 */
export function render(value: Cfn): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isObject(value)) {
    if (typeof value.Ref === 'string') return `\${${value.Ref}}`;
    const getAtt = value['Fn::GetAtt'];
    if (Array.isArray(getAtt)) return `\${${getAtt.join('.')}}`;
    if (typeof getAtt === 'string') return `\${${getAtt}}`;
    const join = value['Fn::Join'];
    if (Array.isArray(join) && Array.isArray(join[1])) return join[1].map(render).join(String(join[0]));
    const sub = value['Fn::Sub'];
    if (typeof sub === 'string') return sub;
  }
  return JSON.stringify(value);
}

export const renderArn = (value: Cfn) => render(value).replace(/^arn:\$\{AWS::Partition\}:/, 'arn:aws:');

/** The text of a string built only from literals (a plain string, or an Fn::Join of strings). */
export function literalText(value: Cfn): string | undefined {
  if (typeof value === 'string') return value;
  const join = isObject(value) ? value['Fn::Join'] : undefined;
  if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1]) && join[1].every((p: unknown) => typeof p === 'string')) {
    return join[1].join(join[0]);
  }
  return undefined;
}

/** One IAM statement of an identity policy, flattened. */
export interface Grant {
  /** Where it is written: `<logical id>/<policy name>`. */
  readonly source: string;
  /** The roles (logical ids) it applies to. */
  readonly roles: readonly string[];
  readonly effect: string;
  readonly actions: readonly string[];
  /** True when the statement uses NotAction (then `actions` are the exceptions). */
  readonly notAction: boolean;
  readonly resources: readonly string[];
  readonly condition?: Cfn;
}

const list = (value: Cfn): Cfn[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Every statement of every role's inline policies and every IAM policy attached to a role. */
export function identityGrants(template: Template): Grant[] {
  const grants: Grant[] = [];
  for (const [id, resource] of Object.entries(template.Resources)) {
    const type = resource.Type;
    let roles: string[];
    let policies: Cfn[];
    if (type === 'AWS::IAM::Role') {
      roles = [id];
      policies = list(resource.Properties?.Policies);
    } else if (type === 'AWS::IAM::Policy' || type === 'AWS::IAM::ManagedPolicy') {
      roles = list(resource.Properties?.Roles).map((r: Cfn) => (isObject(r) && typeof r.Ref === 'string' ? r.Ref : render(r)));
      policies = [{ PolicyName: resource.Properties?.PolicyName ?? id, PolicyDocument: resource.Properties?.PolicyDocument }];
    } else continue;
    for (const policy of policies) {
      for (const s of list(policy?.PolicyDocument?.Statement)) {
        grants.push({
          source: `${id}/${render(policy?.PolicyName ?? '')}`,
          roles,
          effect: s.Effect,
          actions: list(s.Action ?? s.NotAction).map(String),
          notAction: s.NotAction !== undefined,
          resources: list(s.Resource ?? s.NotResource).map(renderArn),
          condition: s.Condition,
        });
      }
    }
  }
  return grants;
}

/** The logical id of the role a function runs with (`Fn::GetAtt: [Role, Arn]`). */
export function roleOf(fn: Cfn): string | undefined {
  const role = fn?.Properties?.Role;
  const getAtt = isObject(role) ? role['Fn::GetAtt'] : undefined;
  return Array.isArray(getAtt) ? String(getAtt[0]) : undefined;
}

export const ofType = (template: Template, type: string): [string, Cfn][] =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === type);

/** Logical ids a value refers to (`Ref`, `Fn::GetAtt`), pseudo parameters left out. */
export function referencedIds(value: Cfn, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(value)) value.forEach((v) => referencedIds(v, found));
  else if (isObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      if (key === 'Ref' && typeof v === 'string' && !v.startsWith('AWS::')) found.add(v);
      else if (key === 'Fn::GetAtt') found.add(String(Array.isArray(v) ? v[0] : String(v).split('.')[0]));
      else referencedIds(v, found);
    }
  }
  return found;
}

/** `action resource` lines of grants, one per action and resource, to compare as sets. */
export const grantPairs = (grants: readonly Grant[]): string[] => grants.flatMap((g) => g.actions.flatMap((a) => g.resources.map((r) => `${a} ${r}`)));

/** What `got` lacks of `want` and holds beyond it, as `missing …` / `unexpected …` lines. */
export function setDifference(want: readonly string[], got: readonly string[]): string[] {
  const missing = want.filter((w) => !got.includes(w));
  const extra = got.filter((g) => !want.includes(g));
  return [...missing.map((m) => `missing ${m}`), ...extra.map((e) => `unexpected ${e}`)];
}

/** The logical id a value names with `Ref` or `Fn::GetAtt`, if it is only that. */
export function refId(value: Cfn): string | undefined {
  if (!isObject(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return String(getAtt[0]);
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
}
