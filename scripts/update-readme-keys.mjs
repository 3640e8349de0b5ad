// Rewrites the README's generated sections after `npm run build`: the configuration-key table from
// src/ml/run/config/keys.ts (docs.ts) and the list of losses from src/ml/losses/registry.ts.
//   node scripts/update-readme-keys.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { configKeysMarkdown } from '../dist/src/ml/run/config/docs.js';
import { lossListMarkdown } from '../dist/src/ml/losses/registry.js';

const file = new URL('../README.md', import.meta.url);
let text = readFileSync(file, 'utf8');
const sections = [
  [/(<!-- config-keys:start -->\n)[\s\S]*?(\n<!-- config-keys:end -->)/, 'config-keys', configKeysMarkdown()],
  // Inline: the list sits inside a paragraph, where a line starting with '<!--' would end it.
  [/(<!-- loss-names:start -->)[\s\S]*?(<!-- loss-names:end -->)/, 'loss-names', lossListMarkdown()],
];
for (const [re, name, body] of sections) {
  if (!re.test(text)) throw new Error(`README.md: the ${name} markers are missing`);
  text = text.replace(re, (_, a, b) => a + body + b);
}
writeFileSync(file, text);
