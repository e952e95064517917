// Proves that a set of per-rank schedules computes a collective.
//
// The verifier runs every rank's schedule on symbolic data instead of bytes:
// an element is "the reduction of index i over this set of ranks". It follows
// the executor's semantics exactly (sends posted asynchronously, blocking
// receives, FIFO matching per sender/receiver/channel, and writes that wait
// for earlier overlapping sends to be received), so a schedule that passes
// cannot deadlock, race or miscount a contribution on any rank count, size or
// root it was verified for. Symbols are kept as runs over contiguous indices,
// so the cost grows with the number of steps, not the number of elements.
#pragma once

#include <vector>

#include "loom/status.h"
#include "schedule/schedule.h"

namespace loom {

// `schedules[r]` is rank r's schedule. `inPlace` selects NCCL's in-place form
// of the call (see inPlaceInputOffset). Returns OK, or an error naming the
// rank, channel, step and element that went wrong and what was expected.
Status verifySchedules(const CollectiveShape& shape, const std::vector<Schedule>& schedules, bool inPlace);

}  // namespace loom
