// Building every rank's schedule for one configuration and proving it, for
// the tests of schedule builders.
//
// A configuration passes when every rank builds, the schedules pass the
// checks the verifier cannot make from the outside (checkSchedules), and the
// verifier proves them out-of-place and in-place. The checks return "" or
// what went wrong and record no GoogleTest failure themselves, so they can
// run on several threads at once.
#pragma once

#include <string>
#include <vector>

#include "algorithms/registry.h"
#include "schedule/schedule.h"

namespace loom::testing {

// "AllReduce nranks=4 count=10 channels=2 pipelineElements=3 ..." (with
// root, groupOf and ringOrders where they apply) for failure messages.
std::string describeConfig(const CollectiveShape& shape, const BuildOptions& options);
std::string describeConfig(const CollectiveShape& shape, const BuildOptions& options, bool inPlace);

// Every rank's schedule into *out, in rank order; "" or "rank r: <error>" for
// the first rank that fails.
std::string buildSchedules(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& options,
                           std::vector<Schedule>* out);

// The same for tests that go on to pick the schedules apart: a rank that
// fails to build is a test failure, and the result is then empty.
std::vector<Schedule> buildSchedulesOrFail(ScheduleBuilder build, const CollectiveShape& shape,
                                           const BuildOptions& options);

// What the verifier cannot see from the outside: no more channels than asked
// for, at most `scratchLimit` scratch elements per rank, nothing at all to do
// for count 0, no zero-length messages and none longer than
// options.pipelineElements.
std::string checkSchedules(const CollectiveShape& shape, const BuildOptions& options,
                           const std::vector<Schedule>& scheds, size_t scratchLimit);

// buildSchedules, then checkSchedules; failures start with describeConfig.
std::string buildAndCheck(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& options,
                          size_t scratchLimit, std::vector<Schedule>* out);

// verifySchedules out-of-place, then in-place; a failure names the form and,
// when they are short enough to read, lists the schedules.
std::string verifyBothForms(const CollectiveShape& shape, const BuildOptions& options,
                            const std::vector<Schedule>& scheds);

// buildAndCheck, then verifyBothForms.
std::string buildAndVerify(ScheduleBuilder build, const CollectiveShape& shape, const BuildOptions& options,
                           size_t scratchLimit);

// For the tests of what a builder refuses: a test failure unless building
// `rank`'s schedule fails with kInvalidArgument; returns the message.
std::string rejectionMessage(ScheduleBuilder build, const CollectiveShape& shape, int rank,
                             const BuildOptions& options = {});

}  // namespace loom::testing
