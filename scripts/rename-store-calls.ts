/**
 * The mechanical rename of the store's flat methods to its parts (src/store/concerns.ts FLAT):
 * `store.getJob(id)` becomes `store.reads.job(id)`, `store.registerBot(...)` `store.bots.register(...)`.
 * Type-aware (the TypeScript checker): a property access is renamed only when its receiver is a
 * store, a value whose type has the flat method and the part that holds it, so a `complete` or
 * `close` of anything else is left alone. Run it again after merging a branch that still calls
 * the flat methods: `npm run build && node dist/scripts/rename-store-calls.js` (writes in place).
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { FLAT } from '../src/store/concerns';

const root = path.join(__dirname, '..', '..');
const config = ts.getParsedCommandLineOfConfigFile(
  path.join(root, 'tsconfig.json'),
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    },
  },
)!;
const program = ts.createProgram(config.fileNames, config.options);
const checker = program.getTypeChecker();
const flat = FLAT as Record<string, readonly [string, string]>;

/** the receiver is a store: its type has the part, and the part the method (whether it still has the flat one or not) */
function isStore(receiver: ts.Expression, name: string): boolean {
  const [part, method] = flat[name];
  const type = checker.getTypeAtLocation(receiver);
  const partSymbol = type.getProperty(part);
  if (!partSymbol) return false;
  return checker.getTypeOfSymbolAtLocation(partSymbol, receiver).getProperty(method) !== undefined;
}

let files = 0;
let renamed = 0;
for (const sf of program.getSourceFiles()) {
  if (sf.isDeclarationFile || sf.fileName.includes('node_modules') || !sf.fileName.startsWith(root)) continue;
  // the adapters' own parts call each other by part already (and hold parts under the same names)
  if (/src\/store\/(redis|memory)\//.test(sf.fileName)) continue;
  const edits: { at: number; end: number; text: string }[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isPropertyAccessExpression(node) &&
      Object.hasOwn(flat, node.name.text) &&
      isStore(node.expression, node.name.text)
    ) {
      const [part, method] = flat[node.name.text];
      edits.push({ at: node.name.getStart(sf), end: node.name.getEnd(), text: `${part}.${method}` });
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  if (edits.length === 0) continue;
  let text = sf.getFullText();
  for (const e of edits.sort((a, b) => b.at - a.at)) text = text.slice(0, e.at) + e.text + text.slice(e.end);
  fs.writeFileSync(sf.fileName, text);
  files++;
  renamed += edits.length;
}
console.log(`renamed ${renamed} calls in ${files} files`);
