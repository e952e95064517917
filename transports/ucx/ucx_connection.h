// UCX transport: one UCP stream endpoint per (pair of ranks, channel),
// carrying both directions, all driven by the communicator's one worker
// (ucx_context.h).
//
// Sending copies into a staging ring and posts stream sends from it; bytes
// count as taken only once a flush after them has completed, i.e. once they
// have left this process. That matters because UCX moves data only while its
// worker is progressed: a rank that returned from a collective and then sat in
// a barrier would otherwise strand its last bytes and hang the peer.
//
// Receiving hands out UCX's own receive buffers (ucp_stream_recv_data_nb), so
// the executor reduces straight out of them: no staging copy.
#pragma once

#include <memory>
#include <utility>

#include "transports/connection.h"
#include "transports/ucx/ucx_context.h"

namespace loom {

// Both directions of the stream on `endpoint`, which leads to `peerRank`.
std::pair<std::unique_ptr<SendConnection>, std::unique_ptr<RecvConnection>> makeUcxConnections(
    std::shared_ptr<UcxContext> context, ucp_ep_h endpoint, int peerRank);

}  // namespace loom
