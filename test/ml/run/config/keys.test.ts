// The key table is the configuration: defaults, ranges, --help and the README come from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveConfig, toOverrides } from '../../../../src/ml/run/config/resolve.js';
import { CONFIG_KEY_LIST } from '../../../../src/ml/run/config/keys.js';
import { checkValue } from '../../../../src/ml/run/config/key-types.js';
import { configKeysMarkdown, configKeysHelp } from '../../../../src/ml/run/config/docs.js';
import { makeLoss } from '../../../../src/ml/train/wiring.js';
import { tensor, type Tensor } from '../../../../src/engine/index.js';
import { CrossEntropyLoss } from '../../../../src/ml/losses/cross-entropy.js';
import { SmoothCrossEntropyLoss } from '../../../../src/ml/losses/smooth-cross-entropy.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../..');

test('the defaults are the table: every key resolves to its default, and every default passes its own check', () => {
  const c = resolveConfig({ overrides: ['epochs=30', 'batchSize=128'] }) as unknown as Record<string, unknown>;
  const leaves = new Set(toOverrides(c).map((o) => o.slice(0, o.indexOf('='))));
  for (const k of CONFIG_KEY_LIST) {
    assert.equal(checkValue(k, k.default), null, k.key);
    assert.ok(k.doc.length > 10, `${k.key} has a doc`);
    if (k.type !== 'options') assert.ok(leaves.has(k.key), `${k.key} is a key of the resolved config`);
  }
  assert.equal(
    leaves.size,
    CONFIG_KEY_LIST.filter((k) => k.type !== 'options').length,
    'no resolved key outside the table',
  );
});

test('every bounded key refuses a value just outside its range, naming the key and the override', () => {
  let checked = 0;
  for (const k of CONFIG_KEY_LIST) {
    if ((k.type !== 'int' && k.type !== 'number') || k.min === undefined) continue;
    const below = k.openMin ? k.min : k.min - 1;
    const arg = `${k.key}=${below}`;
    assert.throws(
      () => resolveConfig({ overrides: [arg] }),
      (e: Error) => e.message.startsWith(`override '${arg}': config: '${k.key}' must be`),
      arg,
    );
    checked++;
  }
  assert.ok(checked >= 20, `${checked} bounded keys`);
  for (const k of CONFIG_KEY_LIST.filter((x) => x.choices)) {
    const arg = `${k.key}=no-such-${k.key}`;
    assert.throws(
      () => resolveConfig({ overrides: [arg] }),
      new RegExp(`'${k.key.replace('.', '\\.')}' must be one of`),
      arg,
    );
  }
});

test("the README's key table and dml train --help are the table", () => {
  const readme = readFileSync(path.join(repo, 'README.md'), 'utf8');
  const m = /<!-- config-keys:start -->\n([\s\S]*?)\n<!-- config-keys:end -->/.exec(readme);
  assert.ok(m, 'README has the config-keys markers');
  // On a mismatch: npm run build && node scripts/update-readme-keys.mjs
  assert.equal(m[1], configKeysMarkdown());
  const help = configKeysHelp();
  for (const k of CONFIG_KEY_LIST) assert.match(help, new RegExp(`^  ${k.key.replace('.', '\\.')} = `, 'm'), k.key);
});

test(
  "loss.labelSmoothing is PyTorch's label_smoothing, for cross-entropy only; smooth-ce's ε is " +
    'loss.options.epsilon',
  () => {
    assert.throws(
      () => resolveConfig({ overrides: ['loss.labelSmoothing=0.1'] }),
      new RegExp(
        /override 'loss\.labelSmoothing=0\.1': config: 'loss\.labelSmoothing' is PyTorch's /.source +
          /label_smoothing and only loss\.name=cross-entropy takes it; smooth-ce's ε .* is /.source +
          /loss\.options\.epsilon/.source,
      ),
    );
    assert.throws(
      () => resolveConfig({ overrides: ['loss.name=triplet', 'loss.labelSmoothing=0.1'] }),
      /loss 'triplet' has no label smoothing/,
    );
    // The losses the trainer builds give the values of the losses built by hand with those options.
    const logits = tensor(
      Float64Array.from({ length: 20 }, (_, i) => Math.sin(i * 1.7) * 2),
      { shape: [4, 5] },
    );
    const labels = tensor([0, 3, 1, 3], { dtype: 'int64' });
    const value = (l: { compute(out: never, y: Tensor): Tensor }): number =>
      l.compute({ logits, features: logits } as never, labels).item();
    const byHand = (l: { forward(s: Tensor, y: Tensor): Tensor; dispose(): void }): number => {
      try {
        return l.forward(logits, labels).item();
      } finally {
        l.dispose();
      }
    };
    const ce = makeLoss(resolveConfig({ overrides: ['loss.name=cross-entropy', 'loss.labelSmoothing=0.2'] }), 5, 5);
    assert.equal(value(ce), byHand(new CrossEntropyLoss({ labelSmoothing: 0.2 })));
    assert.notEqual(value(ce), byHand(new CrossEntropyLoss()));
    assert.equal(
      value(makeLoss(resolveConfig({ overrides: ['loss.options.epsilon=0.3'] }), 5, 5)),
      byHand(new SmoothCrossEntropyLoss({ epsilon: 0.3 })),
    );
    assert.equal(
      value(makeLoss(resolveConfig(), 5, 5)),
      byHand(new SmoothCrossEntropyLoss({ epsilon: 0.1 })),
      "the paper's ε by default",
    );
  },
);
