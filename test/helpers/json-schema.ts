/**
 * A small JSON Schema (2020-12) validator for the keywords schemas/ uses: type, const, enum,
 * properties, required, additionalProperties, items, minItems, oneOf, anyOf, allOf, not, minimum,
 * maximum, pattern and $ref (`#/$defs/x` and `common.json#/$defs/x`, resolved in schemas/).
 * Anything else in a schema is an error, so a schema cannot silently rely on a keyword this
 * validator ignores. (No ajv: it is not a dependency of the project, and the subset is small.)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

type Schema = boolean | { [k: string]: unknown };

const KNOWN = new Set([
  '$schema', '$id', '$defs', '$ref', '$comment', 'title', 'description', 'examples',
  'type', 'const', 'enum', 'properties', 'required', 'additionalProperties', 'items', 'minItems',
  'oneOf', 'anyOf', 'allOf', 'not', 'minimum', 'maximum', 'pattern',
]);

export class SchemaSet {
  readonly docs = new Map<string, Schema>();

  constructor(readonly dir: string) {
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.json'))) this.docs.set(f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as Schema);
  }

  /** Error messages (empty: valid). `file` is a schema file name in the directory, e.g. htable-get.json. */
  validate(file: string, value: unknown): string[] {
    const doc = this.docs.get(file);
    if (doc === undefined) return [`no schema ${file}`];
    const errors: string[] = [];
    this.check(doc, value, '$', file, errors);
    return errors;
  }

  private resolve(ref: string, base: string): [Schema, string] {
    const [fileRaw, pointer = ''] = ref.split('#');
    const file = fileRaw === '' || fileRaw === undefined ? base : fileRaw;
    let node: unknown = this.docs.get(file);
    if (node === undefined) throw new Error(`$ref ${ref} (in ${base}): no schema file ${file}`);
    for (const part of pointer.split('/').filter(Boolean)) {
      node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
      if (node === undefined) throw new Error(`$ref ${ref} (in ${base}): nothing at ${pointer}`);
    }
    return [node as Schema, file];
  }

  private check(schema: Schema, v: unknown, path: string, base: string, errors: string[]): void {
    if (schema === true) return;
    if (schema === false) {
      errors.push(`${path}: not allowed`);
      return;
    }
    for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`schema keyword ${k} (in ${base}) is not supported by test/helpers/json-schema.ts`);
    const s = schema as Record<string, unknown>;
    if (typeof s.$ref === 'string') {
      const [target, file] = this.resolve(s.$ref, base);
      this.check(target, v, path, file, errors);
    }
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => isType(v, t))) {
        errors.push(`${path}: expected ${types.join(' or ')}, got ${JSON.stringify(v)?.slice(0, 80)}`);
        return;
      }
    }
    if ('const' in s && JSON.stringify(s.const) !== JSON.stringify(v)) errors.push(`${path}: expected ${JSON.stringify(s.const)}, got ${JSON.stringify(v)?.slice(0, 80)}`);
    if (Array.isArray(s.enum) && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) errors.push(`${path}: ${JSON.stringify(v)?.slice(0, 80)} is not one of ${JSON.stringify(s.enum)}`);
    if (typeof v === 'number') {
      if (typeof s.minimum === 'number' && v < s.minimum) errors.push(`${path}: ${v} < ${s.minimum}`);
      if (typeof s.maximum === 'number' && v > s.maximum) errors.push(`${path}: ${v} > ${s.maximum}`);
    }
    if (typeof v === 'string' && typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) errors.push(`${path}: "${v.slice(0, 80)}" does not match ${s.pattern}`);
    if (Array.isArray(v)) {
      if (typeof s.minItems === 'number' && v.length < s.minItems) errors.push(`${path}: fewer than ${s.minItems} items`);
      if (s.items !== undefined) v.forEach((item, i) => this.check(s.items as Schema, item, `${path}[${i}]`, base, errors));
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!(r in o)) errors.push(`${path}: missing ${r}`);
      for (const [k, val] of Object.entries(o)) {
        if (k in props) this.check(props[k]!, val, `${path}.${k}`, base, errors);
        else if (s.additionalProperties !== undefined) this.check(s.additionalProperties as Schema, val, `${path}.${k}`, base, errors);
      }
    }
    if (Array.isArray(s.allOf)) for (const sub of s.allOf as Schema[]) this.check(sub, v, path, base, errors);
    if (Array.isArray(s.anyOf) && !(s.anyOf as Schema[]).some((sub) => this.ok(sub, v, base))) errors.push(`${path}: matches none of anyOf${this.why(s.anyOf as Schema[], v, path, base)}`);
    if (Array.isArray(s.oneOf)) {
      const n = (s.oneOf as Schema[]).filter((sub) => this.ok(sub, v, base)).length;
      if (n !== 1) errors.push(`${path}: matches ${n} of oneOf (exactly 1 wanted)${n === 0 ? this.why(s.oneOf as Schema[], v, path, base) : ''}`);
    }
    if (s.not !== undefined && this.ok(s.not as Schema, v, base)) errors.push(`${path}: matches "not"`);
  }

  private ok(schema: Schema, v: unknown, base: string): boolean {
    const e: string[] = [];
    this.check(schema, v, '', base, e);
    return e.length === 0;
  }

  /** The first branch's complaints, so a failure says more than "none matched". */
  private why(branches: Schema[], v: unknown, path: string, base: string): string {
    const all = branches.map((b) => {
      const e: string[] = [];
      this.check(b, v, path, base, e);
      return e;
    });
    const best = all.sort((a, b) => a.length - b.length)[0] ?? [];
    return best.length ? ` (closest: ${best.slice(0, 3).join('; ')})` : '';
  }
}

function isType(v: unknown, t: string): boolean {
  switch (t) {
    case 'null': return v === null;
    case 'boolean': return typeof v === 'boolean';
    case 'string': return typeof v === 'string';
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'integer': return Number.isInteger(v);
    case 'array': return Array.isArray(v);
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v);
    default: throw new Error(`unknown type ${t}`);
  }
}
