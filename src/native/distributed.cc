// c10d for data-parallel training: a rendezvous store (TCPStore or FileStore, as torchrun's env://
// and file:// do), a Gloo process group (NCCL when the libtorch has it), coalesced collectives, a
// differentiable all-reduce (synchronised BatchNorm), bucketed gradient all-reduce, and a heartbeat
// through the store so that a failed collective can name the rank that was lost.
// The only translation unit that sees c10d and gloo headers (they are slow to compile).
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <system_error>
#include <thread>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common.h"

namespace dml {
namespace {

using std::chrono::milliseconds;
using StorePtr = c10::intrusive_ptr<c10d::Store>;
using WorkPtr = c10::intrusive_ptr<c10d::Work>;

constexpr const char* kBeatPrefix = "dml/beat/";
constexpr const char* kErrorPrefix = "dml/error/";
constexpr milliseconds kBeatEvery{500};
// A rank whose counter did not move over this window is reported lost (several beats, so a busy
// machine does not make a live rank look dead).
constexpr milliseconds kLostAfter{2500};

struct Failure {
  std::string op;
  std::string message;
  std::vector<int> lost;
};

// Rendezvous parameters, kept so the heartbeat and the failure diagnosis can open clients of their
// own (a TCPStore client is not safe to share between threads).
struct StoreSpec {
  bool tcp = true;
  std::string host;
  int port = 0;
  std::string path;
  int size = 1;
  std::string prefix;
  bool agentHosted = false;
  StorePtr Connect(milliseconds timeout) const {
    StorePtr base;
    if (tcp) {
      c10d::TCPStoreOptions o;
      o.port = static_cast<std::uint16_t>(port);
      o.isServer = false;
      o.waitWorkers = false;  // extra clients must not count as workers joining
      o.timeout = timeout;
      base = c10::make_intrusive<c10d::TCPStore>(host, o);
    } else {
      // numWorkers -1: this client never deletes the file (FileStore's cleanup counts instances).
      base = c10::make_intrusive<c10d::FileStore>(path, -1);
      base->setTimeout(timeout);
    }
    if (prefix.empty()) return base;
    return c10::make_intrusive<c10d::PrefixStore>(prefix, base);
  }
  std::string Where() const {
    if (!tcp) return "the file store " + path;
    return "the rendezvous store at " + host + ":" + std::to_string(port) + (agentHosted ? " (hosted by the launcher)" : " (hosted by rank 0)");
  }
};

struct Heartbeat {
  // Shared with the thread, so a thread left behind at exit never touches freed memory.
  struct State {
    std::atomic<bool> stop{false};
    std::atomic<bool> finished{false};
  };
  std::shared_ptr<State> state = std::make_shared<State>();
  std::thread thread;
  ~Heartbeat() { Stop(); }
  void Stop() {
    state->stop = true;
    if (thread.joinable()) thread.join();
  }
  // At exit: a beat stuck on a store that stopped answering must not hold the process; the thread
  // is left behind only in that case.
  void StopBounded() {
    state->stop = true;
    if (!thread.joinable()) return;
    for (int k = 0; k < 20 && !state->finished; k++) std::this_thread::sleep_for(milliseconds(10));
    if (state->finished) thread.join();
    else thread.detach();
  }
};

struct Group {
  int64_t id = 0;
  int rank = 0;
  int size = 1;
  std::string backend;
  milliseconds timeout{60000};
  StoreSpec spec;
  StorePtr store;  // the rendezvous client (rank 0's also serves), under the group's prefix
#ifdef USE_C10D_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#ifdef USE_C10D_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  std::unique_ptr<Heartbeat> heartbeat;
  std::unique_ptr<Failure> failure;  // set by the first failed collective: the group is unusable after it
  bool destroyed = false;
  std::atomic<bool> leaving{false};  // past the final barrier of a successful job

  template <class F>
  WorkPtr Call(F&& f) {
#ifdef USE_C10D_GLOO
    if (gloo) return f(*gloo);
#endif
#ifdef USE_C10D_NCCL
    if (nccl) return f(*nccl);
#endif
    throw std::runtime_error("process group has no backend");
  }
};

// Groups by id, for the autograd function (its saved state holds plain values).
std::mutex groupsMutex;
std::map<int64_t, std::weak_ptr<Group>> groups;
int64_t nextGroupId = 1;

const napi_type_tag kGroupTag = {0x5e0c7d1a2b3c4d5eULL, 0x8f9a0b1c2d3e4f60ULL};

std::shared_ptr<Group> GroupArg(const Args& a, size_t i) {
  if (!a.info()[i].IsExternal()) throw Napi::TypeError::New(a.env(), "argument " + std::to_string(i) + ": expected a process group");
  auto ext = a.info()[i].As<Napi::External<std::shared_ptr<Group>>>();
  if (!ext.CheckTypeTag(&kGroupTag)) throw Napi::TypeError::New(a.env(), "argument " + std::to_string(i) + ": expected a process group");
  std::shared_ptr<Group> g = *ext.Data();
  if (g->destroyed) throw Napi::Error::New(a.env(), "rank " + std::to_string(g->rank) + ": the process group was destroyed");
  return g;
}

std::string Text(const std::exception& e) {
  if (auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

std::string RankList(const std::vector<int>& r) {
  std::string s;
  for (size_t k = 0; k < r.size(); k++) s += (k ? ", " : "") + std::to_string(r[k]);
  return s;
}

// Which ranks stopped beating, and what the ones that failed cleanly said. Costs kLostAfter.
Failure Diagnose(const Group& g, const std::string& op, const std::string& what) {
  Failure f{op, "", {}};
  std::string head = "rank " + std::to_string(g.rank) + "/" + std::to_string(g.size) + ": " + op + " failed: " + what;
  try {
    StorePtr s = g.spec.Connect(milliseconds(3000));
    std::vector<int64_t> before(g.size), after(g.size);
    for (int r = 0; r < g.size; r++) before[r] = s->add(kBeatPrefix + std::to_string(r), 0);
    std::this_thread::sleep_for(kLostAfter);
    for (int r = 0; r < g.size; r++) after[r] = s->add(kBeatPrefix + std::to_string(r), 0);
    std::string said;
    for (int r = 0; r < g.size; r++) {
      if (r == g.rank) continue;
      if (after[r] == before[r]) f.lost.push_back(r);
      std::string key = kErrorPrefix + std::to_string(r);
      if (s->check({key})) {
        auto v = s->get(key);
        said += "; rank " + std::to_string(r) + " reported: " + std::string(v.begin(), v.end());
      }
    }
    if (!f.lost.empty()) {
      f.message = head + " -- lost rank" + (f.lost.size() > 1 ? "s " : " ") + RankList(f.lost) + " (no heartbeat for "
        + std::to_string(kLostAfter.count() / 1000.0).substr(0, 3) + " s)" + said;
    } else {
      f.message = head + " -- every rank is still alive" + said + "; if one is only slower than the timeout ("
        + std::to_string(g.timeout.count() / 1000) + " s), raise distributed.timeout";
    }
  } catch (const std::exception&) {
    if (g.spec.tcp && !g.spec.agentHosted) f.lost.push_back(0);
    f.message = head + " -- " + g.spec.Where() + " is unreachable" + (g.spec.tcp && !g.spec.agentHosted ? ": lost rank 0" : "");
  }
  return f;
}

[[noreturn]] void ThrowFailure(Napi::Env env, const Failure& f) {
  Napi::Error e = Napi::Error::New(env, f.message);
  auto lost = Napi::Array::New(env, f.lost.size());
  for (size_t k = 0; k < f.lost.size(); k++) lost.Set(static_cast<uint32_t>(k), Napi::Number::New(env, f.lost[k]));
  e.Value().Set("lostRanks", lost);
  e.Value().Set("op", Napi::String::New(env, f.op));
  e.Value().Set("code", Napi::String::New(env, "DML_DISTRIBUTED"));
  throw e;
}

// Runs one collective; a failure marks the group broken (later calls fail at once with the same
// diagnosis instead of waiting on peers that are gone) and is thrown with the lost ranks named.
template <class F>
void Collective(Group& g, const char* op, F&& body) {
  if (g.failure) throw std::runtime_error(g.failure->message);
  try {
    body();
  } catch (const std::exception& e) {
    g.failure = std::make_unique<Failure>(Diagnose(g, op, Text(e)));
    throw std::runtime_error(g.failure->message);
  }
}

template <class F>
void CollectiveJs(Napi::Env env, Group& g, const char* op, F&& body) {
  try {
    Collective(g, op, std::forward<F>(body));
  } catch (const std::exception&) {
    if (g.failure) ThrowFailure(env, *g.failure);
    throw;
  }
}

void Wait(const WorkPtr& w) { w->wait(); }

c10d::ReduceOp ReduceOpOf(const std::string& name) {
  if (name == "sum") return c10d::ReduceOp::SUM;
  if (name == "max") return c10d::ReduceOp::MAX;
  if (name == "min") return c10d::ReduceOp::MIN;
  if (name == "product") return c10d::ReduceOp::PRODUCT;
  throw std::invalid_argument("reduce op must be 'sum', 'max', 'min' or 'product', got '" + name + "'");
}

// Flattens tensors of one dtype and device into buckets of at most capBytes (a tensor larger than
// the cap gets a bucket of its own), runs fn on each flat bucket, and copies the results back.
// One message per bucket instead of one per tensor: ResNet-50 has 161 parameter tensors.
template <class F>
void Coalesced(std::vector<at::Tensor>& tensors, int64_t capBytes, F&& fn) {
  size_t k = 0;
  std::vector<WorkPtr> pending;
  std::vector<std::pair<at::Tensor, std::vector<at::Tensor>>> buckets;
  while (k < tensors.size()) {
    std::vector<at::Tensor> part{tensors[k]};
    int64_t bytes = tensors[k].numel() * tensors[k].element_size();
    size_t j = k + 1;
    while (j < tensors.size() && tensors[j].scalar_type() == tensors[k].scalar_type() && tensors[j].device() == tensors[k].device()
           && bytes + tensors[j].numel() * tensors[j].element_size() <= capBytes) {
      bytes += tensors[j].numel() * tensors[j].element_size();
      part.push_back(tensors[j]);
      j++;
    }
    at::Tensor flat;
    if (part.size() == 1 && part[0].is_contiguous()) {
      flat = part[0].view({-1});
    } else {
      std::vector<at::Tensor> views;
      views.reserve(part.size());
      for (auto& t : part) views.push_back(t.reshape({-1}));
      flat = at::cat(views);
    }
    pending.push_back(fn(flat));
    buckets.emplace_back(flat, std::move(part));
    k = j;
  }
  for (auto& w : pending) Wait(w);
  for (auto& [flat, part] : buckets) {
    if (part.size() == 1 && part[0].is_contiguous()) continue;
    int64_t off = 0;
    for (auto& t : part) {
      t.copy_(flat.narrow(0, off, t.numel()).view(t.sizes()));
      off += t.numel();
    }
  }
}

std::vector<at::Tensor> Detached(const std::vector<at::Tensor>& ts) {
  std::vector<at::Tensor> out;
  out.reserve(ts.size());
  for (auto& t : ts) out.push_back(t.detach());
  return out;
}

WorkPtr AllReduceFlat(Group& g, at::Tensor& flat, c10d::ReduceOp op) {
  std::vector<at::Tensor> one{flat};
  c10d::AllreduceOptions o;
  o.reduceOp = op;
  return g.Call([&](auto& pg) { return pg.allreduce(one, o); });
}

// y = sum over ranks of x, and dL/dx = sum over ranks of dL/dy: what synchronised BatchNorm needs
// (torch.distributed.nn.functional.all_reduce).
struct AllReduceSum : public torch::autograd::Function<AllReduceSum> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t groupId) {
    ctx->saved_data["group"] = groupId;
    return Run(groupId, x, "all-reduce (autograd forward)");
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx, torch::autograd::variable_list grads) {
    return {Run(ctx->saved_data["group"].toInt(), grads[0], "all-reduce (autograd backward)"), at::Tensor()};
  }
  static at::Tensor Run(int64_t groupId, const at::Tensor& x, const char* op) {
    std::shared_ptr<Group> g;
    {
      std::lock_guard<std::mutex> lock(groupsMutex);
      auto it = groups.find(groupId);
      if (it != groups.end()) g = it->second.lock();
    }
    if (!g || g->destroyed) throw std::runtime_error(std::string(op) + ": the process group was destroyed");
    at::Tensor y = x.detach().clone(at::MemoryFormat::Contiguous);
    Collective(*g, op, [&] { Wait(AllReduceFlat(*g, y, c10d::ReduceOp::SUM)); });
    return y;
  }
};

void StartHeartbeat(Group& g) {
  auto hb = std::make_unique<Heartbeat>();
  StorePtr s = g.spec.Connect(milliseconds(5000));
  std::string key = kBeatPrefix + std::to_string(g.rank);
  std::shared_ptr<Heartbeat::State> st = hb->state;
  hb->thread = std::thread([st, s, key] {
    while (!st->stop) {
      try {
        s->add(key, 1);
      } catch (...) {
        // The store is gone; the next collective's diagnosis says so.
      }
      for (auto slept = milliseconds(0); slept < kBeatEvery && !st->stop; slept += milliseconds(50)) {
        std::this_thread::sleep_for(milliseconds(50));
      }
    }
    st->finished = true;
  });
  g.heartbeat = std::move(hb);
}

// Heartbeat threads must stop before the process's static objects are destroyed at exit.
std::mutex beatsMutex;
std::vector<std::weak_ptr<Group>> liveGroups;

// libtorch 1.13's TCPStore clients keep a thread that reads their connection to the store; when
// the store's host dies and the connection is reset, that thread throws and std::terminate aborts
// the process with "Connection reset by peer" and nothing else. While a TCP group is live, such a
// termination is reported as what it is — the store's host is gone — and the process exits 1.
std::terminate_handler previousTerminate = nullptr;
void OnTerminate() {
  std::exception_ptr ep = std::current_exception();
  if (ep && beatsMutex.try_lock()) {
    std::shared_ptr<Group> g;
    for (auto& w : liveGroups) {
      auto live = w.lock();
      if (live && !live->destroyed && live->spec.tcp) g = live;
    }
    beatsMutex.unlock();
    // Every rank passed the final barrier: the job is done, whatever the store does now.
    if (g && g->leaving) ::_exit(0);
    if (g) {
      std::string what;
      try {
        std::rethrow_exception(ep);
      } catch (const std::system_error& e) {
        what = e.what();
      } catch (...) {
      }
      if (!what.empty()) {
        std::string host = g->spec.agentHosted ? "the launcher that hosts it" : "rank 0, which hosts it,";
        std::string msg = "dml: rank " + std::to_string(g->rank) + "/" + std::to_string(g->size) + ": the connection to " + g->spec.Where()
          + " broke (" + what + "): " + host + " is gone" + (g->spec.agentHosted ? "\n" : " -- lost rank 0\n");
        ssize_t ignored = ::write(2, msg.data(), msg.size());
        (void)ignored;
        ::_exit(1);
      }
    }
  }
  if (previousTerminate) previousTerminate();
  std::abort();
}
void StopAllHeartbeats() {
  std::lock_guard<std::mutex> lock(beatsMutex);
  for (auto& w : liveGroups) {
    if (auto g = w.lock()) {
      if (g->heartbeat) g->heartbeat->StopBounded();
    }
  }
}

// The store has no authentication: on a loopback MASTER_ADDR, rank 0 listens on that address only (c10d's own
// server listens on every interface). The socket is bound here and handed over (TCPStoreOptions::masterListenFd).
// Returns -1 when the host is not loopback, so that c10d binds as it always does.
int LoopbackListenFd(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res) != 0 || !res) return -1;
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> keep(res, freeaddrinfo);
  bool loopback = false;
  if (res->ai_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(res->ai_addr);
    loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  } else if (res->ai_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(res->ai_addr);
    loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
  }
  if (!loopback) return -1;
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, 2048) != 0) {
    int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "cannot listen on " + host + ":" + std::to_string(port));
  }
  return fd;
}

std::string Str(const Napi::Object& o, const char* k, const std::string& dflt = "") {
  Napi::Value v = o.Get(k);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : dflt;
}
int64_t Int(const Napi::Object& o, const char* k, int64_t dflt) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().Int64Value() : dflt;
}
bool Bool(const Napi::Object& o, const char* k, bool dflt) {
  Napi::Value v = o.Get(k);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : dflt;
}

}  // namespace

DML_FN(distBackends) {
  auto o = Napi::Object::New(a.env());
#ifdef USE_C10D_GLOO
  o.Set("gloo", true);
#else
  o.Set("gloo", false);
#endif
#ifdef USE_C10D_NCCL
  o.Set("nccl", true);
#else
  o.Set("nccl", false);
#endif
  return o;
}

// distInit({ backend, rank, worldSize, store: 'tcp'|'file', host, port, isServer, agentHosted, path,
//            prefix, timeoutMs, bindHost, ifname }) -> group
DML_FN(distInit) {
  Napi::Env env = a.env();
  if (!a.info()[0].IsObject()) throw Napi::TypeError::New(env, "distInit: expected an options object");
  Napi::Object o = a.info()[0].As<Napi::Object>();
  auto g = std::make_shared<Group>();
  g->rank = static_cast<int>(Int(o, "rank", -1));
  g->size = static_cast<int>(Int(o, "worldSize", -1));
  g->backend = Str(o, "backend", "gloo");
  g->timeout = milliseconds(Int(o, "timeoutMs", 60000));
  if (g->size < 1 || g->rank < 0 || g->rank >= g->size) {
    throw Napi::RangeError::New(env, "distInit: rank " + std::to_string(g->rank) + " is not in [0, world size " + std::to_string(g->size) + ")");
  }
  std::string where = "rank " + std::to_string(g->rank) + "/" + std::to_string(g->size);
  StoreSpec& spec = g->spec;
  spec.tcp = Str(o, "store", "tcp") == "tcp";
  spec.host = Str(o, "host", "127.0.0.1");
  spec.port = static_cast<int>(Int(o, "port", 29500));
  spec.path = Str(o, "path");
  spec.size = g->size;
  spec.agentHosted = Bool(o, "agentHosted", false);
  std::string prefix = Str(o, "prefix");
  StorePtr base;
  try {
    if (spec.tcp) {
      c10d::TCPStoreOptions so;
      so.port = static_cast<std::uint16_t>(spec.port);
      so.isServer = Bool(o, "isServer", g->rank == 0);
      so.numWorkers = spec.agentHosted ? c10::nullopt : c10::optional<std::size_t>(g->size);
      so.waitWorkers = !spec.agentHosted;
      so.timeout = g->timeout;
      int fd = so.isServer ? LoopbackListenFd(spec.host, spec.port) : -1;
      if (fd >= 0) so.masterListenFd = fd;
      try {
        base = c10::make_intrusive<c10d::TCPStore>(spec.host, so);
      } catch (...) {
        if (fd >= 0) ::close(fd);
        throw;
      }
    } else {
      if (spec.path.empty()) throw std::invalid_argument("a file store needs a path");
      base = c10::make_intrusive<c10d::FileStore>(spec.path, g->size);
      base->setTimeout(g->timeout);
    }
  } catch (const std::exception& e) {
    std::string what = Text(e);
    std::string hint;
    if (what.find("ddress already in use") != std::string::npos) hint = " (another job uses port " + std::to_string(spec.port) + ": set MASTER_PORT / --master-port)";
    else if (spec.tcp) hint = " (are all " + std::to_string(g->size) + " ranks started, and MASTER_ADDR / MASTER_PORT the same for all?)";
    throw Napi::Error::New(env, where + ": rendezvous at " + (spec.tcp ? spec.host + ":" + std::to_string(spec.port) : spec.path) + " failed: " + what + hint);
  }
  // The group's keys live under their own prefix, like torch.distributed's "default_pg/": a second
  // group in the same process (or a torchrun restart) does not read the first one's keys.
  spec.prefix = prefix;
  g->store = base;
  if (!prefix.empty()) g->store = c10::make_intrusive<c10d::PrefixStore>(prefix, base);
  try {
    if (g->backend == "gloo") {
#ifdef USE_C10D_GLOO
      auto opts = c10d::ProcessGroupGloo::Options::create(g->timeout);
      std::string ifname = Str(o, "ifname");
      std::string bind = Str(o, "bindHost");
      if (!ifname.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
      else if (!bind.empty()) opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(bind));
      else opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
      opts->threads = static_cast<int>(Int(o, "threads", 2));
      g->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(g->store, g->rank, g->size, opts);
#else
      throw std::runtime_error("this addon was built without Gloo (libgloo-dev and USE_C10D_GLOO)");
#endif
    } else if (g->backend == "nccl") {
#ifdef USE_C10D_NCCL
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = g->timeout;
      g->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(g->store, g->rank, g->size, opts);
#else
      throw std::runtime_error("this addon was built without NCCL (it needs a CUDA libtorch with NCCL: LIBTORCH=/path)");
#endif
    } else {
      throw std::invalid_argument("unknown backend '" + g->backend + "' (gloo or nccl)");
    }
    StartHeartbeat(*g);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, where + ": creating the " + g->backend + " process group failed: " + Text(e));
  }
  {
    std::lock_guard<std::mutex> lock(groupsMutex);
    g->id = nextGroupId++;
    groups[g->id] = g;
  }
  {
    std::lock_guard<std::mutex> lock(beatsMutex);
    static bool registered = false;
    if (!registered) {
      registered = true;
      std::atexit(StopAllHeartbeats);
      previousTerminate = std::set_terminate(OnTerminate);
    }
    liveGroups.push_back(g);
  }
  auto ext = Napi::External<std::shared_ptr<Group>>::New(env, new std::shared_ptr<Group>(g),
                                                         [](Napi::Env, std::shared_ptr<Group>* p) { delete p; });
  ext.TypeTag(&kGroupTag);
  return ext;
}

// Stops the heartbeat and drops the backend; the group is unusable afterwards.
DML_FN(distDestroy) {
  auto ext = a.info()[0].As<Napi::External<std::shared_ptr<Group>>>();
  if (!a.info()[0].IsExternal() || !ext.CheckTypeTag(&kGroupTag)) throw Napi::TypeError::New(a.env(), "distDestroy: expected a process group");
  std::shared_ptr<Group> g = *ext.Data();
  if (g->destroyed) return a.env().Undefined();
  g->destroyed = true;
  if (g->heartbeat) g->heartbeat->Stop();
#ifdef USE_C10D_GLOO
  g->gloo.reset();
#endif
#ifdef USE_C10D_NCCL
  g->nccl.reset();
#endif
  g->store.reset();
  return a.env().Undefined();
}

// distBroadcast(g, tensors, root, bucketBytes): in place, coalesced.
DML_FN(distBroadcast) {
  auto g = GroupArg(a, 0);
  auto ts = Detached(a.tensors(1));
  int64_t root = a.i64(2);
  int64_t cap = a.i64(3, 64 << 20);
  if (root < 0 || root >= g->size) throw Napi::RangeError::New(a.env(), "broadcast: root " + std::to_string(root) + " is not a rank");
  CollectiveJs(a.env(), *g, "broadcast", [&] {
    Coalesced(ts, cap, [&](at::Tensor& flat) {
      std::vector<at::Tensor> one{flat};
      c10d::BroadcastOptions o;
      o.rootRank = root;
      return g->Call([&](auto& pg) { return pg.broadcast(one, o); });
    });
  });
  return a.env().Undefined();
}

// distAllReduce(g, tensors, op, bucketBytes): in place, coalesced.
DML_FN(distAllReduce) {
  auto g = GroupArg(a, 0);
  auto ts = Detached(a.tensors(1));
  c10d::ReduceOp op = ReduceOpOf(a.has(2) ? a.str(2) : "sum");
  int64_t cap = a.i64(3, 64 << 20);
  CollectiveJs(a.env(), *g, "all-reduce", [&] {
    Coalesced(ts, cap, [&](at::Tensor& flat) { return AllReduceFlat(*g, flat, op); });
  });
  return a.env().Undefined();
}

// distAllGather(g, t) -> one tensor per rank (every rank's t must have the same shape and dtype).
DML_FN(distAllGather) {
  auto g = GroupArg(a, 0);
  at::Tensor x = a.t(1).detach().contiguous();
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < g->size; r++) out[0].push_back(at::empty_like(x));
  std::vector<at::Tensor> in{x};
  CollectiveJs(a.env(), *g, "all-gather", [&] { Wait(g->Call([&](auto& pg) { return pg.allgather(out, in); })); });
  return List(a.env(), out[0]);
}

DML_FN(distBarrier) {
  auto g = GroupArg(a, 0);
  CollectiveJs(a.env(), *g, "barrier", [&] { Wait(g->Call([&](auto& pg) { return pg.barrier(); })); });
  return a.env().Undefined();
}

// distAllReduceAutograd(g, x) -> sum over ranks, differentiable (the gradient is summed too).
DML_FN(distAllReduceAutograd) {
  auto g = GroupArg(a, 0);
  try {
    return Wrap(a.env(), AllReduceSum::apply(a.t(1), g->id));
  } catch (const std::exception&) {
    if (g->failure) ThrowFailure(a.env(), *g->failure);
    throw;
  }
}

// distReduceGrads(g, params, bucketBytes, divisor) -> { tensors, bytes }: sums the gradients of the
// parameters that have one over ranks, in flattened buckets, then divides by divisor. Every rank must
// have gradients for the same parameters (checked: a mismatch would pair different buckets).
DML_FN(distReduceGrads) {
  auto g = GroupArg(a, 0);
  auto params = a.tensors(1);
  int64_t cap = a.i64(2);
  double divisor = a.f64(3);
  std::vector<at::Tensor> grads;
  int64_t mask = 0, bytes = 0;
  for (size_t k = 0; k < params.size(); k++) {
    const at::Tensor& gr = params[k].grad();
    if (!gr.defined()) continue;
    grads.push_back(gr);
    mask = mask * 1000003 + static_cast<int64_t>(k) + 1;
    bytes += gr.numel() * gr.element_size();
  }
  CollectiveJs(a.env(), *g, "gradient all-reduce", [&] {
    at::Tensor fp = at::tensor({static_cast<int64_t>(grads.size()), mask, -static_cast<int64_t>(grads.size()), -mask}, at::kLong);
    Wait(AllReduceFlat(*g, fp, c10d::ReduceOp::MAX));
    auto v = fp.accessor<int64_t, 1>();
    if (v[0] != -v[2] || v[1] != -v[3]) {
      throw std::runtime_error("ranks have gradients for different parameters (" + std::to_string(grads.size())
        + " here); every rank must use the same parameters in each step");
    }
    Coalesced(grads, cap, [&](at::Tensor& flat) { return AllReduceFlat(*g, flat, c10d::ReduceOp::SUM); });
  });
  if (divisor != 1.0) {
    at::NoGradGuard ng;
    for (auto& gr : grads) gr.div_(divisor);
  }
  auto r = Napi::Object::New(a.env());
  r.Set("tensors", Napi::Number::New(a.env(), static_cast<double>(grads.size())));
  r.Set("bytes", Napi::Number::New(a.env(), static_cast<double>(bytes)));
  return r;
}

// Gradient all-reduce overlapped with the backward pass, as DDP's Reducer does: a post-hook on
// each parameter's gradient accumulator counts it ready, and a bucket whose gradients are all ready
// is flattened and its all-reduce started (Gloo runs it on its own threads) while autograd goes on
// with the earlier layers. Buckets start in a fixed order, the same on every rank. Their layout is
// learnt at the first step: the parameters that got a gradient, in the order rank 0 saw them
// arrive (DDP rebuilds its buckets the same way), so a parameter that never gets one (the
// classifier under a pairwise loss) does not hold the others back.
namespace {
struct Reducer : std::enable_shared_from_this<Reducer> {
  std::shared_ptr<Group> g;
  std::vector<at::Tensor> params;
  std::vector<c10::intrusive_ptr<torch::autograd::Node>> accumulators;  // kept alive: they carry the hooks
  std::vector<uintptr_t> hookKeys;
  int64_t cap = 25 << 20, firstCap = 1 << 20;
  bool armed = false, built = false;
  std::vector<int64_t> arrival;  // before the layout is built: the order gradients arrived in
  struct Bucket {
    std::vector<size_t> members;
    int pending = 0;
    at::Tensor flat;
    WorkPtr work;
  };
  std::vector<Bucket> buckets;
  std::vector<int> bucketOf;
  size_t next = 0, launchedInBackward = 0;

  void Ready(size_t i) {
    if (!armed) return;
    if (!built) {
      arrival.push_back(static_cast<int64_t>(i));
      return;
    }
    int b = bucketOf[i];
    if (b < 0) return;  // outside the layout: finish() reduces it
    if (--buckets[b].pending == 0) {
      while (next < buckets.size() && buckets[next].pending == 0) {
        Launch(buckets[next++]);
        launchedInBackward++;
      }
    }
  }
  // Flattens the bucket's present gradients and starts their all-reduce.
  void Launch(Bucket& b) {
    std::vector<at::Tensor> views;
    for (size_t m : b.members) {
      const at::Tensor& gr = params[m].grad();
      if (gr.defined()) views.push_back(gr.reshape({-1}));
    }
    if (views.empty()) return;
    b.flat = at::cat(views);
    b.work = AllReduceFlat(*g, b.flat, c10d::ReduceOp::SUM);
  }
};

const napi_type_tag kReducerTag = {0x2b7c9e4d1f3a5b6cULL, 0x7d8e9fa0b1c2d3e4ULL};

std::shared_ptr<Reducer> ReducerArg(const Args& a, size_t i) {
  if (!a.info()[i].IsExternal()) throw Napi::TypeError::New(a.env(), "argument " + std::to_string(i) + ": expected a gradient reducer");
  auto ext = a.info()[i].As<Napi::External<std::shared_ptr<Reducer>>>();
  if (!ext.CheckTypeTag(&kReducerTag)) throw Napi::TypeError::New(a.env(), "argument " + std::to_string(i) + ": expected a gradient reducer");
  return *ext.Data();
}

void RemoveHooks(Reducer& r) {
  for (size_t k = 0; k < r.accumulators.size(); k++) r.accumulators[k]->del_post_hook(r.hookKeys[k]);
  r.accumulators.clear();
  r.hookKeys.clear();
}
}  // namespace

// distReducerNew(g, params, bucketBytes, firstBucketBytes) -> reducer; params must be leaves.
DML_FN(distReducerNew) {
  auto g = GroupArg(a, 0);
  auto r = std::make_shared<Reducer>();
  r->g = g;
  r->params = a.tensors(1);
  r->cap = a.i64(2);
  r->firstCap = a.i64(3);
  std::weak_ptr<Reducer> weak = r;
  for (size_t i = 0; i < r->params.size(); i++) {
    const at::Tensor& p = r->params[i];
    if (!p.requires_grad() || !p.is_leaf()) throw Napi::Error::New(a.env(), "distReducerNew: parameter " + std::to_string(i) + " is not a leaf that requires grad");
    auto acc = torch::autograd::impl::grad_accumulator(p);
    uintptr_t key = acc->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [weak, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          if (auto self = weak.lock()) self->Ready(i);
          return outputs;
        }));
    r->accumulators.push_back(std::move(acc));
    r->hookKeys.push_back(key);
  }
  auto ext = Napi::External<std::shared_ptr<Reducer>>::New(a.env(), new std::shared_ptr<Reducer>(r), [](Napi::Env, std::shared_ptr<Reducer>* p) {
    RemoveHooks(**p);
    delete p;
  });
  ext.TypeTag(&kReducerTag);
  return ext;
}

// Call before backward: gradients arriving from now on start their buckets' all-reduces.
DML_FN(distReducerPrepare) {
  auto r = ReducerArg(a, 0);
  if (r->g->destroyed) throw Napi::Error::New(a.env(), "the process group was destroyed");
  r->armed = true;
  r->arrival.clear();
  r->launchedInBackward = 0;
  return a.env().Undefined();
}

// Call after backward: starts what is left, waits, and leaves every rank with the sum of the
// gradients divided by divisor. -> { tensors, bytes, buckets, overlapped }
DML_FN(distReducerFinish) {
  auto r = ReducerArg(a, 0);
  double divisor = a.f64(1);
  Group& g = *r->g;
  r->armed = false;
  std::vector<size_t> present;
  int64_t mask = 0, bytes = 0;
  for (size_t k = 0; k < r->params.size(); k++) {
    const at::Tensor& gr = r->params[k].grad();
    if (!gr.defined()) continue;
    present.push_back(k);
    mask = mask * 1000003 + static_cast<int64_t>(k) + 1;
    bytes += gr.numel() * gr.element_size();
  }
  CollectiveJs(a.env(), g, "gradient all-reduce", [&] {
    if (!r->built) {
      // First step: agree on the layout (rank 0's arrival order), reduce without overlap.
      at::Tensor fp = at::tensor({static_cast<int64_t>(present.size()), mask, -static_cast<int64_t>(present.size()), -mask}, at::kLong);
      Wait(AllReduceFlat(g, fp, c10d::ReduceOp::MAX));
      auto v = fp.accessor<int64_t, 1>();
      if (v[0] != -v[2] || v[1] != -v[3]) throw std::runtime_error("ranks have gradients for different parameters; every rank must use the same parameters in each step");
      std::vector<int64_t> order = r->arrival;
      // Gradients that arrived without a hook firing (none expected) go last, in parameter order.
      for (size_t k : present) if (std::find(order.begin(), order.end(), static_cast<int64_t>(k)) == order.end()) order.push_back(static_cast<int64_t>(k));
      if (order.size() != present.size()) throw std::runtime_error("gradient arrival order does not match the gradients present");
      at::Tensor ot = at::tensor(order, at::kLong);
      std::vector<at::Tensor> one{ot};
      c10d::BroadcastOptions bo;
      bo.rootRank = 0;
      Wait(g.Call([&](auto& pg) { return pg.broadcast(one, bo); }));
      r->bucketOf.assign(r->params.size(), -1);
      r->buckets.clear();
      auto acc = ot.accessor<int64_t, 1>();
      int64_t size = 0;
      for (int64_t k = 0; k < acc.size(0); k++) {
        size_t m = static_cast<size_t>(acc[k]);
        const at::Tensor& gr = r->params[m].grad();
        int64_t nb = gr.numel() * gr.element_size();
        // A small first bucket (DDP's 1 MiB) gets communication going early.
        int64_t limit = r->buckets.size() == 1 ? r->firstCap : r->cap;
        if (r->buckets.empty() || size + nb > limit
            || r->params[r->buckets.back().members.back()].scalar_type() != r->params[m].scalar_type()) {
          r->buckets.emplace_back();
          size = 0;
        }
        r->buckets.back().members.push_back(m);
        r->bucketOf[m] = static_cast<int>(r->buckets.size() - 1);
        size += nb;
      }
      r->built = true;
      for (auto& b : r->buckets) r->Launch(b);
    } else {
      for (; r->next < r->buckets.size(); r->next++) r->Launch(r->buckets[r->next]);
      // Every rank must have gradients for the same parameters (then they launched the same
      // buckets); a parameter with a gradient outside the layout is reduced on its own.
      at::Tensor fp = at::tensor({mask, -mask}, at::kLong);
      Wait(AllReduceFlat(g, fp, c10d::ReduceOp::MAX));
      auto v = fp.accessor<int64_t, 1>();
      if (v[0] != -v[1]) throw std::runtime_error("ranks have gradients for different parameters; every rank must use the same parameters in each step");
      std::vector<at::Tensor> extra;
      for (size_t k : present) if (r->bucketOf[k] < 0) extra.push_back(r->params[k].grad());
      if (!extra.empty()) Coalesced(extra, r->cap, [&](at::Tensor& flat) { return AllReduceFlat(g, flat, c10d::ReduceOp::SUM); });
    }
    for (auto& b : r->buckets) if (b.work) Wait(b.work);
  });
  at::NoGradGuard ng;
  for (auto& b : r->buckets) {
    if (!b.flat.defined()) continue;
    if (divisor != 1.0) b.flat.div_(divisor);
    int64_t off = 0;
    for (size_t m : b.members) {
      at::Tensor gr = r->params[m].grad();
      if (!gr.defined()) continue;
      gr.copy_(b.flat.narrow(0, off, gr.numel()).view(gr.sizes()));
      off += gr.numel();
    }
    b.flat = at::Tensor();
    b.work.reset();
  }
  if (divisor != 1.0) {
    for (size_t k : present) if (r->bucketOf[k] < 0) r->params[k].mutable_grad().div_(divisor);
  }
  r->next = 0;
  for (auto& b : r->buckets) b.pending = static_cast<int>(b.members.size());
  auto o = Napi::Object::New(a.env());
  o.Set("tensors", Napi::Number::New(a.env(), static_cast<double>(present.size())));
  o.Set("bytes", Napi::Number::New(a.env(), static_cast<double>(bytes)));
  o.Set("buckets", Napi::Number::New(a.env(), static_cast<double>(r->buckets.size())));
  o.Set("overlapped", Napi::Number::New(a.env(), static_cast<double>(r->launchedInBackward)));
  return o;
}

DML_FN(distReducerDestroy) {
  auto r = ReducerArg(a, 0);
  RemoveHooks(*r);
  r->armed = false;
  return a.env().Undefined();
}

// After the job's final barrier: a store connection that breaks from now on is no failure.
DML_FN(distLeaving) {
  auto g = GroupArg(a, 0);
  g->leaving = true;
  return a.env().Undefined();
}

DML_FN(distStoreSet) {
  auto g = GroupArg(a, 0);
  std::string k = a.str(1), v = a.str(2);
  g->store->set(k, std::vector<uint8_t>(v.begin(), v.end()));
  return a.env().Undefined();
}

// distStoreGet(g, key, timeoutMs) -> the value, waiting for it up to the timeout.
DML_FN(distStoreGet) {
  auto g = GroupArg(a, 0);
  std::string k = a.str(1);
  milliseconds t(a.i64(2, g->timeout.count()));
  try {
    g->store->wait({k}, t);
  } catch (const std::exception& e) {
    throw Napi::Error::New(a.env(), "rank " + std::to_string(g->rank) + ": store key '" + k + "' did not appear within "
      + std::to_string(t.count()) + " ms: " + Text(e));
  }
  auto v = g->store->get(k);
  return Napi::String::New(a.env(), std::string(v.begin(), v.end()));
}

DML_FN(distStoreAdd) {
  auto g = GroupArg(a, 0);
  return Napi::Number::New(a.env(), static_cast<double>(g->store->add(a.str(1), a.i64(2))));
}

// A rank about to fail says why, so the others can repeat it when they name it lost.
DML_FN(distReportError) {
  auto g = GroupArg(a, 0);
  std::string v = a.str(1);
  try {
    g->store->set(kErrorPrefix + std::to_string(g->rank), std::vector<uint8_t>(v.begin(), v.end()));
  } catch (const std::exception&) {
    return Napi::Boolean::New(a.env(), false);
  }
  return Napi::Boolean::New(a.env(), true);
}

DML_FN(distFailure) {
  auto g = GroupArg(a, 0);
  if (!g->failure) return a.env().Null();
  auto o = Napi::Object::New(a.env());
  o.Set("op", Napi::String::New(a.env(), g->failure->op));
  o.Set("message", Napi::String::New(a.env(), g->failure->message));
  auto lost = Napi::Array::New(a.env(), g->failure->lost.size());
  for (size_t k = 0; k < g->failure->lost.size(); k++) lost.Set(static_cast<uint32_t>(k), Napi::Number::New(a.env(), g->failure->lost[k]));
  o.Set("lostRanks", lost);
  return o;
}

void RegisterDistributed(Napi::Env env, Napi::Object e) {
  (void)env;
  DML_EXPORT(e, distBackends); DML_EXPORT(e, distInit); DML_EXPORT(e, distDestroy); DML_EXPORT(e, distBroadcast);
  DML_EXPORT(e, distAllReduce); DML_EXPORT(e, distAllGather); DML_EXPORT(e, distBarrier);
  DML_EXPORT(e, distAllReduceAutograd); DML_EXPORT(e, distReduceGrads); DML_EXPORT(e, distStoreSet);
  DML_EXPORT(e, distStoreGet); DML_EXPORT(e, distStoreAdd); DML_EXPORT(e, distReportError); DML_EXPORT(e, distFailure);
  DML_EXPORT(e, distLeaving); DML_EXPORT(e, distReducerNew); DML_EXPORT(e, distReducerPrepare); DML_EXPORT(e, distReducerFinish); DML_EXPORT(e, distReducerDestroy);
}

}  // namespace dml
