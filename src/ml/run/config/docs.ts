// The key table in words: `dml train --help` and the README's key table (checked against the README
// by a test; `node scripts/update-readme-keys.mjs` rewrites it).
import { CONFIG_KEY_LIST, type ConfigKey } from './keys.js';
import { acceptedText } from './key-types.js';

const shown = (k: ConfigKey): string =>
  k.defaultText ??
  (Array.isArray(k.default) ? k.default.join(',') : typeof k.default === 'object' ? '{}' : JSON.stringify(k.default));

/** The key list of `dml train --help`. */
export function configKeysHelp(width = 100): string {
  const lines: string[] = [];
  for (const k of CONFIG_KEY_LIST) {
    lines.push(`  ${k.key} = ${shown(k)}   (${acceptedText(k)})`);
    const words = k.doc.split(' ');
    let line = '     ';
    for (const w of words) {
      if (line.length + w.length + 1 > width) {
        lines.push(line);
        line = '     ';
      }
      line += ` ${w}`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}

/** The README's key table. */
export function configKeysMarkdown(): string {
  const cell = (s: string): string => s.replace(/\|/g, '\\|');
  const rows = CONFIG_KEY_LIST.map(
    (k) => `| \`${k.key}\` | ${cell(acceptedText(k))} | \`${cell(shown(k))}\` | ${cell(k.doc)} |`,
  );
  return ['| key | accepts | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
