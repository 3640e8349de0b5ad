// The embedding head against the reference: dml_cross_entropy's BaseModel.forward (norm layer →
// remap → optional L2 normalisation → dropout on optionally detached features → linear classifier
// with optionally normalised weights), re-implemented in the fixture script on given backbone
// features. The backbone is bypassed here so the head sees exactly those features.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensors, tidy, type Tensor } from '../../../src/engine/index.js';
import { ResNetEmbedder, type EmbedderOptions, type EmbedderOutput } from '../../../src/ml/models/index.js';
import { assertClose, F64_VS_STORED_F32, get, loadFixture, sub } from './helpers.js';

/** A ResNetEmbedder whose backbone is the identity: forward(x) runs the head on features x. */
class HeadOnly extends ResNetEmbedder {
  // A copy: forward frees the backbone output when the head replaces it.
  override backbone(x: Tensor): Tensor {
    return x.clone();
  }
}

// The fixture script's HEADS, in this project's option names (backbone resnet18: 512 features).
const HEADS: Record<string, Omit<EmbedderOptions, 'arch' | 'numClasses'>> = {
  plain: {},
  bn_remap_normalize: { numFeatures: 8, normLayer: 'batch', normalize: true, normalizeWeight: true },
  ln_remap_detach: { numFeatures: 12, normLayer: 'layer', detach: true, normalizeWeight: true },
  bn_detach_normalize: { numFeatures: 512, normLayer: 'batch', detach: true, normalize: true },
};
const HEAD_PREFIXES = ['norm_layer.', 'remap.', 'classifier.'];

for (const [name, o] of Object.entries(HEADS)) {
  test(`head ${name}: logits, features, gradients and norm-layer statistics match the reference`, () => {
    const before = liveTensors();
    const model = new HeadOnly({ arch: 'resnet18', numClasses: 5, dropout: 0, ...o });
    tidy(() => {
      const fx = loadFixture(`head_${name}.pt`);
      const state = sub(fx, 'state');
      // The reference head's state dict names exactly this model's head entries.
      const headKeys = [...model.stateDict().keys()].filter((k) => HEAD_PREFIXES.some((p) => k.startsWith(p)));
      assert.deepEqual([...state.keys()], headKeys, 'same head keys in the same order');
      const r = model.loadStateDict(state, false);
      assert.deepEqual(r.unexpectedKeys, []);
      assert.ok(
        r.missingKeys.every((k) => !HEAD_PREFIXES.some((p) => k.startsWith(p))),
        'every head key loaded',
      );
      for (const m of [model.norm, model.remap, model.classifier]) m.to('float64');

      const x = get(fx, 'x'),
        gl = get(fx, 'gl').double(),
        gf = get(fx, 'gf').double();
      // Without a BatchNorm1d (dropout 0) the two modes agree and the fixture has 'train' only.
      for (const mode of ['eval', 'train'] as const) {
        const ref = fx.has(`${mode}.logits`) ? mode : 'train';
        model.train(mode === 'train');
        model.zeroGrad();
        const xi = x.double().requiresGrad_(true);
        const out: EmbedderOutput = model.forward(xi);
        out.logits.mul(gl).sum().add(out.features.mul(gf).sum()).backward();
        const what = `${name} ${mode}`;
        assertClose(out.logits, get(fx, `${ref}.logits`), F64_VS_STORED_F32, `${what} logits`);
        assertClose(out.features, get(fx, `${ref}.features`), F64_VS_STORED_F32, `${what} features`);
        assertClose(xi.grad!, get(fx, `${ref}.grad.x`), F64_VS_STORED_F32, `${what} dL/dx`);
        const grads = sub(fx, `${ref}.grad`);
        grads.delete('x');
        const params = new Map(model.namedParameters());
        for (const [k, g] of grads) assertClose(params.get(k)!.grad!, g, F64_VS_STORED_F32, `${what} dL/d${k}`);
        // Parameters the reference has no gradient for: none in the head, and the bypassed backbone.
        for (const [k, p] of params) if (!grads.has(k)) assert.equal(p.grad, null, `${what}: ${k} has no gradient`);
        const own = model.stateDict();
        for (const [k, v] of sub(fx, `${ref}.state`)) {
          if (k.endsWith('num_batches_tracked')) assert.equal(own.get(k)!.item(), v.item(), `${what} ${k}`);
          else assertClose(own.get(k)!, v, F64_VS_STORED_F32, `${what} ${k}`);
        }
      }
      model.zeroGrad();
    });
    model.dispose();
    assert.equal(liveTensors(), before, 'no tensor leaked');
  });
}
