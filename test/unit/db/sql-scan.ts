/**
 * Finds SQL text in src/ that is built from non-constant parts: template literals and `+` chains
 * whose constant text looks like SQL, with the interpolated expressions. Used by sql-safety.test.ts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export const SQL_TEXT = /\b(SELECT\s|INSERT\s+INTO|UPDATE\s+\S+\s+(AS\s+\S+\s+)?(SET|JOIN)|DELETE\s+FROM|\sWHERE\s|\sVALUES\s|CREATE\s+TABLE|ALTER\s+TABLE|ORDER\s+BY|\sFROM\s|\sLIKE\s|\s=\s\?|\sIN\s\()/;

export interface Interpolation {
  file: string;
  line: number;
  expr: string;
}

export interface QueryCall {
  file: string;
  line: number;
  callee: string;
  args: string[];
  argKinds: ts.SyntaxKind[];
}

export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function flattenPlus(n: ts.Expression, parts: ts.Expression[]): void {
  if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    flattenPlus(n.left, parts);
    flattenPlus(n.right, parts);
  } else if (ts.isParenthesizedExpression(n)) flattenPlus(n.expression, parts);
  else parts.push(n);
}

function isConstantText(n: ts.Node): boolean {
  return ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n);
}

export interface ScanResult {
  interpolations: Interpolation[];
  calls: QueryCall[];
  imports: Array<{ file: string; module: string }>;
}

export function scan(root: string, srcDir: string): ScanResult {
  const out: ScanResult = { interpolations: [], calls: [], imports: [] };
  for (const path of sourceFiles(srcDir)) scanSource(relative(root, path), readFileSync(path, 'utf8'), out);
  return out;
}

export function scanSource(file: string, text: string, out: ScanResult = { interpolations: [], calls: [], imports: [] }): ScanResult {
  const { interpolations, calls, imports } = out;
  {
    const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const lineOf = (n: ts.Node) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
    const visit = (n: ts.Node): void => {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) imports.push({ file, module: n.moduleSpecifier.text });
      if (ts.isCallExpression(n) && n.expression.kind === ts.SyntaxKind.ImportKeyword && n.arguments[0] && ts.isStringLiteral(n.arguments[0])) {
        imports.push({ file, module: n.arguments[0].text });
      }
      if (ts.isTemplateExpression(n)) {
        const text = n.head.text + n.templateSpans.map((s) => ' ' + s.literal.text).join('');
        if (SQL_TEXT.test(text)) for (const s of n.templateSpans) interpolations.push({ file, line: lineOf(s.expression), expr: s.expression.getText(sf) });
      }
      if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken && !(ts.isBinaryExpression(n.parent) && n.parent.operatorToken.kind === ts.SyntaxKind.PlusToken)) {
        const parts: ts.Expression[] = [];
        flattenPlus(n, parts);
        const text = parts.filter(isConstantText).map((p) => (p as ts.StringLiteral).text).join(' ');
        if (SQL_TEXT.test(text)) for (const p of parts) if (!isConstantText(p)) interpolations.push({ file, line: lineOf(p), expr: p.getText(sf) });
      }
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && ['query', 'execute'].includes(n.expression.name.text)) {
        calls.push({ file, line: lineOf(n), callee: n.expression.getText(sf), args: n.arguments.map((a) => a.getText(sf)), argKinds: n.arguments.map((a) => a.kind) });
      }
      ts.forEachChild(n, visit);
    };
    visit(sf);
  }
  return out;
}
