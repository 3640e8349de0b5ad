// Rewrites the README's configuration-key table from src/ml/train/config-keys.ts (after `npm run build`).
//   node scripts/update-readme-keys.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { configKeysMarkdown } from '../dist/src/ml/train/config-keys.js';

const file = new URL('../README.md', import.meta.url);
const text = readFileSync(file, 'utf8');
const re = /(<!-- config-keys:start -->\n)[\s\S]*?(\n<!-- config-keys:end -->)/;
if (!re.test(text)) throw new Error('README.md: the config-keys markers are missing');
writeFileSync(file, text.replace(re, (_, a, b) => a + configKeysMarkdown() + b));
