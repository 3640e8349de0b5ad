// The rendezvous store has no authentication, so on a loopback MASTER_ADDR it must listen on loopback only
// (c10d's own server listens on every interface). Read from the kernel's socket table: the listening
// socket's local address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { distributed } from '../../../src/engine/index.js';
import { freePort } from '../../distributed/helpers.js';

/** Local addresses (hex, as /proc/net/tcp{,6} writes them) of the sockets listening on `port`. */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is ADDR:PORT; state 0A is LISTEN.
      if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === '0A') out.push(cols[1].split(':')[0]!);
    }
  }
  return out;
}

const LOOPBACK_V4 = '0100007F'; // 127.0.0.1, little-endian as the kernel prints it

test('a store hosted for a loopback MASTER_ADDR listens on loopback only', async (t) => {
  if (!distributed.ProcessGroup.backends().gloo) {
    t.skip('this build has no Gloo');
    return;
  }
  for (const host of ['127.0.0.1', 'localhost']) {
    const port = await freePort();
    const g = new distributed.ProcessGroup({ rank: 0, worldSize: 1, store: { kind: 'tcp', host, port } });
    try {
      assert.deepEqual(listeners(port), [LOOPBACK_V4], `${host}: the store's listening sockets`);
    } finally {
      g.destroy();
    }
  }
});
