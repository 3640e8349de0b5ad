#include <c10/util/Logging.h>
#include "common.h"

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  // c10::Error symbolises a C++ backtrace for every error it raises (milliseconds each), and the
  // JS bridge only ever shows what_without_backtrace(): skip collecting it, so a failing op costs
  // microseconds like a succeeding one.
  c10::SetStackTraceFetcher([] { return std::string(); });
  dml::RegisterCore(env, exports);
  dml::RegisterMath(env, exports);
  dml::RegisterShape(env, exports);
  dml::RegisterNN(env, exports);
  dml::RegisterAutograd(env, exports);
  dml::RegisterImage(env, exports);
  dml::RegisterDistributed(env, exports);
  dml::RegisterProfiler(env, exports);
  return exports;
}

NODE_API_MODULE(dml_native, Init)
