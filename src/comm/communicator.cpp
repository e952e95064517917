#include "loom/communicator.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "algorithms/registry.h"
#include "bootstrap/bootstrap_root.h"
#include "comm/communicator_impl.h"
#include "comm/group.h"
#include "device/cuda_probe.h"
#include "common/config.h"
#include "common/logging.h"
#include "exec/host_stream.h"

namespace loom {

// ---- UniqueId and creation ------------------------------------------------

Result<UniqueId> createUniqueId() {
  UniqueIdFields f;
  LOOM_ASSIGN_OR_RETURN(f.token, randomToken());
  LOOM_ASSIGN_OR_RETURN(Token job, randomToken());
  std::memcpy(&f.jobId, job.bytes, sizeof(f.jobId));
  LOOM_ASSIGN_OR_RETURN(SocketAddress root, chooseLocalAddress());
  root.setPort(0);
  LOOM_RETURN_IF_ERROR(startBootstrapRoot(root, f.token));
  f.root = WireAddress::from(root);
  return encodeUniqueId(f);
}

namespace {

// Groups ranks by host and records what algorithms may rely on.
void describeHosts(Communicator::Impl& impl) {
  std::vector<std::string> hosts;
  for (const PeerInfo& p : impl.bootstrap->peers()) {
    auto it = std::find(hosts.begin(), hosts.end(), p.hostId);
    impl.groupOf.push_back(static_cast<int>(it - hosts.begin()));
    if (it == hosts.end()) hosts.push_back(p.hostId);
  }
  impl.algorithmContext.multipleGroups = hosts.size() > 1;
  impl.algorithmContext.directReach = hosts.size() == 1;
  LOOM_INFO(kInit, "%d rank(s) on %zu host(s)", impl.nranks, hosts.size());
}

// One-shot slots when every rank shares this host's memory and oneshot may run.
Status setUpOneShot(Communicator::Impl& impl, const AlgorithmOverride& allowed) {
  bool sharedMemory = impl.nranks > 1 && impl.algorithmContext.directReach && config().oneShotBytes > 0;
  for (int p = 0; sharedMemory && p < impl.nranks; ++p) {
    sharedMemory = impl.connections->transportTo(p) == TransportKind::kShm;
  }
  if (!sharedMemory) return Status::ok();
  auto candidates = allowed.candidates(CollectiveKind::kAllReduce, impl.algorithmContext);
  if (!candidates.isOk() || std::find(candidates.value().begin(), candidates.value().end(),
                                      findAlgorithm("oneshot")) == candidates.value().end()) {
    return Status::ok();
  }
  LOOM_ASSIGN_OR_RETURN(impl.oneShot, OneShotSlots::create(*impl.bootstrap, config().oneShotBytes));
  LOOM_INFO(kInit, "all-reduces up to %zu bytes run as one-shots through shared memory (LOOM_ONESHOT_BYTES)",
            impl.oneShot->slotBytes());
  return Status::ok();
}

Result<std::unique_ptr<Communicator::Impl>> join(const UniqueIdFields& id, int nranks, int rank,
                                                 const CommOptions& options) {
  if (nranks < 1) return Status::invalidArgument("nranks=%d: a communicator needs at least 1 rank", nranks);
  if (rank < 0 || rank >= nranks) {
    return Status::invalidArgument("rank=%d is out of range for nranks=%d (valid: 0..%d)", rank, nranks, nranks - 1);
  }
  setLogRank(rank);
  (void)cudaAvailability();  // logs once at INFO whether a GPU is usable
  auto impl = std::make_unique<Communicator::Impl>();
  impl->rank = rank;
  impl->nranks = nranks;
  impl->name = options.name;
  impl->channels = config().channels;
  auto allowed = AlgorithmOverride::parse(options.algorithm.empty() ? config().algorithm : options.algorithm);
  if (!allowed.isOk()) return allowed.status();
  auto boot = Bootstrap::join(id, rank, nranks);
  if (!boot.isOk()) return boot.status().withContext("rank " + std::to_string(rank) + " joining " + std::to_string(nranks) + " ranks");
  impl->bootstrap = std::move(boot.value());
  LOOM_ASSIGN_OR_RETURN(impl->connections, ConnectionTable::connect(*impl->bootstrap, impl->channels));
  // connect() ends with a barrier: every rank has its connections before any
  // sends, so no message can reach a rank that is still setting up.
  describeHosts(*impl);
  LOOM_RETURN_IF_ERROR(setUpOneShot(*impl, allowed.value()));
  LOOM_RETURN_IF_ERROR(setUpPlanner(*impl, std::move(allowed.value())));
  LOOM_INFO(kInit, "communicator %s: rank %d of %d ready", impl->name.c_str(), rank, nranks);
  return impl;
}

}  // namespace

Communicator::Communicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Communicator>> Communicator::create(int nranks, const UniqueId& id, int rank,
                                                           const CommOptions& options) {
  LOOM_ASSIGN_OR_RETURN(UniqueIdFields fields, decodeUniqueId(id));
  LOOM_ASSIGN_OR_RETURN(auto impl, join(fields, nranks, rank, options));
  return std::unique_ptr<Communicator>(new Communicator(std::move(impl)));
}

Result<std::unique_ptr<Communicator>> Communicator::createFromEnvironment(const CommOptions& options) {
  auto integer = [](const char* name) -> Result<int> {
    const char* v = std::getenv(name);
    if (v == nullptr || *v == '\0') return Status::invalidArgument("environment variable %s is not set", name);
    char* end = nullptr;
    long x = std::strtol(v, &end, 10);
    if (*end != '\0' || x < 0 || x > 1 << 24) return Status::invalidArgument("%s='%s' is not a valid number", name, v);
    return static_cast<int>(x);
  };
  LOOM_ASSIGN_OR_RETURN(int rank, integer("RANK"));
  LOOM_ASSIGN_OR_RETURN(int worldSize, integer("WORLD_SIZE"));
  LOOM_ASSIGN_OR_RETURN(int port, integer("MASTER_PORT"));
  const char* host = std::getenv("MASTER_ADDR");
  if (host == nullptr || *host == '\0') return Status::invalidArgument("environment variable MASTER_ADDR is not set");
  LOOM_ASSIGN_OR_RETURN(SocketAddress root, resolveAddress(host, port));

  UniqueIdFields f;
  std::string secret = config().secret;
  if (secret.empty()) {
    LOOM_WARN(kBootstrap, "LOOM_SECRET is not set: any process that reaches %s can join this job; set LOOM_SECRET",
              root.toString().c_str());
    secret = std::string("loom-default:") + host + ":" + std::to_string(port);
  }
  f.token = tokenFromSecret(secret);
  Token job = tokenFromSecret(secret + "/job");
  std::memcpy(&f.jobId, job.bytes, sizeof(f.jobId));
  f.root = WireAddress::from(root);
  if (rank == 0) {
    SocketAddress listen = root;
    LOOM_RETURN_IF_ERROR(startBootstrapRoot(listen, f.token).withContext("rank 0 starting the root at MASTER_ADDR:MASTER_PORT"));
  }
  return create(worldSize, encodeUniqueId(f), rank, options);
}

Communicator::~Communicator() {
  if (!impl_->abortRequested.load()) (void)finalize();
}

int Communicator::rank() const { return impl_->rank; }
int Communicator::size() const { return impl_->nranks; }

// ---- turn-taking ----------------------------------------------------------

uint64_t Communicator::Impl::takeTicket() {
  std::lock_guard<std::mutex> lock(mutex);
  return nextTicket++;
}

Status Communicator::Impl::runInTurn(uint64_t ticket, std::vector<Operation>& operations) {
  return runWorkInTurn(ticket, [&] {
    for (Operation& operation : operations) {
      Status s = runOperation(operation, *connections, oneShot.get(), abortRequested);
      if (!s.isOk()) return inContext(s, operation.signature);
    }
    return Status::ok();
  });
}

void Communicator::Impl::fail(const Status& status) {
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!failure.isOk()) return;
    failure = status;
    refusing.store(true);
  }
  LOOM_WARN(kColl, "%s", status.toString().c_str());
  connections->abortAll();
  if (oneShot != nullptr) oneShot->abort();
  bootstrap->abort();
}

Status Communicator::Impl::usable() {
  if (abortRequested.load()) return Status::aborted("the communicator was aborted");
  if (!refusing.load()) return Status::ok();  // the common case, without the lock
  std::lock_guard<std::mutex> lock(mutex);
  if (!failure.isOk()) return Status::make(failure.code(), "the communicator failed earlier: %s", failure.message().c_str());
  if (finalized) return Status::invalidUsage("the communicator was finalized; no more calls may be issued on it");
  return Status::ok();
}

Status Communicator::Impl::drain() {
  std::unique_lock<std::mutex> lock(mutex);
  turn.wait(lock, [&] { return servingTicket == nextTicket; });
  return failure;
}

Status submitOperations(Communicator::Impl& comm, std::vector<Operation> operations, Stream* stream) {
  uint64_t ticket = comm.takeTicket();
  if (stream == nullptr) return comm.runInTurn(ticket, operations);
  stream->impl()->enqueue([&comm, ticket, ops = std::move(operations)]() mutable {
    return comm.runInTurn(ticket, ops);
  });
  return Status::ok();
}

// ---- argument checks ------------------------------------------------------

namespace {

Status checkType(DataType type) {
  if (!isValidDataType(static_cast<int>(type))) {
    return Status::invalidArgument("datatype %d is not valid (expected 0..%d)", static_cast<int>(type), kNumDataTypes - 1);
  }
  return Status::ok();
}

Status checkOp(RedOp op) {
  int k = static_cast<int>(op.kind);
  if (k < 0 || k > static_cast<int>(RedOpKind::kPreMulSum)) {
    return Status::invalidArgument("reduction op %d is not valid", k);
  }
  return Status::ok();
}

// count * elementSize * multiplier must fit in memory the caller could own.
Status checkCount(size_t count, DataType type, size_t multiplier, const char* what) {
  size_t size = dataTypeSize(type);
  const size_t limit = static_cast<size_t>(PTRDIFF_MAX);
  if (count > limit / size / multiplier) {
    return Status::invalidArgument("%s=%zu elements of %s overflows the addressable size", what, count,
                                   dataTypeName(type));
  }
  return Status::ok();
}

Status checkBuffer(const void* p, size_t count, const char* what) {
  if (p == nullptr && count > 0) return Status::invalidArgument("%s is NULL but count is %zu", what, count);
  return Status::ok();
}

Status checkRank(int r, int nranks, const char* what) {
  if (r < 0 || r >= nranks) return Status::invalidArgument("%s=%d is out of range (valid: 0..%d)", what, r, nranks - 1);
  return Status::ok();
}

}  // namespace

// Runs or enqueues one collective, or records it in the open group.
static Status submitCollective(Communicator::Impl& c, Operation operation, Stream* stream) {
  if (groupDepth() > 0) return recordGroupOperation(c, std::move(operation), stream);
  std::vector<Operation> ops;
  ops.push_back(std::move(operation));
  return submitOperations(c, std::move(ops), stream);
}

// Builds the operation for a collective call and submits it (or records it
// in the open group).
static Status issueCollective(Communicator::Impl& c, CollectiveKind kind, const void* sendbuf, void* recvbuf,
                              size_t count, DataType type, RedOp op, int root, Stream* stream) {
  LOOM_RETURN_IF_ERROR(c.usable());
  LOOM_RETURN_IF_ERROR(checkType(type));
  LOOM_RETURN_IF_ERROR(checkOp(op));
  CollectiveShape shape{kind, c.nranks, count, root};
  size_t multiplier = std::max<size_t>(1, std::max(shape.inputCount(), shape.outputCount()) / std::max<size_t>(1, count));
  LOOM_RETURN_IF_ERROR(checkCount(count, type, count == 0 ? 1 : multiplier, "count"));
  if (kind == CollectiveKind::kBroadcast || kind == CollectiveKind::kReduce) {
    LOOM_RETURN_IF_ERROR(checkRank(root, c.nranks, "root"));
  }
  bool needSend = !(kind == CollectiveKind::kBroadcast && c.rank != root);
  bool needRecv = !(kind == CollectiveKind::kReduce && c.rank != root);
  if (needSend) LOOM_RETURN_IF_ERROR(checkBuffer(sendbuf, count, "sendbuff"));
  if (needRecv) LOOM_RETURN_IF_ERROR(checkBuffer(recvbuf, count, "recvbuff"));

  Operation operation;
  operation.signature = CallSignature{kind, type, op.kind, root, count};
  operation.op = op;
  operation.buffers = {const_cast<void*>(sendbuf), recvbuf, nullptr};
  operation.inputCount = needSend ? shape.inputCount() : 0;
  operation.resultCount = shape.reduces() && needRecv ? shape.outputCount() : 0;
  if (kind == CollectiveKind::kAllReduce && c.oneShot != nullptr &&
      count * dataTypeSize(type) <= c.oneShot->slotBytes()) {
    if (stream == nullptr && groupDepth() == 0) {  // the latency-critical case: no Operation, no allocation
      return c.runWorkInTurn(c.takeTicket(), [&] {
        return c.inContext(runOneShotAllReduce(*c.oneShot, operation.signature, op, sendbuf, recvbuf, c.nranks,
                                               c.abortRequested),
                           operation.signature);
      });
    }
    operation.oneShot = true;
    operation.schedule.rank = c.rank;
    operation.schedule.nranks = c.nranks;
    LOOM_TRACE(kColl, "AllReduce count=%zu %s: one-shot through shared memory", count, dataTypeName(type));
    return submitCollective(c, std::move(operation), stream);
  }

  LOOM_ASSIGN_OR_RETURN(PlanChoice choice, c.planner->choose(kind, count, dataTypeSize(type)));
  const Algorithm* algorithm = choice.algorithm;
  auto schedule = algorithm->build(shape, c.rank, c.planner->buildOptions(choice, dataTypeSize(type)));
  if (!schedule.isOk()) return schedule.status().withContext(std::string("building ") + algorithm->name);
  LOOM_TRACE(kColl, "%s count=%zu %s: algorithm %s, %d channel(s), %zu steps (predicted %.1f us)",
             collectiveName(kind), count, dataTypeName(type), algorithm->name, choice.channels,
             schedule.value().stepCount(), choice.predictedUs);
  operation.schedule = std::move(schedule.value());
  return submitCollective(c, std::move(operation), stream);
}

Status Communicator::allReduce(const void* sendbuf, void* recvbuf, size_t count, DataType type, RedOp op,
                               Stream* stream) {
  return issueCollective(*impl_, CollectiveKind::kAllReduce, sendbuf, recvbuf, count, type, op, 0, stream);
}
Status Communicator::broadcast(const void* sendbuf, void* recvbuf, size_t count, DataType type, int root,
                               Stream* stream) {
  return issueCollective(*impl_, CollectiveKind::kBroadcast, sendbuf, recvbuf, count, type, RedOp::sum(), root, stream);
}
Status Communicator::reduce(const void* sendbuf, void* recvbuf, size_t count, DataType type, RedOp op, int root,
                            Stream* stream) {
  return issueCollective(*impl_, CollectiveKind::kReduce, sendbuf, recvbuf, count, type, op, root, stream);
}
Status Communicator::allGather(const void* sendbuf, void* recvbuf, size_t sendcount, DataType type, Stream* stream) {
  return issueCollective(*impl_, CollectiveKind::kAllGather, sendbuf, recvbuf, sendcount, type, RedOp::sum(), 0, stream);
}
Status Communicator::reduceScatter(const void* sendbuf, void* recvbuf, size_t recvcount, DataType type, RedOp op,
                                   Stream* stream) {
  return issueCollective(*impl_, CollectiveKind::kReduceScatter, sendbuf, recvbuf, recvcount, type, op, 0, stream);
}
Status Communicator::allToAll(const void* sendbuf, void* recvbuf, size_t count, DataType type, Stream* stream) {
  return issueCollective(*impl_, CollectiveKind::kAllToAll, sendbuf, recvbuf, count, type, RedOp::sum(), 0, stream);
}

static Status issuePointToPoint(Communicator::Impl& c, bool isSend, void* buffer, size_t count, DataType type,
                                int peer, Stream* stream) {
  LOOM_RETURN_IF_ERROR(c.usable());
  LOOM_RETURN_IF_ERROR(checkType(type));
  LOOM_RETURN_IF_ERROR(checkCount(count, type, 1, "count"));
  LOOM_RETURN_IF_ERROR(checkRank(peer, c.nranks, "peer"));
  LOOM_RETURN_IF_ERROR(checkBuffer(buffer, count, isSend ? "sendbuff" : "recvbuff"));
  PointToPoint call{isSend, peer, buffer, count * dataTypeSize(type)};
  if (groupDepth() > 0) return recordGroupPointToPoint(c, call, stream);
  std::vector<Operation> ops;
  ops.push_back(fusePointToPoint(c, {call}));
  return submitOperations(c, std::move(ops), stream);
}

Status Communicator::send(const void* sendbuf, size_t count, DataType type, int peer, Stream* stream) {
  return issuePointToPoint(*impl_, true, const_cast<void*>(sendbuf), count, type, peer, stream);
}
Status Communicator::recv(void* recvbuf, size_t count, DataType type, int peer, Stream* stream) {
  return issuePointToPoint(*impl_, false, recvbuf, count, type, peer, stream);
}

// ---- split, finalize, abort ------------------------------------------------

Result<std::unique_ptr<Communicator>> Communicator::split(int color, int key, const CommOptions& options) {
  LOOM_RETURN_IF_ERROR(impl_->usable());
  LOOM_RETURN_IF_ERROR(impl_->drain());
  struct Entry {
    int32_t color, key;
    UniqueId id;
  };
  const int n = impl_->nranks, me = impl_->rank;
  std::vector<Entry> entries(n);
  entries[me].color = color < 0 ? -1 : color;
  entries[me].key = key;
  LOOM_RETURN_IF_ERROR(impl_->bootstrap->allGather(entries.data(), sizeof(Entry)));

  std::vector<int> members;  // old ranks with my color, in (key, rank) order
  for (int r = 0; r < n; ++r) {
    if (color >= 0 && entries[r].color == color) members.push_back(r);
  }
  std::stable_sort(members.begin(), members.end(), [&](int a, int b) { return entries[a].key < entries[b].key; });
  bool leader = !members.empty() && members.front() == me;
  Status idStatus;
  if (leader) {
    auto id = createUniqueId();
    if (id.isOk()) entries[me].id = id.value(); else idStatus = id.status();
  }
  // Second round: the leaders publish their new ids (a failed leader publishes
  // an empty id, which its members reject when decoding).
  LOOM_RETURN_IF_ERROR(impl_->bootstrap->allGather(entries.data(), sizeof(Entry)));
  LOOM_RETURN_IF_ERROR(idStatus);
  if (color < 0) return std::unique_ptr<Communicator>();
  int newRank = static_cast<int>(std::find(members.begin(), members.end(), me) - members.begin());
  return create(static_cast<int>(members.size()), entries[members.front()].id, newRank, options);
}

Status Communicator::finalize() {
  Status s = impl_->drain();
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->finalized = true;
  impl_->refusing.store(true);
  return s;
}

void Communicator::abort() {
  impl_->abortRequested.store(true);
  impl_->connections->abortAll();
  if (impl_->oneShot != nullptr) impl_->oneShot->abort();
  impl_->bootstrap->abort();
}

Status Communicator::asyncError() const {
  if (impl_->abortRequested.load()) return Status::aborted("the communicator was aborted");
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->failure;
}

}  // namespace loom
