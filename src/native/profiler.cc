// libtorch's own op profiler (the legacy autograd profiler, CPU events), aggregated per op name the
// way PyTorch's torch.autograd.profiler_legacy.profile().key_averages() does, so that a step profiled
// here and the same step profiled in PyTorch can be compared row by row.
//
// libtorch keeps the profiler's state per thread (it follows at::launch tasks and the autograd
// engine's threads): start and stop must be called on the same JS thread.
#include <torch/csrc/autograd/profiler_legacy.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common.h"

namespace dml {

namespace prof = torch::autograd::profiler;
namespace prof_impl = torch::profiler::impl;

namespace {

// Whether this thread turned the profiler on (libtorch's own check would throw a c10::Error too, but
// popping an absent state is an internal assert in some versions; this answers first, in plain words).
thread_local bool tRunning = false;
thread_local bool tShapes = false;

// One closed range (push … pop) of the event lists.
struct Range {
  std::string name;
  std::vector<std::vector<int64_t>> shapes;
  uint64_t thread = 0;
  int node = 0;
  double start = 0;  // µs since the first event
  double end = 0;
  bool async = false;
  int parent = -1;
  std::vector<int> children;
  bool removed = false;
};

// The utility ops PyTorch's parser drops (torch/autograd/profiler_util.py, _filter_name).
bool Filtered(const std::string& name) {
  static const std::set<std::string> kNames = {
      "[memory]", "[OutOfMemory]", "profiler::_record_function_enter", "profiler::_record_function_enter_new",
      "profiler::_record_function_exit", "aten::is_leaf", "aten::output_nr", "aten::_version"};
  return kNames.count(name) > 0;
}

// Pairs the push and pop events into ranges like PyTorch's _parse_legacy_records: per thread list, a
// push right after a push of the same name is a wrapper's double record and is dropped, pops are
// matched by (handle, node id), a range whose pop is on another thread is async.
std::vector<Range> Ranges(prof::thread_event_lists& lists) {
  std::vector<Range> out;
  const prof::LegacyEvent* base = nullptr;
  for (auto& list : lists) {
    for (auto& e : list) {
      if (!base || base->cpuElapsedUs(e) < 0) base = &e;
    }
  }
  if (!base) return out;
  for (auto& list : lists) {
    std::map<std::pair<uint64_t, int>, prof::LegacyEvent*> open;
    std::set<std::pair<uint64_t, int>> dropped;
    const prof::LegacyEvent* prev = nullptr;
    for (auto& e : list) {
      const std::pair<uint64_t, int> key(e.handle(), e.nodeId());
      const std::string name = e.name();
      if (e.kind() == prof::EventKind::Mark) {
        prev = &e;
        continue;
      }
      if (Filtered(name) || dropped.count(key)) {
        dropped.insert(key);
        continue;
      }
      if (e.kind() == prof::EventKind::PushRange) {
        if (prev && prev->kind() == prof::EventKind::PushRange && name == prev->name() &&
            prev->nodeId() == e.nodeId()) {
          dropped.insert(key);
          continue;
        }
        open[key] = &e;
      } else if (e.kind() == prof::EventKind::PopRange) {
        auto it = open.find(key);
        if (it != open.end()) {
          prof::LegacyEvent& s = *it->second;
          Range r;
          r.name = s.name();
          r.shapes = s.shapes();
          r.thread = s.threadId();
          r.node = s.nodeId();
          r.start = base->cpuElapsedUs(s);
          r.end = base->cpuElapsedUs(e);
          r.async = s.isAsync() || s.threadId() != e.threadId();
          out.push_back(std::move(r));
          open.erase(it);
        }
      }
      prev = &e;
    }
  }
  return out;
}

// Nesting per (thread, node) by interval containment, then PyTorch's _remove_dup_nodes: a range that
// is the only child of a range of the same name is folded into it.
void BuildTree(std::vector<Range>& rs) {
  std::map<std::pair<uint64_t, int>, std::vector<int>> byThread;
  for (int i = 0; i < static_cast<int>(rs.size()); i++) {
    if (!rs[i].async) byThread[{rs[i].thread, rs[i].node}].push_back(i);
  }
  for (auto& kv : byThread) {
    std::vector<int>& idx = kv.second;
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
      if (rs[a].start != rs[b].start) return rs[a].start < rs[b].start;
      return rs[a].end > rs[b].end;
    });
    std::vector<int> stack;
    for (int i : idx) {
      while (!stack.empty()) {
        Range& p = rs[stack.back()];
        if (rs[i].start >= p.end || rs[i].end > p.end) {
          stack.pop_back();
        } else {
          p.children.push_back(i);
          rs[i].parent = stack.back();
          break;
        }
      }
      stack.push_back(i);
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (int i = 0; i < static_cast<int>(rs.size()); i++) {
      Range& r = rs[i];
      if (r.removed || r.parent < 0) continue;
      Range& p = rs[r.parent];
      if (p.name != r.name || p.children.size() != 1) continue;
      p.children = r.children;
      for (int c : r.children) rs[c].parent = r.parent;
      r.removed = true;
      changed = true;
    }
  }
}

struct Stat {
  std::string name;
  std::vector<std::vector<int64_t>> shapes;
  int64_t calls = 0;
  double total = 0;
  double self = 0;
};

Napi::Value Table(Napi::Env env, prof::thread_event_lists& lists, bool byShapes) {
  std::vector<Range> rs = Ranges(lists);
  BuildTree(rs);
  std::vector<Stat> stats;
  std::map<std::pair<std::string, std::vector<std::vector<int64_t>>>, size_t> where;
  for (const Range& r : rs) {
    if (r.removed) continue;
    auto key = std::make_pair(r.name, byShapes ? r.shapes : std::vector<std::vector<int64_t>>());
    auto it = where.find(key);
    if (it == where.end()) {
      it = where.emplace(key, stats.size()).first;
      Stat s;
      s.name = r.name;
      s.shapes = key.second;
      stats.push_back(std::move(s));
    }
    Stat& s = stats[it->second];
    const double total = r.end - r.start;
    double self = 0;
    if (!r.async) {
      self = total;
      for (int c : r.children) self -= rs[c].end - rs[c].start;
    }
    s.calls++;
    s.total += total;
    s.self += self;
  }
  std::stable_sort(stats.begin(), stats.end(), [](const Stat& a, const Stat& b) { return a.self > b.self; });
  Napi::Array out = Napi::Array::New(env, stats.size());
  for (size_t i = 0; i < stats.size(); i++) {
    const Stat& s = stats[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", s.name);
    o.Set("calls", Napi::Number::New(env, static_cast<double>(s.calls)));
    // Nanoseconds are the clock's resolution: rounding to them drops the sums' float noise.
    o.Set("cpuTotalUs", Napi::Number::New(env, std::round(s.total * 1e3) / 1e3));
    o.Set("selfCpuUs", Napi::Number::New(env, std::round(s.self * 1e3) / 1e3));
    if (byShapes) {
      Napi::Array shapes = Napi::Array::New(env, s.shapes.size());
      for (size_t j = 0; j < s.shapes.size(); j++) {
        Napi::Array dims = Napi::Array::New(env, s.shapes[j].size());
        for (size_t k = 0; k < s.shapes[j].size(); k++) {
          dims.Set(static_cast<uint32_t>(k), Napi::Number::New(env, static_cast<double>(s.shapes[j][k])));
        }
        shapes.Set(static_cast<uint32_t>(j), dims);
      }
      o.Set("inputShapes", shapes);
    }
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace

DML_FN(profilerStart) {
  if (tRunning) throw Napi::Error::New(a.env(), "profilerStart: the profiler is already running on this thread");
  const bool shapes = a.b(0, false);
  prof::enableProfilerLegacy(prof_impl::ProfilerConfig(prof_impl::ProfilerState::CPU, shapes));
  tRunning = true;
  tShapes = shapes;
  return a.env().Undefined();
}

DML_FN(profilerStop) {
  if (!tRunning) throw Napi::Error::New(a.env(), "profilerStop: the profiler is not running on this thread");
  tRunning = false;
  prof::thread_event_lists lists = prof::disableProfilerLegacy();
  return Table(a.env(), lists, tShapes);
}

DML_FN(profilerRunning) { return Napi::Boolean::New(a.env(), tRunning); }

void RegisterProfiler(Napi::Env env, Napi::Object e) {
  (void)env;
  DML_EXPORT(e, profilerStart); DML_EXPORT(e, profilerStop); DML_EXPORT(e, profilerRunning);
}

}  // namespace dml
