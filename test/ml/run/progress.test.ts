// The voice of long steps: a header before any work, then at most one plain line per interval.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Heartbeat, embedProgress, lineInterval } from '../../../src/ml/run/progress.js';

test('Heartbeat: the header at once, then a line only when the interval has passed, no carriage returns', () => {
  const lines: string[] = [];
  let now = 1000;
  const hb = new Heartbeat('t-SNE', { intervalS: 10, write: (l) => lines.push(l), now: () => now });
  let built = 0;
  const what = (it: number) => () => {
    built++;
    return `iteration ${it}/1000`;
  };
  hb.start('2000 embeddings, 1000 iterations');
  assert.deepEqual(lines, ['t-SNE: 2000 embeddings, 1000 iterations'], 'the header comes before any work');
  now += 9_999;
  hb.beat(what(250));
  assert.equal(lines.length, 1, 'not before the interval');
  assert.equal(built, 0, 'the message is not even built');
  now += 1;
  hb.beat(what(260));
  now += 5_000;
  hb.beat(what(300));
  now += 5_000;
  hb.beat(what(400));
  assert.deepEqual(lines.slice(1), ['t-SNE: iteration 260/1000, 10s', 't-SNE: iteration 400/1000, 20s']);
  assert.equal(hb.seconds, 20);
  assert.ok(lines.every((l) => !l.includes('\r') && !l.includes('\n')));
});

test('lineInterval: DML_PROGRESS_SECONDS overrides the default; nonsense is ignored', () => {
  const saved = process.env.DML_PROGRESS_SECONDS;
  try {
    delete process.env.DML_PROGRESS_SECONDS;
    assert.equal(lineInterval(10), 10);
    process.env.DML_PROGRESS_SECONDS = '0.5';
    assert.equal(lineInterval(10), 0.5);
    process.env.DML_PROGRESS_SECONDS = 'soon';
    assert.equal(lineInterval(10), 10);
    process.env.DML_PROGRESS_SECONDS = '';
    assert.equal(lineInterval(30), 30);
  } finally {
    if (saved === undefined) delete process.env.DML_PROGRESS_SECONDS;
    else process.env.DML_PROGRESS_SECONDS = saved;
  }
});

test('embedProgress: the header names the images before the first batch; quiet is silent', () => {
  const written: string[] = [];
  const orig = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    assert.equal(embedProgress('embedding the test set', true), undefined);
    const p = embedProgress('embedding the test set', false)!;
    p(0, 320);
    assert.deepEqual(written, ['embedding the test set: 320 images\n']);
  } finally {
    process.stderr.write = orig;
  }
});
