#include "support/schedule_checks.h"

#include <gtest/gtest.h>

#include <sstream>
#include <utility>

#include "schedule/verifier.h"

namespace loom::testing {
namespace {

void printList(std::ostream& os, const std::vector<int>& v) {
  os << "{";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  os << "}";
}

}  // namespace

std::string describeConfig(const CollectiveShape& shape, const BuildOptions& options) {
  std::ostringstream os;
  os << collectiveName(shape.kind) << " nranks=" << shape.nranks;
  if (!options.groupOf.empty()) {
    os << " groupOf=";
    printList(os, options.groupOf);
  }
  os << " count=" << shape.count;
  if (shape.kind == CollectiveKind::kBroadcast || shape.kind == CollectiveKind::kReduce)
    os << " root=" << shape.root;
  os << " channels=" << options.channels << " pipelineElements=" << options.pipelineElements;
  for (size_t o = 0; o < options.ringOrders.size(); ++o) {
    os << (o == 0 ? " ringOrders={" : ",");
    printList(os, options.ringOrders[o]);
    if (o + 1 == options.ringOrders.size()) os << "}";
  }
  return os.str();
}

std::string describeConfig(const CollectiveShape& shape, const BuildOptions& options, bool inPlace) {
  return describeConfig(shape, options) + (inPlace ? " in-place" : " out-of-place");
}

std::string buildSchedules(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& options,
                           std::vector<Schedule>* out) {
  out->clear();
  for (int r = 0; r < shape.nranks; ++r) {
    Result<Schedule> s = build(shape, r, options);
    if (!s.isOk()) return "rank " + std::to_string(r) + ": " + s.status().toString();
    out->push_back(std::move(s).value());
  }
  return "";
}

std::vector<Schedule> buildSchedulesOrFail(ScheduleBuilder build, const CollectiveShape& shape,
                                           const BuildOptions& options) {
  std::vector<Schedule> scheds;
  const std::string problem = buildSchedules(build, shape, options, &scheds);
  if (problem.empty()) return scheds;
  ADD_FAILURE() << describeConfig(shape, options) << ": " << problem;
  return {};
}

std::string checkSchedules(const CollectiveShape& shape, const BuildOptions& options,
                           const std::vector<Schedule>& scheds, size_t scratchLimit) {
  for (const Schedule& s : scheds) {
    const std::string who = "rank " + std::to_string(s.rank);
    if (s.channels.size() > static_cast<size_t>(options.channels))
      return who + " uses " + std::to_string(s.channels.size()) + " channels, more than options.channels";
    if (s.scratchCount > scratchLimit)
      return who + " asks for " + std::to_string(s.scratchCount) + " scratch elements, more than " +
             std::to_string(scratchLimit);
    if (shape.count == 0 && (s.stepCount() != 0 || s.scratchCount != 0))
      return who + ": count 0 must give an empty schedule and no scratch";
    for (const Channel& ch : s.channels) {
      for (const Step& st : ch.steps) {
        if (st.kind != StepKind::kSend && st.kind != StepKind::kRecv && st.kind != StepKind::kRecvReduce) continue;
        const size_t len = st.kind == StepKind::kSend ? st.src.count : st.dst.count;
        if (len == 0) return who + " has a zero-length " + stepKindName(st.kind);
        if (options.pipelineElements > 0 && len > options.pipelineElements)
          return who + " moves " + std::to_string(len) + " elements in one message, more than pipelineElements";
      }
    }
  }
  return "";
}

std::string buildAndCheck(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& options,
                          size_t scratchLimit, std::vector<Schedule>* out) {
  std::string problem = buildSchedules(build, shape, options, out);
  if (problem.empty()) problem = checkSchedules(shape, options, *out, scratchLimit);
  return problem.empty() ? "" : describeConfig(shape, options) + ": " + problem;
}

std::string verifyBothForms(const CollectiveShape& shape, const BuildOptions& options,
                            const std::vector<Schedule>& scheds) {
  for (bool inPlace : {false, true}) {
    const Status st = verifySchedules(shape, scheds, inPlace);
    if (st.isOk()) continue;
    std::string msg = describeConfig(shape, options, inPlace) + ": " + st.toString();
    size_t steps = 0;
    for (const Schedule& s : scheds) steps += s.stepCount();
    if (steps <= 200)
      for (const Schedule& s : scheds) msg += "\n" + s.toString();
    return msg;
  }
  return "";
}

std::string buildAndVerify(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& options,
                           size_t scratchLimit) {
  std::vector<Schedule> scheds;
  const std::string problem = buildAndCheck(build, shape, options, scratchLimit, &scheds);
  if (!problem.empty()) return problem;
  return verifyBothForms(shape, options, scheds);
}

std::string rejectionMessage(ScheduleBuilder build, const CollectiveShape& shape, int rank,
                             const BuildOptions& options) {
  Result<Schedule> s = build(shape, rank, options);
  EXPECT_FALSE(s.isOk()) << describeConfig(shape, options) << " rank " << rank << " was not rejected";
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << s.status().toString();
  return s.status().message();
}

}  // namespace loom::testing
