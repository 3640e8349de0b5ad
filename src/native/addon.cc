#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  dml::RegisterCore(env, exports);
  dml::RegisterMath(env, exports);
  dml::RegisterShape(env, exports);
  dml::RegisterNN(env, exports);
  dml::RegisterAutograd(env, exports);
  return exports;
}

NODE_API_MODULE(dml_native, Init)
