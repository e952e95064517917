#include "comm/group.h"

#include <algorithm>
#include <thread>
#include <variant>

namespace loom {
namespace {

struct GroupEntry {
  Communicator::Impl* comm;
  Stream* stream;
  std::variant<Operation, PointToPoint> call;
};

struct GroupState {
  int depth = 0;
  std::vector<GroupEntry> entries;
};
thread_local GroupState t_group;

// Turns one communicator's recorded calls into operations; runs of
// point-to-point calls fuse into one.
std::vector<Operation> operationsFor(Communicator::Impl* comm, std::vector<GroupEntry>& entries) {
  std::vector<Operation> ops;
  std::vector<PointToPoint> run;
  auto flush = [&] {
    if (!run.empty()) ops.push_back(fusePointToPoint(*comm, run));
    run.clear();
  };
  for (GroupEntry& e : entries) {
    if (e.comm != comm) continue;
    if (auto* p = std::get_if<PointToPoint>(&e.call)) {
      run.push_back(*p);
    } else {
      flush();
      ops.push_back(std::move(std::get<Operation>(e.call)));
    }
  }
  flush();
  return ops;
}

}  // namespace

int groupDepth() { return t_group.depth; }

Status recordGroupOperation(Communicator::Impl& comm, Operation operation, Stream* stream) {
  t_group.entries.push_back(GroupEntry{&comm, stream, std::move(operation)});
  return Status::ok();
}

Status recordGroupPointToPoint(Communicator::Impl& comm, const PointToPoint& call, Stream* stream) {
  t_group.entries.push_back(GroupEntry{&comm, stream, call});
  return Status::ok();
}

Operation fusePointToPoint(Communicator::Impl& comm, const std::vector<PointToPoint>& calls) {
  Operation op;
  op.signature = CallSignature{CollectiveKind::kSendRecv, DataType::kUint8, RedOpKind::kSum, 0, 0};
  op.buffers = {nullptr, nullptr, nullptr};
  op.schedule.rank = comm.rank;
  op.schedule.nranks = comm.nranks;
  op.schedule.channels.resize(1);
  auto& steps = op.schedule.channels[0].steps;
  for (int pass = 0; pass < 2; ++pass) {
    for (const PointToPoint& c : calls) {
      if (c.isSend != (pass == 0)) continue;
      auto buffer = static_cast<BufferId>(op.buffers.size());
      op.buffers.push_back(c.buffer);
      Slice slice{buffer, 0, c.bytes};
      steps.push_back(c.isSend ? Step::send(c.peer, slice) : Step::recv(c.peer, slice));
    }
  }
  return op;
}

Status groupStart() {
  ++t_group.depth;
  return Status::ok();
}

Status groupEnd() {
  if (t_group.depth == 0) return Status::invalidUsage("groupEnd() without a matching groupStart()");
  if (--t_group.depth > 0) return Status::ok();
  std::vector<GroupEntry> entries = std::move(t_group.entries);
  t_group.entries.clear();

  std::vector<Communicator::Impl*> comms;
  for (const GroupEntry& e : entries) {
    if (std::find(comms.begin(), comms.end(), e.comm) == comms.end()) comms.push_back(e.comm);
  }
  auto streamOf = [&](Communicator::Impl* c) {
    for (const GroupEntry& e : entries) {
      if (e.comm == c) return e.stream;
    }
    return static_cast<Stream*>(nullptr);
  };
  // Several communicators driven from this one thread (ranks as threads, as
  // with ncclCommInitAll) must run at once, or the first would wait forever
  // for the others; synchronous ones therefore each get a thread.
  std::vector<Status> results(comms.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < comms.size(); ++i) {
    Stream* stream = streamOf(comms[i]);
    std::vector<Operation> ops = operationsFor(comms[i], entries);
    if (stream != nullptr || comms.size() == 1) {
      results[i] = submitOperations(*comms[i], std::move(ops), stream);
    } else {
      threads.emplace_back([&results, i, c = comms[i], ops = std::move(ops)]() mutable {
        results[i] = submitOperations(*c, std::move(ops), nullptr);
      });
    }
  }
  for (std::thread& t : threads) t.join();
  for (const Status& s : results) LOOM_RETURN_IF_ERROR(s);
  return Status::ok();
}

}  // namespace loom
