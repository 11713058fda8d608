// The public entry ('edgevisor' = supervisor/src/index.ts): every export is documented where it is
// declared (what an editor shows on hover), the apps import only the entry, and importing it
// loads neither dockerode nor better-sqlite3.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '../..');
const entry = join(root, 'supervisor/src/index.ts');
const parsed = new Map<string, ts.SourceFile>();
const parse = (file: string) => {
  let sf = parsed.get(file);
  if (!sf) {
    sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
    parsed.set(file, sf);
  }
  return sf;
};
const hasDoc = (node: ts.Node) => ts.getJSDocCommentsAndTags(node).some((d) => ts.isJSDoc(d) && (d.comment !== undefined || (d.tags?.length ?? 0) > 0));
const declName = (s: ts.Statement): string[] => {
  if (ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s) || ts.isInterfaceDeclaration(s) || ts.isTypeAliasDeclaration(s) || ts.isEnumDeclaration(s)) return s.name ? [s.name.text] : [];
  if (ts.isVariableStatement(s)) return s.declarationList.declarations.flatMap((d) => (ts.isIdentifier(d.name) ? [d.name.text] : []));
  return [];
};

/** Whether `name`, exported by `file`, is documented at its declaration (following re-exports). */
function documented(file: string, name: string, depth = 0): boolean | 'not found' {
  assert.ok(depth < 10, `re-export loop at ${file}`);
  const sf = parse(file);
  for (const s of sf.statements) {
    if (declName(s).includes(name)) return hasDoc(s);
    if (ts.isExportDeclaration(s) && s.moduleSpecifier && ts.isStringLiteral(s.moduleSpecifier)) {
      const target = resolve(dirname(file), s.moduleSpecifier.text);
      if (!s.exportClause) {
        const r = documented(target, name, depth + 1); // export * / export type *
        if (r !== 'not found') return r;
      } else if (ts.isNamedExports(s.exportClause)) {
        const el = s.exportClause.elements.find((e) => e.name.text === name);
        if (el) return documented(target, (el.propertyName ?? el.name).text, depth + 1);
      }
    }
  }
  return 'not found';
}

test('every export of the public entry has TSDoc where it is declared', () => {
  const sf = parse(entry);
  const names: string[] = [];
  const missing: string[] = [];
  for (const s of sf.statements) {
    for (const n of declName(s)) {
      if (!(ts.canHaveModifiers(s) && ts.getModifiers(s)?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword))) continue;
      names.push(n);
      if (!hasDoc(s)) missing.push(n);
    }
    if (!ts.isExportDeclaration(s) || !s.exportClause || !ts.isNamedExports(s.exportClause) || !s.moduleSpecifier || !ts.isStringLiteral(s.moduleSpecifier)) continue;
    const target = resolve(dirname(entry), s.moduleSpecifier.text);
    for (const el of s.exportClause.elements) {
      names.push(el.name.text);
      const r = documented(target, (el.propertyName ?? el.name).text);
      assert.notEqual(r, 'not found', `${el.name.text}: no declaration found in ${relative(root, target)}`);
      if (!r) missing.push(`${el.name.text} (${relative(root, target)})`);
    }
  }
  assert.ok(names.length > 60, `only ${names.length} exports seen: the walk is broken`);
  assert.deepEqual(missing, [], 'exports without TSDoc');
});

test("the apps import edgevisor only through its entry ('edgevisor'), never supervisor/src", () => {
  const offenders: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (name === 'node_modules') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.(ts|mts|js|mjs)$/.test(name)) {
        readFileSync(p, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            if (/(from\s+|import\s*\()['"][^'"]*supervisor\/src\//.test(line)) offenders.push(`${relative(root, p)}:${i + 1}`);
          });
      }
    }
  };
  walk(join(root, 'apps'));
  walk(join(root, 'examples'));
  assert.deepEqual(offenders, []);
});

test('importing the entry loads neither dockerode nor better-sqlite3', async () => {
  const script = [
    "import { createRequire } from 'node:module';",
    "const m = await import('edgevisor');",
    "if (typeof m.createTree !== 'function') throw new Error('no createTree');",
    'const loaded = Object.keys(createRequire(import.meta.url).cache);',
    "console.log(JSON.stringify(loaded.filter((k) => /node_modules\\/(dockerode|better-sqlite3|docker-modem)\\//.test(k))));",
  ].join('\n');
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, timeout: 60_000 });
  assert.deepEqual(JSON.parse(stdout.trim()), []);
});
