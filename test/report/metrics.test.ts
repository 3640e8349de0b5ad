import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseMetrics, readMetrics, bestEval, recallKeys, MetricsError } from '../../src/report/metrics.js';

const train = (step: number, loss: number, lr = 0.1): string =>
  JSON.stringify({ type: 'train', epoch: Math.ceil(step / 10), step, loss, lr });
const evalRec = (epoch: number, r1: number): string =>
  JSON.stringify({
    type: 'eval',
    epoch,
    step: epoch * 10,
    recall: { cosine: { 1: r1, 2: r1 + 3, 10: r1 + 8 }, l2: { 1: r1 - 1, 2: r1 + 2, 10: r1 + 7 } },
    mapAtR: 20 + epoch,
    rPrecision: 30 + epoch,
    precisionAt1: r1,
    nmi: 40 + epoch,
    unit: 'percent',
  });

test('parses train, eval and epoch records; sorts; later records win over repeated steps', () => {
  const text =
    [
      train(10, 1),
      train(20, 0.8),
      evalRec(1, 50),
      JSON.stringify({ type: 'epoch', epoch: 1, step: 20, loss: 0.9, imagesPerSecond: 100, seconds: 5 }),
      train(30, 0.7),
      '',
      train(20, 0.75), // resumed after step 10: step 20 logged again
      evalRec(2, 60),
      JSON.stringify({ type: 'epoch', epoch: 2, step: 40, loss: 0.6, imagesPerSecond: 110, seconds: 4 }),
      JSON.stringify({ type: 'note', text: 'anything' }),
    ].join('\n') + '\n';
  const m = parseMetrics(text, 'run/metrics.jsonl');
  assert.deepEqual(
    m.train.map((t) => [t.step, t.loss]),
    [
      [10, 1],
      [20, 0.75],
      [30, 0.7],
    ],
  );
  assert.deepEqual(
    m.eval.map((e) => e.epoch),
    [1, 2],
  );
  assert.equal(m.eval[1]!.recall.cosine!['10'], 68);
  assert.equal(m.eval[0]!.nmi, 41);
  assert.deepEqual(
    m.epochs.map((e) => e.loss),
    [0.9, 0.6],
  );
  assert.deepEqual(m.otherTypes, { note: 1 });
  assert.equal(m.lines, 9);
  assert.match(m.warnings.join(), /1 records repeat/);
  assert.deepEqual(recallKeys(m.eval), { metrics: ['cosine', 'l2'], ks: ['1', '2', '10'] });
  assert.equal(bestEval(m.eval)!.epoch, 2);
});

test('parses the CE-versus-PCE bound records of a classifier-loss run; a missing field names the line', () => {
  const bound = (epoch: number, ce: number): string =>
    JSON.stringify({
      type: 'bound',
      epoch,
      step: epoch * 10,
      ce,
      pce: ce - 0.2,
      tightness: -0.5,
      contrastive: ce + 0.3,
      lambda: 2,
      ceMinusPce: 0.2,
      ceAbovePce: 1,
      batches: 3,
    });
  const m = parseMetrics([train(10, 1), bound(2, 0.9), bound(1, 1.1)].join('\n') + '\n');
  assert.deepEqual(
    m.bounds.map((b) => [b.epoch, b.ce, b.ceAbovePce, b.batches]),
    [
      [1, 1.1, 1, 3],
      [2, 0.9, 1, 3],
    ],
  );
  assert.deepEqual(m.otherTypes, {});
  assert.throws(
    () => parseMetrics(`${train(10, 1)}\n{"type":"bound","epoch":1,"ce":1}\n`, 'm.jsonl'),
    /^MetricsError: m\.jsonl:2: bound record lacks numeric "pce"/,
  );
});

test('a malformed line is an error naming the file and the line number', () => {
  const lines = [train(10, 1), train(20, 0.9), '{"type":"train","epoch":1,"step":30,"loss":', train(40, 0.8)];
  assert.throws(
    () => parseMetrics(lines.join('\n') + '\n', 'runs/x/metrics.jsonl'),
    (e: unknown) => {
      assert.ok(e instanceof MetricsError);
      assert.equal(e.line, 3);
      assert.match(e.message, /^runs\/x\/metrics\.jsonl:3: malformed JSON/);
      return true;
    },
  );
  const cases: Array<[string, RegExp]> = [
    ['[1, 2]', /:2: expected a JSON object, got an array/],
    ['{"epoch": 1}', /:2: record has no "type" field/],
    ['{"type":"train","epoch":1,"step":20}', /:2: train record lacks numeric "loss"/],
    ['{"type":"train","epoch":1,"step":20,"loss":"x"}', /:2: train record: "loss" must be a finite number/],
    ['{"type":"eval","epoch":1}', /:2: eval record lacks the "recall" object/],
    [
      '{"type":"eval","epoch":1,"recall":{"cosine":{"1":null}}}',
      /:2: eval record: recall\.cosine\.1 must be a finite number/,
    ],
  ];
  for (const [bad, re] of cases)
    assert.throws(() => parseMetrics(`${train(10, 1)}\n${bad}\n${train(30, 1)}\n`, 'm.jsonl'), re, bad);
});

test('empty and missing files are errors naming the file', () => {
  assert.throws(
    () => parseMetrics('', 'a/metrics.jsonl'),
    /^MetricsError: a\/metrics\.jsonl: is empty|a\/metrics\.jsonl: is empty/,
  );
  assert.throws(() => parseMetrics('\n\n  \n', 'a/metrics.jsonl'), /a\/metrics\.jsonl: is empty/);
  const dir = mkdtempSync(path.join(tmpdir(), 'dml-report-metrics-'));
  const missing = path.join(dir, 'metrics.jsonl');
  assert.throws(
    () => readMetrics(missing),
    (e: unknown) => e instanceof Error && e.message.startsWith(`${missing}: not found`),
  );
  writeFileSync(missing, '');
  assert.throws(
    () => readMetrics(missing),
    (e: unknown) => e instanceof Error && e.message === `${missing}: is empty (no metrics recorded yet)`,
  );
});

test('a truncated last line without newline (a run still writing) is a warning, not an error', () => {
  const m = parseMetrics(`${train(10, 1)}\n${train(20, 0.9)}\n{"type":"tra`, 'm.jsonl');
  assert.equal(m.train.length, 2);
  assert.match(m.warnings[0]!, /m\.jsonl:3: ignored a truncated last line/);
  // The same line terminated by a newline is malformed.
  assert.throws(() => parseMetrics(`${train(10, 1)}\n{"type":"tra\n`, 'm.jsonl'), /m\.jsonl:2: malformed JSON/);
});
