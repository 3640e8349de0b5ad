// PyTorch's wheels ship c10d's ProcessGroupGloo.hpp but not the gloo headers it includes; the addon takes them
// from Debian's libgloo-dev (gloo of 2022), while libtorch_cpu carries its own, newer gloo. That is sound only
// while the addon compiles no gloo code of its own: every gloo function it needs must be called inside
// libtorch_cpu (c10d's exported functions), and gloo types may appear in the addon only behind pointers
// (std::shared_ptr<gloo::transport::Device> in a vector), whose layout does not depend on gloo's version.
// This reads the addon's symbol table to check exactly that.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { distributed } from '../../../src/engine/index.js';

const addon = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../build/Release/dml_native.node');

function symbols(which: '--undefined-only' | '--defined-only'): string[] {
  const r = spawnSync('nm', ['-C', which, addon], { encoding: 'utf8', maxBuffer: 1 << 26 });
  assert.equal(r.status, 0, `nm failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.includes('gloo::'));
}

test('the addon calls no gloo function and compiles no gloo code of its own', (t) => {
  if (!distributed.ProcessGroup.backends().gloo) {
    t.skip('this build has no Gloo');
    return;
  }
  // The demangled name without address and symbol type.
  const name = (l: string) => l.replace(/^\s*[0-9a-f]*\s+[A-Za-z]\s+/, '');
  const called = symbols('--undefined-only').map(name);
  assert.deepEqual(called, [], 'gloo functions the addon calls directly');
  // What mentions gloo must be a std:: or c10:: template holding gloo types by pointer, or c10d's own code.
  const defined = symbols('--defined-only').map(name);
  const own = defined.filter((s) => !/^(std::|c10::intrusive_ptr<c10d::ProcessGroupGloo)/.test(s));
  assert.deepEqual(own, [], 'gloo code compiled into the addon');
  for (const s of defined.filter((x) => x.startsWith('std::'))) {
    assert.match(s, /std::shared_ptr<gloo::transport::Device>/, s);
  }
});
